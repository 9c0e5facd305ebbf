"""What every handler gets (the supervisor, a sampler, shutdown requests) and the checks of
request arguments they share. Handlers raise `PMError`s; the server turns them into replies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pm.daemon.core.app import App
from pm.daemon.core.monitor import Sampler
from pm.daemon.core.supervisor import Supervisor
from pm.errors import BadRequest, NoProcess, NotFound, PMError

Handler = Callable[["Context", dict[str, Any]], Awaitable[Any]]


@dataclass
class Context:
    supervisor: Supervisor
    sampler: Sampler = field(default_factory=Sampler)
    #: Set by the daemon: ask it to shut down after the current reply is sent.
    request_shutdown: Callable[[bool], None] = lambda save: None
    request_exit_leaving_apps: Callable[[], None] = lambda: None
    #: Set by the daemon: write the live state now (before a reply acknowledges a change).
    persist_now: Callable[[], None] = lambda: None

    @property
    def home(self) -> str:
        return str(self.supervisor.home.root)

    def entries(self, apps: list[App]) -> list[dict[str, Any]]:
        live = [app.pid for app in apps if app.pid]
        metrics = self.sampler.sample(live) if live else {}
        return [app.jlist_entry(self.home, *metrics.get(app.pid, (0.0, 0))) for app in apps]


# ------------------------------------------------------------ argument helpers


def arg_targets(args: dict[str, Any]) -> list[str]:
    targets = args.get("targets")
    if isinstance(targets, (str, int)):
        targets = [targets]
    if not isinstance(targets, list) or not targets:
        raise BadRequest("expected 'targets': a list of ids, names, namespaces, 'all' or /regex/")
    return [str(target) for target in targets]


def acted_on(ctx: Context, args: dict[str, Any]) -> tuple[list[App], NotFound | None]:
    """The apps a command on several targets acts on (stop, restart, delete), in PM2's order:
    target by target up to the first unknown one, whose error the handler raises once it has
    acted on the others. NoProcess when there is nothing at all to act on (`all` on an empty
    list), as PM2 exits 1 with 'No process found'."""
    apps, missing = ctx.supervisor.select_until_unknown(arg_targets(args), arg_cwd(args))
    if not apps and missing:
        raise missing
    if not apps:
        raise NoProcess("No process found")
    return apps, missing


def selected(ctx: Context, args: dict[str, Any]) -> list[App]:
    """The apps args' targets name (NotFound for a target that names none)."""
    return ctx.supervisor.select(arg_targets(args), arg_cwd(args))


def arg_cwd(args: dict[str, Any]) -> str | None:
    """The client's working directory, against which a relative script path is read."""
    cwd = args.get("cwd")
    return cwd if isinstance(cwd, str) else None


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
