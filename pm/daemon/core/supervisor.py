"""The process table: ids, and the lifecycle of every app.

Actions (start, stop, restart, delete, reset, signal) take apps chosen by selectors
(selectors.py); exits arrive from the event loop the moment they happen and run PM2's restart
policy (`policy.after_exit`). Batch actions run in parallel: stopping 50 apps takes one
kill_timeout, not 25.

The supervisor reads time only through its `Clock` and starts processes only through its
`ProcessFactory`, so tests can replace both (tests/test_supervisor.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from pm.config.command import resolve_command
from pm.config.spec import AppSpec
from pm.daemon.core.app import App, filter_shell_env
from pm.daemon.core.clock import Clock, SystemClock
from pm.daemon.core.events import EventBus
from pm.daemon.core.launch import launch, remove_pid_file, write_pid_file
from pm.daemon.core.policy import after_exit
from pm.daemon.core.process import AppProcess, OSProcess, ProcessFactory
from pm.daemon.core.selectors import select, select_until_unknown
from pm.daemon.core.termination import terminate
from pm.daemon.output import logfiles as logs
from pm.errors import BadRequest, Conflict, NotFound, SpawnError
from pm.paths import Home
from pm.protocol import DOWN_STATUSES, Status

log = logging.getLogger("pm")

ChangeListener = Callable[[], None]


class Supervisor:
    def __init__(self, home: Home, bus: EventBus | None = None, *, clock: Clock | None = None,
                 spawn: ProcessFactory = OSProcess.spawn) -> None:
        """clock and spawn: where time comes from and how a process starts (tests pass fakes)."""
        self.home = home
        self.bus = bus or EventBus()
        self.clock: Clock = clock or SystemClock()
        self.spawn_process = spawn
        self.apps: dict[int, App] = {}
        self._listeners: list[ChangeListener] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------ plumbing

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def on_change(self, listener: ChangeListener) -> None:
        """Call listener after every change of the table or of an app's state."""
        self._listeners.append(listener)

    def _changed(self, app: App, event: str, **extra: Any) -> None:
        self.bus.publish(
            "process",
            {"event": event, "pm_id": app.pm_id, "name": app.name,
             "namespace": app.spec.namespace, "status": str(app.status), "pid": app.pid, **extra},
        )
        for listener in self._listeners:
            try:
                listener()
            except Exception:  # a listener must never break the lifecycle
                log.exception("change listener failed")

    def next_id(self) -> int:
        """PM2 never reuses an id until the table is empty."""
        return max(self.apps) + 1 if self.apps else 0

    # ------------------------------------------------------------ selection

    def select(self, targets: Iterable[str | int], cwd: str | None = None) -> list[App]:
        """Apps matching any target: all, id, name, namespace, script path or /regex/
        (PM2.md 1.1); cwd reads a relative script path."""
        return select(self.apps.values(), targets, cwd)

    def select_until_unknown(self, targets: Iterable[str | int], cwd: str | None = None
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
        taken = {path for app in self.apps.values() if app.name != spec.name and app is not exclude
                 for path in (app.paths.out, app.paths.err)}
        if paths.out not in taken and paths.err not in taken:
            return paths
        separate = logs.resolve_paths(self.home, dataclasses.replace(spec, merge_logs=False), pm_id)
        log.warning("App [%s:%d] would share %s with another app; logging to %s instead",
                    spec.name, pm_id, paths.out, separate.out)
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

    # ------------------------------------------------------------ spawning and exits

    def _spawn(self, app: App, raise_errors: bool = True,
               then: Callable[[], None] | None = None, run_first: bool = False) -> None:
        """Start app's process now; on failure the app ends errored.

        then() runs right after the launch, before the launch is logged or announced: a
        relaunch passes the bookkeeping of the exit that caused it, so the crashed app is back
        without waiting for it and the log still reads exited, starting, online. run_first:
        see OSProcess.spawn."""
        app.status = Status.LAUNCHING
        app.stop_requested = False
        launched = launch(app, str(self.home.root), self.spawn_process, run_first)
        if then is not None:
            then()
        if isinstance(launched, str):
            self._spawn_failed(app, launched, raise_errors)
            return
        proc, outputs = launched
        outputs.start()
        mode = app.spec.exec_mode.replace("_mode", "")
        log.info("App %s starting in -%s mode-", app.label(), mode)
        self._attach(app, proc)

    def _attach(self, app: App, proc: AppProcess) -> None:
        app.proc = proc
        app.counters.pm_uptime = self.clock.now_ms()
        app.status = Status.ONLINE
        app.exit_code = None
        write_pid_file(app.paths.pid, proc.pid)
        proc.watch(self.loop, lambda code: self._on_exit(app, proc, code))
        log.info("App %s online", app.label())
        self._changed(app, "online")

    def adopt(self, app: App, proc: AppProcess) -> None:
        """Take over a process a previous daemon started (crash recovery)."""
        self.apps[app.pm_id] = app
        app.proc = proc
        app.status = Status.ONLINE
        proc.watch(self.loop, lambda code: self._on_exit(app, proc, code))
        log.info("App %s re-adopted (pid %d)", app.label(), proc.pid)
        self._changed(app, "online")

    def _spawn_failed(self, app: App, message: str, raise_errors: bool) -> None:
        app.status = Status.ERRORED
        app.proc = None
        log.error("App %s %s", app.label(), message)
        self._changed(app, "errored", reason=message)
        if raise_errors:
            raise SpawnError(f"app {app.name!r}: {message}")

    def _on_exit(self, app: App, proc: AppProcess, code: int | None) -> None:
        if app.proc is not proc:
            return  # a stale process of an app that was restarted meanwhile
        app.proc = None
        app.exit_code = code
        if app.spec.treekill:
            proc.signal_group(signal.SIGKILL)  # no orphan outlives the app's group
        if app.stop_requested or app.pm_id not in self.apps:
            self._exited(app, code, manually=True, status=str(app.status))
            return  # stop() is waiting for this exit and sets the final status
        decision = after_exit(app.policy, app.counters, code, self.clock.now_ms())
        # As PM2's exit event: "stopped", or "errored" when this exit ends the restarts.
        down = str(Status.ERRORED if decision.action == "errored" else Status.STOPPED)
        if decision.action == "restart" and not decision.delay_ms:
            self._relaunch(app, then=lambda: self._exited(app, code, manually=False, status=down))
            return
        self._exited(app, code, manually=False, status=down)
        if decision.action == "stop":
            app.status = Status.STOPPED
            self._changed(app, "stop", reason=decision.reason)
        elif decision.action == "errored":
            app.status = Status.ERRORED
            log.info("Script %s had %s. Stopped. \"errored\"", app.command.exec_path, decision.reason)
            self._changed(app, "restart overlimit", reason=decision.reason)
        elif decision.delay_ms:
            app.status = Status.WAITING_RESTART
            log.info("App %s will restart in %dms", app.label(), decision.delay_ms)
            app.restart_timer = self.clock.call_later(decision.delay_ms / 1000, self._relaunch, app)
            self._changed(app, "waiting restart", delay_ms=decision.delay_ms)

    def _exited(self, app: App, code: int | None, manually: bool, status: str) -> None:
        """Log and announce an exit; its pid file goes (a relaunch writes the next one after).

        status is what the event reports (a relaunch may already have set the app's own)."""
        remove_pid_file(app.paths.pid)
        log.info("App %s exited with code [%s] via signal [%s]", app.label(),
                 *_describe_exit(code))
        self._changed(app, "exit", exit_code=code, manually=manually, status=status)

    def _relaunch(self, app: App, then: Callable[[], None] | None = None) -> None:
        app.restart_timer = None
        if app.pm_id not in self.apps or app.stop_requested or app.proc is not None:
            if then is not None:
                then()
            return
        app.counters.restart_time += 1
        self._spawn(app, raise_errors=False, then=then, run_first=True)
        if app.status == Status.ONLINE:
            self._changed(app, "restart")

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
        survivors = await terminate(proc, app.spec.kill_timeout / 1000, app.spec.treekill,
                                    self.clock)
        if survivors:
            app.status = Status.ERRORED
            log.error("App %s could not be stopped: pids %s survive SIGKILL", app.label(), survivors)
            self._changed(app, "errored", reason="stop failed")
            return
        if app.proc is proc:  # exit callback not yet run (adopted or racing): finish here
            app.proc = None
            remove_pid_file(app.paths.pid)
        app.status = Status.STOPPED
        self._changed(app, "stop")

    async def restart(self, app: App, spec: AppSpec | None = None) -> None:
        """Stop then start with the same id; spec, when given, replaces the stored one."""
        async with app.lock:
            was_running = app.proc is not None and not app.proc.exited
            await self._stop_locked(app)
            if spec is not None:
                self._replace_spec(app, spec)
            self._reset_for_manual_start(app)
            if was_running:  # PM2 counts a restart only when a process was replaced
                app.counters.restart_time += 1
            self._spawn(app)
            self._changed(app, "restart")

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


async def each(apps: Iterable[App], action: Callable[[App], Awaitable[None]]) -> list[BaseException]:
    """Run action on every app at once; return the errors instead of stopping at the first."""
    results = await asyncio.gather(*(action(app) for app in list(apps)), return_exceptions=True)
    return [result for result in results if isinstance(result, BaseException)]


def _describe_exit(code: int | None) -> tuple[str, str]:
    if code is None:
        return "unknown", "unknown"
    if code < 0:
        try:
            return "null", signal.Signals(-code).name
        except ValueError:
            return "null", str(-code)
    return str(code), "null"


def ensure_unique_start(existing: list[App], force: bool, name: str) -> None:
    """PM2 refuses to launch the same script and name twice unless forced."""
    if existing and not force:
        raise Conflict(
            f"Script already launched as {name!r} (id {existing[0].pm_id}), "
            "add -f option to force re-execution"
        )
