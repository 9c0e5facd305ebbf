"""Daemon side of ecosystem files and of `pm scale`.

`apply_file` is how every action on a file (start, restart, reload, startOrRestart,
startOrReload) reaches the daemon, with PM2's rule: an app of the file whose name is already
managed is restarted with the file's settings and environment (updateEnv implied); the others
are started. Every app is checked before anything changes, so a bad file starts nothing.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

from pm.daemon.output import logfiles as logs
from pm.daemon.core.app import App
from pm.errors import BadRequest, ConfigError, NotFound
from pm.daemon.core import groups
from pm.daemon.handlers.context import Context, arg_env, arg_str, Handler, raise_first
from pm.config.command import resolve_command
from pm.config.spec import AppSpec
from pm.daemon.core.supervisor import each, filter_shell_env


async def apply_file(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """Start or restart a file's apps; reply with the entries and what was done to each name."""
    raw_specs = args.get("apps")
    if not isinstance(raw_specs, list) or not raw_specs:
        raise BadRequest("expected 'apps': a list of app specs")
    shell_env = arg_env(args)
    specs = [_spec(raw, index) for index, raw in enumerate(raw_specs)]
    for spec in specs:  # all or nothing: check every app before touching any
        _check(spec, shell_env)
    sup = ctx.supervisor
    touched: list[App] = []
    restarted: list[str] = []
    started: list[str] = []
    managed = {app.name for app in sup.apps.values()}  # before this file: same-name apps all start
    for spec in groups.start_order(specs):  # priority, then depends_on (as `start` does)
        await groups.wait_for_dependencies(sup, spec)
        known = [app for app in sup.apps.values() if app.name == spec.name]
        if spec.name in managed:
            for app in known:
                app.shell_env = filter_shell_env({**app.shell_env, **shell_env}, spec.filter_env)
            raise_first(await each(known, lambda app, spec=spec: sup.restart(app, spec)))
            touched += known
            restarted.append(spec.name)
        else:
            touched += await sup.add(sup.prepare(spec, shell_env))
            started.append(spec.name)
    if args.get("table"):  # the CLI prints the whole table next: save it a `list` round trip
        table = ctx.entries(list(sup.apps.values()))
        ids = {app.pm_id for app in touched}
        entries = [entry for entry in table if entry["pm_id"] in ids]
        return {"entries": entries, "restarted": restarted, "started": started, "table": table}
    return {"entries": ctx.entries(touched), "restarted": restarted, "started": started}


def _spec(raw: Any, index: int) -> AppSpec:
    if not isinstance(raw, dict):
        raise BadRequest(f"app #{index}: expected an object")
    return AppSpec.from_dict(raw, where=f"app #{index} ({raw.get('name', '?')})")


def _check(spec: AppSpec, shell_env: dict[str, str]) -> None:
    """Raise now if the app could not be launched (missing cwd, script or interpreter)."""
    if not spec.cwd or not Path(spec.cwd).is_dir():
        raise ConfigError(f"app {spec.name!r}: cwd {spec.cwd!r} is not a directory")
    path_env = spec.env.get("PATH") or shell_env.get("PATH") or os.environ.get("PATH")
    try:
        resolve_command(spec, path_env)
    except ConfigError as exc:
        raise ConfigError(f"app {spec.name!r}: {exc.message}") from None


# ------------------------------------------------------------ scale

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
        victims = apps[:len(apps) - wanted]
        removed = ctx.entries(victims)
        raise_first(await each(victims, sup.delete))
    for app in apps[len(apps) - wanted:] if wanted < len(apps) else apps:
        app.spec = dataclasses.replace(app.spec, instances=wanted)
    remaining = sorted((app for app in sup.apps.values() if app.name == name),
                       key=lambda a: a.pm_id)
    return {"entries": ctx.entries(remaining), "added": ctx.entries(added), "removed": removed,
            "instances": wanted}


async def _scale_up(ctx: Context, apps: list[App], wanted: int) -> list[App]:
    sup = ctx.supervisor
    template = apps[0]
    spec = dataclasses.replace(template.spec, instances=wanted)
    prepared = sup.prepare(dataclasses.replace(spec, instances=wanted - len(apps)),
                           template.shell_env)
    for app in prepared:
        app.spec = spec
        app.paths = logs.resolve_paths(sup.home, spec, app.pm_id)
    return await sup.add(prepared)


#: The commands this module answers, by wire name.
COMMANDS: dict[str, Handler] = {
    "apply_file": apply_file,
    "scale": scale,
}
