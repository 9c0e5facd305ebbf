"""One small function per command, in one table. Each validates its args and calls the supervisor.

Handlers raise `PMError`s; the server turns them into `{code, message}` replies. Feature modules
add their commands with `@handler("name")` and are imported at the bottom of this file.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pm import protocol
from pm.daemon.core import groups
from pm.daemon.core.app import App
from pm.errors import BadRequest, NotFound, PMError
from pm.daemon.core.monitor import Sampler
from pm.daemon.core.process import signal_number
from pm.config.spec import AppSpec
from pm.daemon.core.supervisor import Supervisor, each, ensure_unique_start

Handler = Callable[["Context", dict[str, Any]], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}


@dataclass
class Context:
    supervisor: Supervisor
    sampler: Sampler = field(default_factory=Sampler)
    #: Set by the daemon: ask it to shut down after the current reply is sent.
    request_shutdown: Callable[[bool], None] = lambda save: None
    request_exit_leaving_apps: Callable[[], None] = lambda: None

    @property
    def home(self) -> str:
        return str(self.supervisor.home.root)

    def entries(self, apps: list[App]) -> list[dict[str, Any]]:
        live = [app.pid for app in apps if app.pid]
        metrics = self.sampler.sample(live) if live else {}
        return [app.jlist_entry(self.home, *metrics.get(app.pid, (0.0, 0))) for app in apps]


def handler(name: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        HANDLERS[name] = func
        return func

    return register


# ------------------------------------------------------------ argument helpers


def arg_targets(args: dict[str, Any]) -> list[str]:
    targets = args.get("targets")
    if isinstance(targets, (str, int)):
        targets = [targets]
    if not isinstance(targets, list) or not targets:
        raise BadRequest("expected 'targets': a list of ids, names, namespaces, 'all' or /regex/")
    return [str(target) for target in targets]


def arg_str(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, (str, int)) or isinstance(value, bool) or value == "":
        raise BadRequest(f"expected '{key}': a string")
    return str(value)


def arg_env(args: dict[str, Any]) -> dict[str, str]:
    env = args.get("shell_env") or {}
    if not isinstance(env, dict):
        raise BadRequest("expected 'shell_env': an object of strings")
    return {str(key): str(value) for key, value in env.items()}


def raise_first(errors: list[BaseException]) -> None:
    for error in errors:
        if isinstance(error, PMError):
            raise error
    if errors:
        raise errors[0]


# ------------------------------------------------------------ commands


@handler("hello")
async def hello(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    from pm import __version__

    return {"protocol": protocol.PROTOCOL_VERSION, "version": __version__, "pid": os.getpid(),
            "home": ctx.home}


@handler("ping")
async def ping(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    return {"msg": "pong"}


@handler("list")
async def list_apps(ctx: Context, args: dict[str, Any]) -> list[dict[str, Any]]:
    return ctx.entries(list(ctx.supervisor.apps.values()))


@handler("describe")
async def describe(ctx: Context, args: dict[str, Any]) -> list[dict[str, Any]]:
    return ctx.entries(ctx.supervisor.select(arg_targets(args)))


@handler("start")
async def start(ctx: Context, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Start new apps from specs, or (re)start known apps named by targets."""
    if "targets" in args:
        apps = ctx.supervisor.select(arg_targets(args))
        raise_first(await groups.start_in_order(ctx.supervisor, apps, ctx.supervisor.restart))
        return ctx.entries(apps)
    specs = args.get("apps")
    if not isinstance(specs, list) or not specs:
        raise BadRequest("expected 'apps': a list of app specs, or 'targets'")
    shell_env = arg_env(args)
    force = bool(args.get("force"))
    started: list[App] = []
    parsed: list[AppSpec] = []
    for index, raw in enumerate(specs):
        if not isinstance(raw, dict):
            raise BadRequest(f"app #{index}: expected an object")
        parsed.append(AppSpec.from_dict(raw, where=f"app #{index} ({raw.get('name', '?')})"))
    for spec in groups.start_order(parsed):  # priority, then depends_on
        await groups.wait_for_dependencies(ctx.supervisor, spec)
        started.extend(await _start_one(ctx, spec, shell_env, force))
    return ctx.entries(started)


async def _start_one(ctx: Context, spec: AppSpec, shell_env: dict[str, str],
                     force: bool) -> list[App]:
    sup = ctx.supervisor
    prepared = sup.prepare(spec, shell_env)
    same = [app for app in sup.apps.values()
            if app.name == spec.name and app.command.exec_path == prepared[0].command.exec_path]
    if same and not force:
        down = [app for app in same if app.status in protocol.DOWN_STATUSES]
        if len(down) == len(same):
            raise_first(await each(same, sup.start))
            return same
        ensure_unique_start(same, force, spec.name)
    return await sup.add(prepared)


@handler("stop")
async def stop(ctx: Context, args: dict[str, Any]) -> list[dict[str, Any]]:
    apps = ctx.supervisor.select(arg_targets(args))
    raise_first(await groups.stop_in_order(apps, ctx.supervisor.stop))
    return ctx.entries(apps)


@handler("restart")
async def restart(ctx: Context, args: dict[str, Any]) -> list[dict[str, Any]]:
    apps = ctx.supervisor.select(arg_targets(args))
    if args.get("update_env"):
        shell_env = arg_env(args)
        for app in apps:
            app.shell_env.update(shell_env)  # PM2: vars are added or overwritten, never removed
    raise_first(await groups.start_in_order(ctx.supervisor, apps, ctx.supervisor.restart))
    return ctx.entries(apps)


@handler("delete")
async def delete(ctx: Context, args: dict[str, Any]) -> list[dict[str, Any]]:
    apps = ctx.supervisor.select(arg_targets(args))
    entries = ctx.entries(apps)
    raise_first(await each(apps, ctx.supervisor.delete))
    return entries


@handler("reset")
async def reset(ctx: Context, args: dict[str, Any]) -> list[dict[str, Any]]:
    apps = ctx.supervisor.select(arg_targets(args))
    for app in apps:
        ctx.supervisor.reset(app)
    return ctx.entries(apps)


@handler("signal")
async def send_signal(ctx: Context, args: dict[str, Any]) -> list[dict[str, Any]]:
    name = arg_str(args, "signal")
    try:
        signum = signal_number(name)
    except (ValueError, KeyError):
        raise BadRequest(f"unknown signal {name!r}; use a name like SIGUSR2 or a number") from None
    apps = ctx.supervisor.select(arg_targets(args))
    signalled = [app for app in apps if ctx.supervisor.send_signal(app, signum)]
    if not signalled:
        raise NotFound(f"no running process among {', '.join(arg_targets(args))} to signal")
    return ctx.entries(signalled)


@handler("env")
async def env(ctx: Context, args: dict[str, Any]) -> dict[str, str]:
    apps = ctx.supervisor.select([arg_str(args, "target")])
    return apps[0].child_env(ctx.home)


@handler("kill")
async def kill(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """Reply first, then stop every app and exit (no save, as PM2)."""
    ctx.request_shutdown(False)
    return {"pid": os.getpid()}


from pm.daemon.handlers import ecosystem as handlers_ecosystem  # noqa: E402,F401
from pm.daemon.handlers import persist as handlers_persist  # noqa: E402,F401
from pm.daemon.handlers import watch as handlers_watch  # noqa: E402,F401
from pm.daemon.handlers import logs as handlers_logs  # noqa: E402,F401
