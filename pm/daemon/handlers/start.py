"""Starting apps, from any source: CLI flags, ecosystem files, the Python API, the dashboard.

One request, `start`, carries either
  `targets`: known apps to start again (ids, names, namespaces, all, /regex/), or
  `apps`: app specs, parsed and checked all together before anything changes, then applied
  by one of PM2's two rules:
    `file: true` (an ecosystem file): an app whose name is already managed is restarted with
        the file's settings and environment (updateEnv implied); the others are started;
    otherwise (a script or command): a same-named app of the same script is started again
        when it is down and refused while it runs (unless `force`); anything else is added.
Apps start in the file's order of `priority`, then `depends_on`. The reply says what was done:
`{entries, started, restarted}`, plus the whole `table` when asked (the CLI prints it next).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pm import protocol
from pm.config.command import resolve_command
from pm.config.probes import parse_health_check, parse_listen
from pm.config.spec import AppSpec
from pm.daemon.core import groups
from pm.daemon.core.app import App, filter_shell_env
from pm.daemon.core.supervisor import each, ensure_unique_start
from pm.daemon.handlers.context import Context, Handler, arg_env, raise_first, selected
from pm.daemon.handlers.watch import set_watch
from pm.errors import BadRequest, ConfigError


class _Outcome:
    """What one request did: the apps it touched, by name started or restarted."""

    def __init__(self) -> None:
        self.apps: list[App] = []
        self.started: list[str] = []
        self.restarted: list[str] = []

    def reply(self, ctx: Context, with_table: bool) -> dict[str, Any]:
        if not with_table:
            return {
                "entries": ctx.entries(self.apps),
                "started": self.started,
                "restarted": self.restarted,
            }
        table = ctx.entries(list(ctx.supervisor.apps.values()))
        ids = {app.pm_id for app in self.apps}
        return {
            "entries": [entry for entry in table if entry["pm_id"] in ids],
            "started": self.started,
            "restarted": self.restarted,
            "table": table,
        }


async def start(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    outcome = _Outcome()
    if "targets" in args:
        apps = selected(ctx, args)
        raise_first(await groups.start_in_order(ctx.supervisor, apps, ctx.supervisor.restart))
        outcome.apps = apps
        outcome.restarted = list(dict.fromkeys(app.name for app in apps))
        await ctx.supervisor.until_launched(apps)
        return outcome.reply(ctx, bool(args.get("table")))
    shell_env = arg_env(args)
    specs = parse_specs(args.get("apps"))
    for spec in specs:  # all or nothing: check every app before touching any
        check_launchable(spec, shell_env)
    managed = {app.name for app in ctx.supervisor.apps.values()}  # before this request
    for spec in groups.start_order(specs):
        await groups.wait_for_dependencies(ctx.supervisor, spec)
        if args.get("file"):
            await _apply_file_rule(
                ctx, spec, shell_env, spec.name in managed, outcome, bool(args.get("reload"))
            )
        else:
            await _apply_script_rule(ctx, spec, shell_env, bool(args.get("force")), outcome)
    await ctx.supervisor.until_launched(outcome.apps)  # wait_ready: reply once they are ready
    return outcome.reply(ctx, bool(args.get("table")))


def parse_specs(raw_specs: Any) -> list[AppSpec]:
    """The request's app specs, each checked against every attribute's type (the one place
    the daemon parses specs)."""
    if not isinstance(raw_specs, list) or not raw_specs:
        raise BadRequest("expected 'apps': a list of app specs, or 'targets'")
    specs = []
    for index, raw in enumerate(raw_specs):
        if not isinstance(raw, dict):
            raise BadRequest(f"app #{index}: expected an object")
        where = f"app #{index} ({raw.get('name', '?')})"
        spec = AppSpec.from_dict(raw, where=where)
        # The wire may come from the Python API, not only from pm's own file reader.
        spec.listen = parse_listen(spec.listen, f"{where}: field 'listen'")
        spec.health_check = parse_health_check(spec.health_check, f"{where}: field 'health_check'")
        specs.append(spec)
    return specs


def check_launchable(spec: AppSpec, shell_env: dict[str, str]) -> None:
    """Raise now if the app could not be launched (missing cwd, script or interpreter)."""
    if not spec.cwd or not Path(spec.cwd).is_dir():
        raise ConfigError(f"app {spec.name!r}: cwd {spec.cwd!r} is not a directory")
    path_env = spec.env.get("PATH") or shell_env.get("PATH") or os.environ.get("PATH")
    try:
        resolve_command(spec, path_env)
    except ConfigError as exc:
        raise ConfigError(f"app {spec.name!r}: {exc.message}") from None


async def _apply_file_rule(
    ctx: Context,
    spec: AppSpec,
    shell_env: dict[str, str],
    managed: bool,
    outcome: _Outcome,
    reload: bool = False,
) -> None:
    """Start the app, or restart it with the file's settings (reload: one instance at a
    time, without a gap, for startOrReload)."""
    sup = ctx.supervisor
    if not managed:
        outcome.apps += await sup.add(sup.prepare(spec, shell_env))
        outcome.started.append(spec.name)
        return
    known = [app for app in sup.apps.values() if app.name == spec.name]
    for app in known:
        app.shell_env = filter_shell_env({**app.shell_env, **shell_env}, spec.filter_env)
    if reload:
        for app in known:
            await sup.reload(app, spec)
    else:
        raise_first(await each(known, lambda app: sup.restart(app, spec)))
    outcome.apps += known
    outcome.restarted.append(spec.name)


async def _apply_script_rule(
    ctx: Context, spec: AppSpec, shell_env: dict[str, str], force: bool, outcome: _Outcome
) -> None:
    sup = ctx.supervisor
    prepared = sup.prepare(spec, shell_env)
    same = [
        app
        for app in sup.apps.values()
        if app.name == spec.name and app.command.exec_path == prepared[0].command.exec_path
    ]
    if same and not force:
        if all(app.status in protocol.DOWN_STATUSES for app in same):
            if spec.watch:  # `start app.js --watch` on a stopped app: watched from now on
                for app in same:
                    set_watch(ctx, app, True)
            raise_first(await each(same, sup.start))
            outcome.apps += same
            outcome.restarted.append(spec.name)
            return
        ensure_unique_start(same, force, spec.name)
    outcome.apps += await sup.add(prepared)
    outcome.started.append(spec.name)


#: The commands this module answers, by wire name.
COMMANDS: dict[str, Handler] = {
    "start": start,
}
