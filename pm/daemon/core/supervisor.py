"""The process table: ids, selection, and the actions on apps.

Actions (start, stop, restart, reload, delete, reset, signal) take apps chosen by selectors
(selectors.py); the lifecycle of each process (launch, readiness, exit, PM2's restart policy)
is in lifecycle.py. Batch actions run in parallel: stopping 50 apps takes one kill_timeout,
not 25.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from pm.config.command import resolve_command
from pm.config.spec import AppSpec
from pm.daemon.core import quiesce, rolling
from pm.daemon.core.app import App, filter_shell_env
from pm.daemon.core.launch import remove_pid_file
from pm.daemon.core.lifecycle import Lifecycle
from pm.daemon.core.selectors import select, select_until_unknown
from pm.daemon.output import logfiles as logs
from pm.errors import BadRequest, Conflict, NotFound, SpawnError
from pm.protocol import DOWN_STATUSES, Status

log = logging.getLogger("pm")

#: How long a reload waits for the old process to be between requests before its stop (s).
QUIESCE_S = 1.0


class Supervisor(Lifecycle):
    """The process table and its actions (start, stop, restart, reload, delete, reset, signal)."""

    # ------------------------------------------------------------ selection

    def select(self, targets: Iterable[str | int], cwd: str | None = None) -> list[App]:
        """Apps matching any target: all, id, name, namespace, script path or /regex/
        (PM2.md 1.1); cwd reads a relative script path."""
        return select(self.apps.values(), targets, cwd)

    def select_until_unknown(
        self, targets: Iterable[str | int], cwd: str | None = None
    ) -> tuple[list[App], NotFound | None]:
        """The apps of the targets before the first unknown one, and its error (see
        selectors.select_until_unknown)."""
        return select_until_unknown(self.apps.values(), targets, cwd)

    # ------------------------------------------------------------ creating apps

    def prepare(self, spec: AppSpec, shell_env: dict[str, str]) -> list[App]:
        """Resolve a spec into one App per instance, without adding or starting them.

        Raises before anything changes if the script or interpreter cannot be found.
        """
        path_env = spec.env.get("PATH") or shell_env.get("PATH") or os.environ.get("PATH")
        command = resolve_command(spec, path_env)
        if not spec.cwd or not Path(spec.cwd).is_dir():
            raise BadRequest(f"cwd {spec.cwd!r} of app {spec.name!r} is not a directory")
        shell_env = filter_shell_env(shell_env, spec.filter_env)
        first = self.next_id()
        apps = []
        for index in range(spec.instances):
            pm_id = first + index
            paths = self._log_paths(spec, pm_id)
            apps.append(App(pm_id, spec, command, paths, shell_env, instance=index))
        return apps

    def _log_paths(self, spec: AppSpec, pm_id: int, exclude: App | None = None) -> logs.LogPaths:
        """Log paths for an app, kept apart from another app's whose name sanitises the same.

        PM2 sends 'a b', 'a_b' and 'a-b' into one `a-b-out.log`, mixing their output. When
        the default files are already another app's, this one gets `-<id>` files instead.
        """
        paths = logs.resolve_paths(self.home, spec, pm_id)
        if spec.out_file or spec.error_file or spec.disable_logs:
            return paths  # the user chose the files: sharing them is on purpose
        taken = {
            path
            for app in self.apps.values()
            if app.name != spec.name and app is not exclude
            for path in (app.paths.out, app.paths.err)
        }
        if paths.out not in taken and paths.err not in taken:
            return paths
        separate = logs.resolve_paths(self.home, dataclasses.replace(spec, merge_logs=False), pm_id)
        log.warning(
            "App [%s:%d] would share %s with another app; logging to %s instead",
            spec.name,
            pm_id,
            paths.out,
            separate.out,
        )
        return separate

    async def add(self, apps: list[App]) -> list[App]:
        """Put prepared apps in the table and start those with autostart."""
        for app in apps:
            app.instance = self._free_instance(app)
            self.apps[app.pm_id] = app
            app.counters.created_at = self.clock.now_ms()
        await asyncio.gather(*(self._launch_added(app) for app in apps))
        return apps

    def _free_instance(self, app: App) -> int:
        """PM2: NODE_APP_INSTANCE is the smallest index unused among apps of that name."""
        used = {other.instance for other in self.apps.values() if other.name == app.name}
        index = 0
        while index in used:
            index += 1
        return index

    async def _launch_added(self, app: App) -> None:
        if not app.spec.autostart:
            self._changed(app, "stop")
            return
        async with app.lock:
            self._spawn(app, raise_errors=False)

    # ------------------------------------------------------------ actions

    async def start(self, app: App) -> None:
        """Start a stopped or errored app again (`pm start <name>` on a known app)."""
        async with app.lock:
            if app.status in DOWN_STATUSES:
                self._reset_for_manual_start(app)
                self._spawn(app)

    async def stop(self, app: App) -> None:
        async with app.lock:
            await self._stop_locked(app)

    async def _stop_locked(self, app: App) -> None:
        app.stop_requested = True
        if app.restart_timer is not None:
            app.restart_timer.cancel()
            app.restart_timer = None
        proc = app.proc
        if proc is None or proc.exited:
            if app.status != Status.STOPPED:
                app.status = Status.STOPPED
                self._changed(app, "stop")
            return
        app.status = Status.STOPPING
        self._changed(app, "stopping")
        survivors = await self._terminate(app, proc, app.channels)
        if survivors:
            app.status = Status.ERRORED
            log.error(
                "App %s could not be stopped: pids %s survive SIGKILL", app.label(), survivors
            )
            self._changed(app, "errored", reason="stop failed")
            return
        if app.proc is proc:  # exit callback not yet run (adopted or racing): finish here
            app.proc = None
            self._forget_launch(app)
            remove_pid_file(app.paths.pid)
        app.status = Status.STOPPED
        self._changed(app, "stop")

    async def restart(self, app: App, spec: AppSpec | None = None) -> None:
        """Stop then start with the same id; spec, when given, replaces the stored one."""
        async with app.lock:
            await self._restart_locked(app, spec)

    async def _restart_locked(self, app: App, spec: AppSpec | None) -> None:
        was_running = app.proc is not None and not app.proc.exited
        await self._stop_locked(app)
        if spec is not None:
            self._replace_spec(app, spec)
        self._reset_for_manual_start(app)
        if was_running:  # PM2 counts a restart only when a process was replaced
            app.counters.restart_time += 1
        self._spawn(app)
        self._changed(app, "restart")

    async def reload(self, app: App, spec: AppSpec | None = None) -> None:
        """Replace app's process without a gap: start the new one, wait until it is ready, then
        stop the old one (rolling.py). A restart for an app that declares no way to be ready or
        handed over (PM2's fork-mode reload), or that is not running."""
        async with app.lock:
            old = app.proc
            if old is None or old.exited or not rolling.applies(spec or app.spec):
                await self._restart_locked(app, spec)
                return
            previous = (app.spec, app.command, app.paths)
            if spec is not None:
                self._replace_spec(app, spec)
            launched = self._launch(app, run_first=False)
            if isinstance(launched, str):
                app.spec, app.command, app.paths = previous
                raise SpawnError(f"app {app.name!r}: reload kept the running process: {launched}")
            proc, outputs, channels = launched
            outputs.start()
            proc.watch(self.loop, lambda code: self._on_exit(app, proc, code))
            failure = await rolling.until_ready(proc, channels, app.spec, self.loop, self.clock)
            if failure is not None:
                await self._terminate(app, proc, channels)
                channels.close()
                app.spec, app.command, app.paths = previous
                message = f"the new process (pid {proc.pid}) {failure}; pid {old.pid} kept running"
                log.error("App %s reload failed: %s", app.label(), message)
                self._changed(app, "reload failed", reason=message)
                raise SpawnError(f"app {app.name!r}: reload failed: {message}")
            old_channels = app.channels
            app.counters.restart_time += 1
            self._attach(app, proc, channels, ready=True)
            self._changed(app, "restart")
            between_requests = None
            if app.spec.listen or rolling.cluster_worker(app.spec):  # a server on a shared socket
                between_requests = functools.partial(quiesce.pause_between_requests, old, QUIESCE_S)
            await self._terminate(app, old, old_channels, between_requests)
            if old_channels is not None:
                old_channels.close()

    def _replace_spec(self, app: App, spec: AppSpec) -> None:
        path_env = spec.env.get("PATH") or app.shell_env.get("PATH")
        app.command = resolve_command(spec, path_env)
        app.spec = spec
        app.paths = self._log_paths(spec, app.pm_id, exclude=app)

    def _reset_for_manual_start(self, app: App) -> None:
        app.counters.created_at = self.clock.now_ms()
        app.counters.unstable_restarts = 0
        app.counters.prev_restart_delay = 0

    async def delete(self, app: App) -> None:
        async with app.lock:
            await self._stop_locked(app)
            self.apps.pop(app.pm_id, None)
            if not any(other.name == app.name for other in self.apps.values()):
                self.listeners.release(app.name)
            self._changed(app, "delete")

    def reset(self, app: App) -> None:
        """PM2's reset: zero the counters and start the created_at clock again."""
        app.counters.restart_time = 0
        app.counters.unstable_restarts = 0
        app.counters.created_at = self.clock.now_ms()
        self._changed(app, "reset")

    def send_signal(self, app: App, signum: int) -> bool:
        if app.proc is None or app.proc.exited:
            return False
        return app.proc.signal(signum)

    async def stop_all(self) -> None:
        from pm.daemon.core.groups import stop_in_order  # reverse priority / depends_on order

        await stop_in_order(self.apps.values(), self.stop)


async def each(
    apps: Iterable[App], action: Callable[[App], Awaitable[None]]
) -> list[BaseException]:
    """Run action on every app at once; return the errors instead of stopping at the first."""
    results = await asyncio.gather(*(action(app) for app in list(apps)), return_exceptions=True)
    return [result for result in results if isinstance(result, BaseException)]


def ensure_unique_start(existing: list[App], force: bool, name: str) -> None:
    """PM2 refuses to launch the same script and name twice unless forced."""
    if existing and not force:
        raise Conflict(
            f"Script already launched as {name!r} (id {existing[0].pm_id}), "
            "add -f option to force re-execution"
        )
