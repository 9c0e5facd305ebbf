"""Daemon command `watch`: turn file watching on, off or over for apps (`--watch` on restart/stop).

Only the app's spec changes here; the automation (pm.daemon.automation.restarts) sees the
resulting bus event and starts or stops the actual watch, so the saved process list keeps the
choice too.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pm.daemon.core.app import App
from pm.daemon.handlers.context import Context, Handler, selected
from pm.errors import BadRequest

ACTIONS = ("enable", "disable", "toggle")


async def watch(ctx: Context, args: dict[str, Any]) -> list[dict[str, Any]]:
    action = args.get("action", "toggle")
    if action not in ACTIONS:
        raise BadRequest(f"expected 'action': one of {', '.join(ACTIONS)}, got {action!r}")
    apps = selected(ctx, args)
    for app in apps:
        set_watch(ctx, app, not app.spec.watch if action == "toggle" else action == "enable")
    return ctx.entries(apps)


def set_watch(ctx: Context, app: App, enable: bool) -> None:
    """Turn watching on or off in the app's spec (so the saved list keeps it); the automation
    starts or stops the actual watch on the bus event."""
    if bool(app.spec.watch) != enable:
        app.spec = dataclasses.replace(app.spec, watch=enable)
        ctx.supervisor.bus.publish(
            "process", {"event": "watch", "pm_id": app.pm_id, "name": app.name, "watching": enable}
        )


#: The commands this module answers, by wire name.
COMMANDS: dict[str, Handler] = {
    "watch": watch,
}
