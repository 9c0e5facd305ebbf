"""Daemon commands for logs: `flush`, `reloadLogs`, and `rotateLogs` (rotate now, for tests/ops)."""

from __future__ import annotations

import logging
import os
from typing import Any

from pm.daemon.output import logpipe
from pm.daemon.output import rotation as logrotate
from pm.daemon.core.app import App
from pm.daemon.handlers.context import Context, Handler, selected

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
    """Truncate the apps' log files; without a target pm.log too (PM2)."""
    apps, everything = _selected(ctx, args)
    files = _app_files(apps)
    if everything:
        files.append(str(ctx.supervisor.home.daemon_log))
    flushed = []
    for path in files:
        try:
            os.truncate(path, 0)
            flushed.append(path)
        except FileNotFoundError:
            continue
    log.info("Logs flushed (%d files)", len(flushed))
    return {"files": flushed}


def reload_logs() -> int:
    count = logpipe.reopen_all()
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
