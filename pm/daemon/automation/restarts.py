"""Automatic restarts: file watching, `max_memory_restart` and `cron_restart`, wired to the
supervisor.

The automation listens to `supervisor.bus` and, after every event about an app, reconciles that
app: is it watched with its current config, is its cron armed with its current pattern, does it
need the memory guard. It acts only through `supervisor.restart`, so a restart it causes is
counted in ↺ and runs the normal stop/start path.

Costs when idle: no timer at all for apps without a limit or cron; the memory guard ticks every
`MEMORY_INTERVAL` only while at least one online app has a `max_memory_restart`, and reads just
those apps' trees from /proc.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from pm.config import cron
from pm.daemon.automation.watch import SETTLE_S, Debounce, Watcher, config_for
from pm.daemon.core import monitor
from pm.daemon.core.app import App
from pm.daemon.core.supervisor import Supervisor
from pm.protocol import Status

log = logging.getLogger("pm")

#: How often the memory guard reads the trees of apps that have a limit (seconds).
MEMORY_INTERVAL = 0.5
#: States in which a file change or the memory guard does nothing (the user stopped the app).
_PAUSED = (Status.STOPPED, Status.STOPPING)


class Automation:
    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self._queue: asyncio.Queue[dict[str, Any]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._watcher: Watcher | None = None
        self._debounce: dict[int, Debounce] = {}
        self._cron: dict[int, tuple[str, asyncio.TimerHandle]] = {}
        self._limited: set[int] = set()
        self._memory_task: asyncio.Task[None] | None = None
        self._busy: set[int] = set()  # apps this automation is restarting right now
        self._restarts: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._queue = self.supervisor.bus.subscribe()
        self._task = asyncio.get_running_loop().create_task(self._listen())
        for app in list(self.supervisor.apps.values()):
            self.sync(app)

    def close(self) -> None:
        """Stop every timer and watch; called first on shutdown so nothing restarts meanwhile."""
        if self._queue is not None:
            self.supervisor.bus.unsubscribe(self._queue)
        for task in (self._task, self._memory_task, *self._restarts):
            if task is not None:
                task.cancel()
        for _, handle in self._cron.values():
            handle.cancel()
        self._cron.clear()
        for debounce in self._debounce.values():
            debounce.cancel()
        if self._watcher is not None:
            self._watcher.close()

    async def _listen(self) -> None:
        assert self._queue is not None
        while True:
            message = await self._queue.get()
            if message.get("event") != "process":
                continue
            pm_id = message["data"].get("pm_id")
            app = self.supervisor.apps.get(pm_id)
            try:
                if app is None:
                    self.forget(pm_id)
                else:
                    self.sync(app)
            except Exception:  # one app's bad config must not stop automation for the others
                log.exception("automation failed for app id %s", pm_id)

    def sync(self, app: App) -> None:
        """Bring watch, cron and memory guard in line with the app's current spec and state."""
        self._sync_watch(app)
        self._sync_cron(app)
        self._sync_memory(app)

    def forget(self, pm_id: int) -> None:
        """The app was deleted: drop everything kept for it."""
        if self._watcher is not None:
            self._watcher.unwatch(pm_id)
        debounce = self._debounce.pop(pm_id, None)
        if debounce is not None:
            debounce.cancel()
        armed = self._cron.pop(pm_id, None)
        if armed is not None:
            armed[1].cancel()
        self._limited.discard(pm_id)

    # ------------------------------------------------------------ restarts

    def _restart(self, app: App, why: str) -> None:
        """Restart app in the background unless one of ours is already under way."""
        if app.pm_id in self._busy:
            return
        self._busy.add(app.pm_id)
        task = asyncio.get_running_loop().create_task(self._run_restart(app, why))
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    async def _run_restart(self, app: App, why: str) -> None:
        try:
            if app.pm_id in self.supervisor.apps:
                await self.supervisor.restart(app)
        except Exception as exc:
            log.error("App %s %s restart failed: %s", app.label(), why, exc)
        finally:
            self._busy.discard(app.pm_id)

    # ------------------------------------------------------------ watch

    def _sync_watch(self, app: App) -> None:
        spec = app.spec
        if not spec.watch:
            self._unwatch(app.pm_id)
            return
        paths = app.paths
        config = config_for(
            spec.watch,
            spec.ignore_watch,
            spec.cwd,
            (paths.out, paths.err, paths.pid, paths.combined),
            [str(self.supervisor.home.root)],
        )
        if self._watcher is None:
            self._watcher = Watcher(asyncio.get_running_loop())
        if self._watcher.config(app.pm_id) == config:
            return
        settle = max(SETTLE_S, spec.watch_delay / 1000)
        debounce = Debounce(
            asyncio.get_running_loop(), settle, lambda path: self._on_file_change(app.pm_id, path)
        )
        old = self._debounce.pop(app.pm_id, None)
        if old is not None:
            old.cancel()
        self._debounce[app.pm_id] = debounce
        failed = self._watcher.watch(app.pm_id, config, debounce.change)
        log.info("[Watch] Start watching %s (%s)", app.name, ", ".join(config.roots))
        for root in failed:
            log.error("App %s cannot watch %s", app.label(), root)

    def _unwatch(self, pm_id: int) -> None:
        if self._watcher is not None and self._watcher.config(pm_id) is not None:
            self._watcher.unwatch(pm_id)
            app = self.supervisor.apps.get(pm_id)
            log.info("[Watch] Stop watching %s", app.name if app else pm_id)
        debounce = self._debounce.pop(pm_id, None)
        if debounce is not None:
            debounce.cancel()

    def _on_file_change(self, pm_id: int, path: str) -> None:
        app = self.supervisor.apps.get(pm_id)
        if app is None or not app.spec.watch or app.status in _PAUSED or pm_id in self._busy:
            return
        log.info("Change detected on path %s for app %s - restarting", path, app.name)
        self.supervisor.bus.publish("watch", {"pm_id": pm_id, "name": app.name, "path": path})
        self._restart(app, "watch")

    # ------------------------------------------------------------ cron

    def _sync_cron(self, app: App) -> None:
        expr = cron.expression(app.spec.cron_restart)
        armed = self._cron.get(app.pm_id)
        if armed is not None and armed[0] == expr:
            return
        if armed is not None:
            armed[1].cancel()
            del self._cron[app.pm_id]
        if expr is None:
            return
        try:
            self._arm_cron(app.pm_id, expr, time.time())
        except (ValueError, KeyError) as exc:
            log.error("App %s: invalid cron_restart %r: %s", app.label(), expr, exc)

    def _arm_cron(self, pm_id: int, expr: str, after: float) -> None:
        self._schedule_cron(pm_id, expr, cron.next_fire(expr, after))

    def _schedule_cron(self, pm_id: int, expr: str, due: float) -> None:
        # A wall-clock due time on a monotonic timer: re-checked on wake in case the clock moved.
        handle = asyncio.get_running_loop().call_later(
            max(0.0, due - time.time()), self._on_cron, pm_id, expr, due
        )
        self._cron[pm_id] = (expr, handle)

    def _on_cron(self, pm_id: int, expr: str, due: float) -> None:
        app = self.supervisor.apps.get(pm_id)
        if app is None or cron.expression(app.spec.cron_restart) != expr:
            return
        if time.time() < due - 0.01:  # woke early (clock set back): wait the remainder
            self._schedule_cron(pm_id, expr, due)
            return
        self._arm_cron(pm_id, expr, max(due, time.time()))  # the next fire, whatever happens now
        log.info("App %s cron restart (%s)", app.label(), expr)
        self.supervisor.bus.publish("cron", {"pm_id": pm_id, "name": app.name, "cron": expr})
        self._restart(app, "cron")  # PM2 v7: this also starts a stopped app

    # ------------------------------------------------------------ memory

    def _sync_memory(self, app: App) -> None:
        if app.spec.max_memory_restart and app.status == Status.ONLINE:
            self._limited.add(app.pm_id)
            if self._memory_task is None or self._memory_task.done():
                self._memory_task = asyncio.get_running_loop().create_task(self._memory_loop())
        else:
            self._limited.discard(app.pm_id)

    async def _memory_loop(self) -> None:
        """Tick only while some online app has a limit; end when none is left."""
        while self._limited:
            await asyncio.sleep(MEMORY_INTERVAL)
            for pm_id in list(self._limited):
                app = self.supervisor.apps.get(pm_id)
                if app is None or app.status != Status.ONLINE or not app.pid:
                    self._limited.discard(pm_id)
                    continue
                self._check_memory(app)

    def _check_memory(self, app: App) -> None:
        limit = app.spec.max_memory_restart
        if not limit or app.pm_id in self._busy:
            return
        used = monitor.tree_rss(app.pid)
        if used <= limit:
            return
        log.info(
            "App %s memory %s exceeds max_memory_restart %s - restarting",
            app.label(),
            _size(used),
            _size(limit),
        )
        self.supervisor.bus.publish(
            "memory", {"pm_id": app.pm_id, "name": app.name, "memory": used, "limit": limit}
        )
        self._restart(app, "memory")


def _size(size: float) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.1f}{unit}" if unit != "B" else f"{int(size)}B"
        size /= 1024
    return f"{size:.1f}GB"
