"""App output pipes across a daemon restart: named in state.json, found and read again.

A pipe can be opened again through /proc/<pid>/fd/<n> of any process that holds it. Each app
record in state.json keeps the inodes of the app's open pipes (`saved`, see state.EXTRAS);
after re-adopting the app, the next daemon looks for each inode among the fds of the app's
process tree and opens it for reading (`resume`): reading resumes exactly where the dead
daemon stopped, since a reader consumes bytes only once they are in the files (pm/daemon/output/
logpipe.py). The app meanwhile never got EPIPE: its own end is read-write (pm/daemon/output/
pipes.py).

What this cannot keep: bytes still unread when the app and every process sharing its output
have exited while no daemon ran (a pipe ends with its last holder).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

from pm.daemon.core import process
from pm.daemon.output.pipes import KINDS

log = logging.getLogger("pm")


def saved(app: Any) -> list[list[Any]] | None:
    """What state.json keeps for app: [[kind, pipe inode], ...] of its open readers."""
    from pm.daemon.output import logpipe  # here: a daemon whose apps have no pipe needs none

    readers = logpipe.readers_of(app.unique_id)
    return [[reader.kind, reader.inode] for reader in readers] or None


def restore(app: Any, value: Any) -> None:
    """Keep the saved pipes on the rebuilt app until `resume` looks for them."""
    app.extras["pipes"] = value


def find(pids: Iterable[int], pipe_inode: int) -> int | None:
    """A new read end of the pipe with this inode, opened through the first of pids holding it."""
    link = f"pipe:[{pipe_inode}]"
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            path = f"/proc/{pid}/fd/{fd}"
            try:
                if os.readlink(path) == link:
                    return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError:
                continue
    return None


def resume(supervisor: Any) -> int:
    """Read again the pipes of the re-adopted apps; returns how many were found.

    Called after recovery: each app that is running again and had pipes saved gets a reader on
    the same pipe, found among the fds of its process and descendants.
    """
    from pm.daemon.output import logfiles as logs
    from pm.daemon.output import logpipe

    resumed = 0
    for app in supervisor.apps.values():
        wanted = app.extras.pop("pipes", None)
        if not wanted or app.pid == 0:
            continue
        tree = [app.pid, *process.descendants(app.pid)]
        for kind, pipe_inode in wanted:
            if kind not in KINDS or logpipe.reading(app.unique_id, pipe_inode):
                continue
            fd = find(tree, int(pipe_inode))
            if fd is None:
                log.warning(
                    "App %s: its %s pipe is gone; output written while no daemon ran is lost",
                    app.label(),
                    kind,
                )
                continue
            try:
                targets = logs.pipe_targets(app.paths, app.spec, app.pm_id, kind)
            except OSError as exc:
                log.error("App %s: cannot open its log files again: %s", app.label(), exc)
                os.close(fd)
                continue
            logpipe.StreamReader(fd, targets, owner=app.unique_id, kind=kind).start(supervisor.loop)
            resumed += 1
    if resumed:
        log.info("resumed reading %d app output pipes", resumed)
    return resumed
