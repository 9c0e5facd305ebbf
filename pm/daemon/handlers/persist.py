"""Daemon commands for the saved list and for replacing the daemon: save, resurrect, cleardump,
and `exit_leaving_apps` (used by `pm update`)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from pm.config.spec import AppSpec
from pm.daemon.core.app import App
from pm.daemon.handlers.context import Context, Handler
from pm.daemon.output import logfiles as logs
from pm.daemon.persist import dump
from pm.errors import BadRequest, PMError


async def save(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    apps = [ctx.supervisor.apps[pm_id] for pm_id in sorted(ctx.supervisor.apps)]
    count = dump.save(ctx.supervisor.home, apps, force=bool(args.get("force")))
    return {"path": str(ctx.supervisor.home.dump), "count": count}


async def cleardump(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    dump.clear(ctx.supervisor.home)
    return {"path": str(ctx.supervisor.home.dump)}


async def resurrect(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """Start what a dump lists (pm's, or PM2's with `path`); names already known are skipped."""
    path = args.get("path")
    if path is not None and (not isinstance(path, str) or not path.startswith("/")):
        raise BadRequest("expected 'path': an absolute path to a dump file")
    if path:
        loaded = dump.Loaded(dump.read_entries(Path(path)), path)
    else:
        loaded = dump.load(ctx.supervisor.home)
    entries = loaded.entries
    if any(dump.is_pm2_entry(item) for item in entries):
        entries, more = dump.from_pm2(entries, loaded.source)
        loaded.warnings += more
    known = {app.name for app in ctx.supervisor.apps.values()}
    started: list[App] = []
    skipped: list[str] = []
    errors: list[str] = []
    for index, item in enumerate(entries):
        try:
            app = await _revive(ctx, item, f"{loaded.source}: entry #{index}", known)
        except PMError as exc:
            errors.append(exc.message)
            continue
        if app is None:
            skipped.append(str(item.get("spec", {}).get("name")))
        else:
            started.append(app)
    return {
        "source": loaded.source,
        "warnings": loaded.warnings,
        "errors": errors,
        "skipped": sorted(set(skipped)),
        "apps": ctx.entries(started),
    }


async def _revive(ctx: Context, item: dict[str, Any], where: str, known: set[str]) -> App | None:
    """Add one saved instance: its saved id when free, stopped if it was stopped."""
    raw = item.get("spec")
    if not isinstance(raw, dict):
        raise BadRequest(f"{where}: no 'spec' object")
    spec = AppSpec.from_dict(raw, where=f"{where} ({raw.get('name', '?')})")
    if spec.name in known:
        return None
    shell_env = dump.mapping_at(item, "shell_env")
    sup = ctx.supervisor
    app = sup.prepare(spec, {str(k): str(v) for k, v in shell_env.items()})[0]
    saved_id = item.get("pm_id")
    if isinstance(saved_id, int) and saved_id >= 0 and saved_id not in sup.apps:
        app.pm_id = saved_id
        app.paths = logs.resolve_paths(sup.home, spec, saved_id)
    # The saved status decides, not autostart: a stopped app comes back stopped (PM2).
    app.spec = dataclasses.replace(spec, autostart=item.get("status") != "stopped")
    try:
        await sup.add([app])
    finally:
        app.spec = spec
    return app


_SAVED_NAMES: dict[str, tuple[tuple[int, int, int], list[str] | None]] = {}


async def saved_names(ctx: Context, args: dict[str, Any]) -> list[str] | None:
    """Sorted names in the dump (None without one), for `pm list`'s out-of-sync warning.

    Cached by the file's identity, so `pm list` never pays for parsing a big dump.
    """
    path = ctx.supervisor.home.dump
    try:
        info = path.stat()
    except OSError:
        return None
    key = (info.st_ino, info.st_size, info.st_mtime_ns)
    cached = _SAVED_NAMES.get(str(path))
    if cached is None or cached[0] != key:
        names = dump.saved_names(ctx.supervisor.home)
        cached = (key, sorted(names) if names is not None else None)
        _SAVED_NAMES[str(path)] = cached
    return cached[1]


async def exit_leaving_apps(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """Reply, write the live state, and exit without touching the apps (`pm update`)."""
    ctx.request_exit_leaving_apps()
    return {"pid": os.getpid()}


#: The commands this module answers, by wire name.
COMMANDS: dict[str, Handler] = {
    "save": save,
    "cleardump": cleardump,
    "resurrect": resurrect,
    "saved_names": saved_names,
    "exit_leaving_apps": exit_leaving_apps,
}
