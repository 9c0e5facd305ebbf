"""Start order, stop order and restart groups (pm additions to PM2's ecosystem attributes).

- ``priority`` (int, default 0): lower starts first and stops last, as supervisord's priority.
- ``depends_on`` (list of app names): start after those apps are up (online for their
  ``min_uptime``); stop before them.
- ``restart_group: true``: apps of one namespace that set it fail together — when one dies
  unexpectedly (not stopped by pm, exit code not in ``stop_exit_codes``) the others are
  restarted with it, the one-for-all policy of supervision trees.

Apps are ranked in *levels*: level = (priority, dependency depth). Starting walks levels up,
stopping walks them down, and apps within one level are handled in parallel, so a file without
these attributes starts and stops exactly as before (one level, all at once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

from pm.errors import BadRequest, ConfigError
from pm.protocol import Status

log = logging.getLogger("pm")

#: How long `depends_on` waits for a dependency to come online (seconds).
DEPENDS_TIMEOUT = 30.0


class HasOrder(Protocol):
    name: str
    priority: int
    depends_on: list[str]


T = TypeVar("T")


def levels(items: Iterable[T], key: Callable[[T], HasOrder]) -> list[list[T]]:
    """Group items into start levels, lowest first; raise ConfigError on a depends_on cycle."""
    items = list(items)
    by_name: dict[str, list[T]] = {}
    for item in items:
        by_name.setdefault(key(item).name, []).append(item)
    depth: dict[str, int] = {}

    def depth_of(name: str, trail: tuple[str, ...]) -> int:
        if name in trail:
            cycle = " -> ".join((*trail[trail.index(name) :], name))
            raise ConfigError(f"depends_on cycle: {cycle}")
        if name in depth:
            return depth[name]
        deps = [dep for dep in key(by_name[name][0]).depends_on if dep in by_name]
        value = 1 + max((depth_of(dep, (*trail, name)) for dep in deps), default=-1)
        depth[name] = value
        return value

    ranked: dict[tuple[int, int], list[T]] = {}
    for item in items:
        spec = key(item)
        # a dependency must be at a lower level even when its priority is higher
        prio = max(
            [spec.priority] + [key(by_name[d][0]).priority for d in spec.depends_on if d in by_name]
        )
        ranked.setdefault((prio, depth_of(spec.name, ())), []).append(item)
    return [ranked[rank] for rank in sorted(ranked)]


def start_order(specs: Iterable[Any]) -> list[Any]:
    """AppSpecs in the order to start them (stable within a level)."""
    return [item for level in levels(specs, lambda spec: spec) for item in level]


async def stop_in_order(
    apps: Iterable[Any], stop: Callable[[Any], Awaitable[None]]
) -> list[BaseException]:
    """Stop apps level by level, highest first (reverse start order); collect errors."""
    errors: list[BaseException] = []
    for level in reversed(levels(apps, lambda app: app.spec)):
        results = await asyncio.gather(*(stop(app) for app in level), return_exceptions=True)
        errors += [result for result in results if isinstance(result, BaseException)]
    return errors


async def start_in_order(
    supervisor: Any, apps: Iterable[Any], start: Callable[[Any], Awaitable[None]]
) -> list[BaseException]:
    """(Re)start apps level by level, lowest first, each once its dependencies are up;
    apps of one level in parallel."""

    async def start_one(app: Any) -> None:
        await wait_for_dependencies(supervisor, app.spec)
        await start(app)

    errors: list[BaseException] = []
    for level in levels(apps, lambda app: app.spec):
        results = await asyncio.gather(*(start_one(app) for app in level), return_exceptions=True)
        errors += [result for result in results if isinstance(result, BaseException)]
    return errors


async def wait_for_dependencies(
    supervisor: Any, spec: Any, timeout: float = DEPENDS_TIMEOUT
) -> None:
    """Wait until every app named in spec.depends_on is up: online for at least its min_uptime
    (PM2's threshold for a stable start, supervisord's startsecs); raise if one cannot be."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for dep in spec.depends_on:
        while True:
            apps = [app for app in supervisor.apps.values() if app.name == dep]
            if not apps:
                raise BadRequest(f"app {spec.name!r} depends_on {dep!r}, which pm does not manage")
            if all(is_up(app) for app in apps):
                break
            bad = [app for app in apps if app.status in (Status.ERRORED, Status.STOPPED)]
            if bad:
                raise BadRequest(
                    f"app {spec.name!r} not started: its dependency {dep!r} is {bad[0].status}"
                )
            if loop.time() > deadline:
                raise BadRequest(
                    f"app {spec.name!r} not started: {dep!r} was not up within {timeout:g}s"
                )
            await asyncio.sleep(0.02)


def is_up(app: Any) -> bool:
    """Online and past min_uptime: a crash-looping dependency never counts as up."""
    uptime = time.time() * 1000 - app.counters.pm_uptime
    return bool(app.status == Status.ONLINE and uptime >= app.spec.min_uptime)


class GroupRestarter:
    """Restart the other members of a restart group when one dies unexpectedly."""

    def __init__(self, supervisor: Any) -> None:
        self.supervisor = supervisor
        self._queue: asyncio.Queue[dict[str, Any]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._restarts: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._queue = self.supervisor.bus.subscribe()
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def close(self) -> None:
        if self._queue is not None:
            self.supervisor.bus.unsubscribe(self._queue)
        for task in [self._task, *self._restarts]:
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *[t for t in [self._task, *self._restarts] if t], return_exceptions=True
        )

    async def _read(self) -> None:
        assert self._queue is not None
        while True:
            message = await self._queue.get()
            data = message.get("data") or {}
            if data.get("event") == "exit" and data.get("manually") is False:
                try:
                    self._on_unexpected_exit(int(data["pm_id"]), data.get("exit_code"))
                except Exception:
                    log.exception("restart group handling failed")

    def _on_unexpected_exit(self, pm_id: int, code: int | None) -> None:
        app = self.supervisor.apps.get(pm_id)
        if app is None or not app.spec.restart_group:
            return
        if code is not None and code in app.spec.stop_exit_codes:
            return  # an expected exit is not a failure of the group
        for other in group_members(self.supervisor.apps.values(), app):
            if other.stop_requested or other.status != Status.ONLINE:
                continue
            log.info("App %s restarted with its group: %s died", other.label(), app.label())
            task = asyncio.get_running_loop().create_task(self._restart(other))
            self._restarts.add(task)
            task.add_done_callback(self._restarts.discard)

    async def _restart(self, app: Any) -> None:
        try:
            await self.supervisor.restart(app)
        except Exception as exc:  # the app ends errored; the group carries on
            log.error("group restart of %s failed: %s", app.label(), exc)


def group_members(apps: Iterable[Any], app: Any) -> list[Any]:
    """The other apps of app's namespace that are in its restart group."""
    return [
        other
        for other in apps
        if other is not app
        and other.spec.restart_group
        and other.spec.namespace == app.spec.namespace
    ]
