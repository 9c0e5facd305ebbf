"""`pm scale`: add instances (next ids, their own log files) or delete the oldest ones, as PM2."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from pm.daemon.core.app import App
from pm.daemon.core.supervisor import each
from pm.daemon.handlers.context import Context, Handler, arg_str, raise_first
from pm.daemon.output import logfiles as logs
from pm.errors import BadRequest, NotFound

_COUNT = re.compile(r"^([+-]?)(\d+)$")


def target_count(current: int, request: str) -> int:
    """PM2's `scale` argument: N sets the count, +N adds, -N removes."""
    match = _COUNT.match(request.strip())
    if not match:
        raise BadRequest(f"scale: expected N, +N or -N, got {request!r}")
    sign, number = match.group(1), int(match.group(2))
    if sign == "+":
        return current + number
    if sign == "-":
        return current - number
    return number


async def scale(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """Add instances (next ids, own log files) or delete the oldest ones, as PM2 does.

    PM2 7 was observed to delete the lowest ids first (`scale s 1` of ids 0,1,2 keeps 2),
    and `scale s 0` deletes every instance.
    """
    name = arg_str(args, "name")
    sup = ctx.supervisor
    apps = sorted((app for app in sup.apps.values() if app.name == name), key=lambda a: a.pm_id)
    if not apps:
        raise NotFound(f"Process {name} not found; scale takes an app name")
    wanted = target_count(len(apps), arg_str(args, "count"))
    if wanted < 0:
        raise BadRequest(f"cannot scale {name} to {wanted} instances (it has {len(apps)})")
    added: list[App] = []
    removed: list[dict[str, Any]] = []
    if wanted > len(apps):
        added = await _scale_up(ctx, apps, wanted)
    elif wanted < len(apps):
        victims = apps[: len(apps) - wanted]
        removed = ctx.entries(victims)
        raise_first(await each(victims, sup.delete))
    for app in apps[len(apps) - wanted :] if wanted < len(apps) else apps:
        app.spec = dataclasses.replace(app.spec, instances=wanted)
    remaining = sorted(
        (app for app in sup.apps.values() if app.name == name), key=lambda a: a.pm_id
    )
    return {
        "entries": ctx.entries(remaining),
        "added": ctx.entries(added),
        "removed": removed,
        "instances": wanted,
    }


async def _scale_up(ctx: Context, apps: list[App], wanted: int) -> list[App]:
    sup = ctx.supervisor
    template = apps[0]
    spec = dataclasses.replace(template.spec, instances=wanted)
    prepared = sup.prepare(
        dataclasses.replace(spec, instances=wanted - len(apps)), template.shell_env
    )
    for app in prepared:
        app.spec = spec
        app.paths = logs.resolve_paths(sup.home, spec, app.pm_id)
    return await sup.add(prepared)


#: The commands this module answers, by wire name.
COMMANDS: dict[str, Handler] = {
    "scale": scale,
}
