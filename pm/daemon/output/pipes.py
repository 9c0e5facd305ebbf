"""App output pipes that outlive the daemon, with no helper process.

Every app writes its stdout and stderr into pipes the daemon reads (pm/logpipe.py). If the
daemon dies (SIGKILL, OOM killer, a bug) while the app runs, two things must still hold:

* The app never gets EPIPE/SIGPIPE. Its end is opened read-write (the write end reopened
  through /proc/self/fd with O_RDWR), so the pipe has a reader for as long as the app holds
  it. With no daemon reading, the app's writes fill the pipe (64 KiB) and then wait.
* The next daemon finds every unread byte. A pipe can be opened again through
  /proc/<pid>/fd/<n> of any process that holds it, so after re-adopting the app the daemon
  looks for the pipe's inode (saved in state.json) among the fds of the app's process tree
  and opens it for reading: reading resumes exactly where the dead daemon stopped.

What this cannot keep: bytes still unread when the app and every process sharing its output
have exited while no daemon ran (a pipe ends with its last holder). The fd-keeper process this
replaces kept those too, but cost a second resident Python process per home.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

from pm.daemon.core import process

log = logging.getLogger("pm")

KINDS = ("out", "err")


def open_pair() -> tuple[int, int]:
    """(read end for the daemon, non-blocking; read-write end for the child's stdout/stderr)."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        child_end = os.open(f"/proc/self/fd/{write_end}", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return read_end, child_end


def inode(fd: int) -> int:
    return os.fstat(fd).st_ino


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


# ------------------------------------------------------------ state.json and recovery


def saved(app: Any) -> list[list[Any]] | None:
    """What state.json keeps for app: [[kind, pipe inode], ...] of its open readers."""
    from pm.daemon.output import logpipe

    readers = logpipe.readers_of(app.unique_id)
    return [[reader.kind, reader.inode] for reader in readers] or None


def restore(app: Any, value: Any) -> None:
    app.extras["pipes"] = value


def resume(supervisor: Any) -> int:
    """Read again the pipes of the re-adopted apps; returns how many were found.

    Called after recovery: each app that is running again and had pipes saved gets a reader on
    the same pipe, found among the fds of its process and descendants.
    """
    from pm.daemon.output import logpipe
    from pm.daemon.output import logfiles as logs

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
                log.warning("App %s: its %s pipe is gone; output written while no daemon ran "
                            "is lost", app.label(), kind)
                continue
            try:
                targets = logs.pipe_targets(app.paths, app.spec, app.pm_id, kind)
            except OSError as exc:
                log.error("App %s: cannot open its log files again: %s", app.label(), exc)
                os.close(fd)
                continue
            logpipe.StreamReader(fd, targets, owner=app.unique_id, kind=kind).start(
                supervisor.loop)
            resumed += 1
    if resumed:
        log.info("resumed reading %d app output pipes", resumed)
    return resumed


def install() -> None:
    """Save each app's pipes in state.json (see state.EXTRAS)."""
    from pm.daemon.persist import state

    state.EXTRAS["pipes"] = (saved, restore)
