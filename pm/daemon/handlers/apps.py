"""Commands on apps: hello, ping, list, describe, stop, restart, delete, reset, signal,
env and kill. Each validates its args and calls the supervisor."""

from __future__ import annotations

import os
from typing import Any

from pm import protocol
from pm.daemon.core import groups
from pm.daemon.core.process import signal_number
from pm.daemon.core.supervisor import each
from pm.daemon.handlers.context import (
    Context,
    Handler,
    acted_on,
    arg_env,
    arg_str,
    arg_targets,
    raise_first,
    selected,
)
from pm.daemon.handlers.watch import set_watch
from pm.errors import BadRequest, NotFound


async def hello(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    from pm.version import __version__

    return {
        "protocol": protocol.PROTOCOL_VERSION,
        "version": __version__,
        "pid": os.getpid(),
        "home": ctx.home,
    }


async def ping(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    return {"msg": "pong"}


async def list_apps(ctx: Context, args: dict[str, Any]) -> list[dict[str, Any]]:
    return ctx.entries(list(ctx.supervisor.apps.values()))


async def describe(ctx: Context, args: dict[str, Any]) -> list[dict[str, Any]]:
    return ctx.entries(selected(ctx, args))


async def stop(ctx: Context, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Stop apps; a stopped app is no longer watched, as PM2 (a later start keeps it so)."""
    apps, missing = acted_on(ctx, args)
    for app in apps:
        set_watch(ctx, app, False)
    raise_first(await groups.stop_in_order(apps, ctx.supervisor.stop))
    if missing:
        raise missing
    return ctx.entries(apps)


async def restart(ctx: Context, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Restart apps (in start order, each level at once), or with `reload` replace them one at
    a time without a gap (Supervisor.reload); reply once none is launching."""
    apps, missing = acted_on(ctx, args)
    if args.get("update_env"):
        shell_env = arg_env(args)
        for app in apps:
            app.shell_env.update(shell_env)  # PM2: vars are added or overwritten, never removed
    if args.get("reload"):
        raise_first(await reload_one_by_one(ctx, apps))
    else:
        raise_first(await groups.start_in_order(ctx.supervisor, apps, ctx.supervisor.restart))
    await ctx.supervisor.until_launched(apps)
    if missing:
        raise missing
    return ctx.entries(apps)


async def reload_one_by_one(ctx: Context, apps: list[Any]) -> list[BaseException]:
    """Reload apps one after the other, so an app's other instances serve meanwhile; every
    app is tried, and the errors come back together."""
    errors: list[BaseException] = []
    for app in [app for level in groups.levels(apps, lambda app: app.spec) for app in level]:
        try:
            await ctx.supervisor.reload(app)
        except Exception as exc:
            errors.append(exc)
    return errors


async def delete(ctx: Context, args: dict[str, Any]) -> list[dict[str, Any]]:
    apps, missing = acted_on(ctx, args)
    entries = ctx.entries(apps)
    raise_first(await each(apps, ctx.supervisor.delete))
    if missing:
        raise missing
    return entries


async def reset(ctx: Context, args: dict[str, Any]) -> list[dict[str, Any]]:
    apps = selected(ctx, args)
    for app in apps:
        ctx.supervisor.reset(app)
    return ctx.entries(apps)


async def send_signal(ctx: Context, args: dict[str, Any]) -> list[dict[str, Any]]:
    name = arg_str(args, "signal")
    try:
        signum = signal_number(name)
    except (ValueError, KeyError):
        raise BadRequest(f"unknown signal {name!r}; use a name like SIGUSR2 or a number") from None
    apps = selected(ctx, args)
    signalled = [app for app in apps if ctx.supervisor.send_signal(app, signum)]
    if not signalled:
        raise NotFound(f"no running process among {', '.join(arg_targets(args))} to signal")
    return ctx.entries(signalled)


async def env(ctx: Context, args: dict[str, Any]) -> dict[str, str]:
    apps = selected(ctx, {"targets": [arg_str(args, "target")], "cwd": args.get("cwd")})
    return apps[0].child_env(ctx.home)


async def kill(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """Reply first, then stop every app and exit (no save, as PM2)."""
    ctx.request_shutdown(False)
    return {"pid": os.getpid()}


#: The commands this module answers, by wire name.
COMMANDS: dict[str, Handler] = {
    "hello": hello,
    "ping": ping,
    "list": list_apps,
    "describe": describe,
    "stop": stop,
    "restart": restart,
    "delete": delete,
    "reset": reset,
    "signal": send_signal,
    "env": env,
    "kill": kill,
}
