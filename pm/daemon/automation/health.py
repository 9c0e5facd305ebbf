"""Health checks (`health_check`), with Docker's HEALTHCHECK semantics.

While an app's process runs, its probe (probe.py) runs every `interval`; `retries` failures in a
row make the app unhealthy, and then (action `restart`, the default) pm restarts it, so an app
that is alive but no longer answers is back within interval x retries. Failures inside
`start_period` do not count until a first success. The state is the app's `health`, shown by
`list`, `describe`, `jlist` (`pm2_env.health`), the dashboard and /metrics; every change is a
`health` event (`pm events`).

Costs when idle: nothing for apps without a check; one sleeping task per app with one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from pm.config.probes import HealthCheck
from pm.daemon.core.app import App
from pm.daemon.core.probe import probe
from pm.daemon.core.process import AppProcess
from pm.daemon.core.supervisor import Supervisor
from pm.protocol import Status

log = logging.getLogger("pm")

STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"


class HealthChecks:
    """One probing task per app process that has a health check."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self._queue: asyncio.Queue[dict[str, Any]] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._tasks: dict[int, tuple[AppProcess, asyncio.Task[None]]] = {}

    def start(self) -> None:
        self._queue = self.supervisor.bus.subscribe()
        self._listener = asyncio.get_running_loop().create_task(self._listen())
        for app in list(self.supervisor.apps.values()):
            self.sync(app)

    async def close(self) -> None:
        if self._queue is not None:
            self.supervisor.bus.unsubscribe(self._queue)
        tasks = [task for _, task in self._tasks.values()]
        if self._listener is not None:
            tasks.append(self._listener)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def _listen(self) -> None:
        assert self._queue is not None
        while True:
            message = await self._queue.get()
            if message.get("event") != "process" or message["data"].get("event") == "health":
                continue
            pm_id = message["data"].get("pm_id")
            app = self.supervisor.apps.get(pm_id)
            if app is None:
                self._cancel(pm_id)
            else:
                self.sync(app)

    def sync(self, app: App) -> None:
        """Probe the app's current process if it has a check; stop probing one that is gone."""
        proc = app.proc
        running = (
            proc is not None and not proc.exited and app.status in (Status.ONLINE, Status.LAUNCHING)
        )
        if not app.spec.health_check or not running:
            self._cancel(app.pm_id)
            app.health = None
            return
        assert proc is not None
        current = self._tasks.get(app.pm_id)
        if current is not None and current[0] is proc:
            return
        self._cancel(app.pm_id)
        check = HealthCheck.from_spec(app.spec.health_check)
        app.health = {"status": STARTING, "failures": 0, "output": "", "checked_at": None}
        task = asyncio.get_running_loop().create_task(self._probe_loop(app, proc, check))
        self._tasks[app.pm_id] = (proc, task)

    def _cancel(self, pm_id: int) -> None:
        entry = self._tasks.pop(pm_id, None)
        if entry is not None:
            entry[1].cancel()

    async def _probe_loop(self, app: App, proc: AppProcess, check: HealthCheck) -> None:
        started = time.monotonic()
        health = app.health
        assert health is not None
        while app.proc is proc:
            await asyncio.sleep(check.interval)
            env = app.child_env(str(self.supervisor.home.root))
            failure = await probe(check, app.spec.cwd, env)
            if app.proc is not proc or app.stop_requested:
                return
            health["checked_at"] = int(time.time() * 1000)
            if failure is None:
                health["failures"], health["output"] = 0, ""
                self._set(app, HEALTHY, None)
                continue
            health["output"] = failure
            in_start_period = time.monotonic() - started < check.start_period
            if in_start_period and health["status"] == STARTING:
                continue  # Docker: failures while starting do not count
            health["failures"] += 1
            if health["failures"] >= check.retries:
                self._set(app, UNHEALTHY, failure)
                if check.action == "restart":
                    self._tasks.pop(app.pm_id, None)  # the restart's events must not cancel it
                    await self._restart(app, check, failure)
                    return

    def _set(self, app: App, status: str, failure: str | None) -> None:
        assert app.health is not None
        if app.health["status"] == status:
            return
        app.health["status"] = status
        if status == UNHEALTHY:
            log.warning(
                "App %s is unhealthy after %d failed checks: %s",
                app.label(),
                app.health["failures"],
                failure,
            )
        else:
            log.info("App %s is %s", app.label(), status)
        self.supervisor.announce(
            app, "health", health=status, failures=app.health["failures"], detail=failure or ""
        )

    async def _restart(self, app: App, check: HealthCheck, failure: str) -> None:
        log.info("App %s restarting: %d health checks failed in a row", app.label(), check.retries)
        try:
            if app.pm_id in self.supervisor.apps:
                await self.supervisor.restart(app)
        except Exception as exc:  # a failed restart is logged; the app's state says the rest
            log.error("App %s: restart after failed health checks failed: %s", app.label(), exc)
