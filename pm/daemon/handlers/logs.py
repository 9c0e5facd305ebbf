"""Daemon commands for logs: `flush`, `reloadLogs`, and `rotateLogs` (rotate now, for tests/ops)."""

from __future__ import annotations

import logging
import os
from typing import Any

from pm.daemon.core.app import App
from pm.daemon.handlers.context import Context, Handler, selected
from pm.daemon.output import logtargets
from pm.daemon.output import rotation as logrotate

log = logging.getLogger("pm")


def _app_files(apps: list[App]) -> list[str]:
    files: dict[str, None] = {}
    for app in apps:
        for path in (app.paths.out, app.paths.err, app.paths.combined):
            if path and path != "/dev/null":
                files[path] = None
    return list(files)


def _selected(ctx: Context, args: dict[str, Any]) -> tuple[list[App], bool]:
    """The apps named by args (all when none), and whether no target was given."""
    if args.get("targets"):
        return selected(ctx, args), False
    return list(ctx.supervisor.apps.values()), True


async def flush(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """Empty the apps' log files; without a target pm.log too (PM2)."""
    apps, everything = _selected(ctx, args)
    files = _app_files(apps)
    if everything:
        files.append(str(ctx.supervisor.home.daemon_log))
    flushed = []
    for path in files:
        try:
            _empty(path)
            flushed.append(path)
        except FileNotFoundError:
            continue
    log.info("Logs flushed (%d files)", len(flushed))
    return {"files": flushed}


def _empty(path: str) -> None:
    """Leave an empty file at path without taking a byte from a `pm logs` following it.

    A file the daemon writes is renamed aside, the path reopened (a new, empty file) and the
    old name removed: a follower keeps the old file open, reads it to its end and then moves
    to the new one (pm/client/logreader.py), whereas bytes written between its last read and
    a truncate would be gone. Other files (pm.log, files an app writes itself) are truncated.
    """
    aside = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.flushed")
    if logtargets.rotate_by_rename(path, aside):
        os.unlink(aside)
    else:
        os.truncate(path, 0)


def reload_logs() -> int:
    count = logtargets.reopen_all()
    log.info("Reloading log files (%d reopened)", count)
    return count


async def reload_logs_handler(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """Reopen pipe-mode files (direct-mode files are the child's own fds: nothing to reopen)."""
    return {"reopened": reload_logs()}


async def rotate_logs(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """Rotate now: every non-empty file (force) or only those over max_size."""
    apps, _ = _selected(ctx, args)
    section = logrotate.load_section(ctx.supervisor.home)
    done = await logrotate.check_once(apps, ctx.supervisor.home, section, bool(args.get("force")))
    return {"rotated": [str(path) for path in done]}


#: The commands this module answers, by wire name.
COMMANDS: dict[str, Handler] = {
    "flush": flush,
    "reloadLogs": reload_logs_handler,
    "rotateLogs": rotate_logs,
}
