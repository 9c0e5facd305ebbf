"""The lifecycle of one app's processes: launch, readiness, exit, relaunch by policy.

`Supervisor` (supervisor.py) adds the process table's actions on top. This part starts
processes only through its `ProcessFactory` and reads time only through its `Clock`, so tests
drive the state machine with fakes (tests/test_supervisor.py).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from pm.daemon.core.app import App
from pm.daemon.core.clock import Clock, SystemClock
from pm.daemon.core.events import EventBus
from pm.daemon.core.launch import Launched, launch, remove_pid_file, write_pid_file
from pm.daemon.core.listeners import Listeners
from pm.daemon.core.policy import after_exit
from pm.daemon.core.process import AppProcess, OSProcess, ProcessFactory, describe_exit
from pm.daemon.core.readiness import LISTENING, Channels
from pm.daemon.core.rolling import cluster_worker
from pm.daemon.core.termination import terminate
from pm.errors import BadRequest, SpawnError
from pm.paths import Home
from pm.protocol import Status

log = logging.getLogger("pm")

ChangeListener = Callable[[], None]


class Lifecycle:
    def __init__(
        self,
        home: Home,
        bus: EventBus | None = None,
        *,
        clock: Clock | None = None,
        spawn: ProcessFactory = OSProcess.spawn,
    ) -> None:
        """clock and spawn: where time comes from and how a process starts (tests pass fakes)."""
        self.home = home
        self.bus = bus or EventBus()
        self.clock: Clock = clock or SystemClock()
        self.spawn_process = spawn
        self.listeners = Listeners()
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
            {
                "event": event,
                "pm_id": app.pm_id,
                "name": app.name,
                "namespace": app.spec.namespace,
                "status": str(app.status),
                "pid": app.pid,
                **extra,
            },
        )
        for listener in self._listeners:
            try:
                listener()
            except Exception:  # a listener must never break the lifecycle
                log.exception("change listener failed")

    def announce(self, app: App, event: str, **extra: Any) -> None:
        """Publish an event about app that is not a lifecycle step (e.g. a health change)."""
        self._changed(app, event, **extra)

    def next_id(self) -> int:
        """PM2 never reuses an id until the table is empty."""
        return max(self.apps) + 1 if self.apps else 0

    # ------------------------------------------------------------ spawning and exits

    def _spawn(
        self,
        app: App,
        raise_errors: bool = True,
        then: Callable[[], None] | None = None,
        run_first: bool = False,
    ) -> None:
        """Start app's process now; on failure the app ends errored.

        then() runs right after the launch, before the launch is logged or announced: a
        relaunch passes the bookkeeping of the exit that caused it, so the crashed app is back
        without waiting for it and the log still reads exited, starting, online. run_first:
        see OSProcess.spawn."""
        app.status = Status.LAUNCHING
        app.stop_requested = False
        launched = self._launch(app, run_first)
        if then is not None:
            then()
        if isinstance(launched, str):
            self._spawn_failed(app, launched, raise_errors)
            return
        proc, outputs, channels = launched
        outputs.start()
        mode = app.spec.exec_mode.replace("_mode", "")
        log.info("App %s starting in -%s mode-", app.label(), mode)
        proc.watch(self.loop, lambda code: self._on_exit(app, proc, code))
        self._attach(app, proc, channels, ready=not app.spec.wait_ready)

    def _launch(self, app: App, run_first: bool) -> Launched | str:
        """Start a process for app (not yet its current one), with its handed-over sockets."""
        try:
            fds = self.listeners.acquire(app.spec.listen, app.name)
        except BadRequest as exc:
            return exc.message
        share = None
        if cluster_worker(app.spec):  # a Node cluster worker: pm is its primary
            share = functools.partial(self.listeners.share, app_name=app.name)
        return launch(app, str(self.home.root), self.spawn_process, run_first, fds, share)

    def _attach(self, app: App, proc: AppProcess, channels: Channels, ready: bool) -> None:
        """Make proc app's process: online when ready, else launching until it says it is
        ready or listen_timeout runs out (wait_ready)."""
        app.proc = proc
        app.channels = channels
        app.counters.pm_uptime = self.clock.now_ms()
        app.exit_code = None
        write_pid_file(app.paths.pid, proc.pid)
        channels.listen(self.loop, lambda how: self._heard(app, proc, how))
        if ready:
            self._online(app)
            return
        app.status = Status.LAUNCHING
        app.launched.clear()
        app.ready_timer = self.clock.call_later(
            app.spec.listen_timeout / 1000, self.mark_ready, app, proc, None
        )
        log.info(
            "App %s launching: waiting for its ready signal (listen_timeout %dms)",
            app.label(),
            app.spec.listen_timeout,
        )
        self._changed(app, "launching")

    def _online(self, app: App) -> None:
        app.status = Status.ONLINE
        app.launched.set()
        log.info("App %s online", app.label())
        self._changed(app, "online")

    def _heard(self, app: App, proc: AppProcess, how: str) -> None:
        """A word from the app: ready (wait_ready), or a cluster worker's 'listening' (which
        only a rolling reload waits for; PM2's wait_ready waits for 'ready' itself)."""
        if how != LISTENING:
            self.mark_ready(app, proc, how)

    def mark_ready(self, app: App, proc: AppProcess, how: str | None) -> None:
        """The app said it is ready (how), or listen_timeout ran out (None): online, as PM2."""
        if app.proc is not proc or app.status != Status.LAUNCHING:
            return  # a late word, or one from a process that is no longer the app's
        if app.ready_timer is not None:
            app.ready_timer.cancel()
            app.ready_timer = None
        if how is None:
            log.warning(
                "App %s sent no ready signal within listen_timeout (%dms); "
                "counting it as ready, as PM2 does",
                app.label(),
                app.spec.listen_timeout,
            )
        else:
            log.info("App %s is ready (%s)", app.label(), how)
        self._online(app)

    async def until_launched(self, apps: Iterable[App]) -> None:
        """Wait until none of apps is launching (each waits at most its listen_timeout)."""
        await asyncio.gather(
            *(app.launched.wait() for app in apps if app.status == Status.LAUNCHING)
        )

    def adopt(self, app: App, proc: AppProcess) -> None:
        """Take over a process a previous daemon started (crash recovery)."""
        self.apps[app.pm_id] = app
        app.proc = proc
        app.status = Status.ONLINE
        app.launched.set()
        for address in app.spec.listen:  # its handed-over sockets, for the next launches
            self.listeners.take_from(proc.pid, address, app.name)
        proc.watch(self.loop, lambda code: self._on_exit(app, proc, code))
        log.info("App %s re-adopted (pid %d)", app.label(), proc.pid)
        self._changed(app, "online")

    def _spawn_failed(self, app: App, message: str, raise_errors: bool) -> None:
        app.status = Status.ERRORED
        app.launched.set()
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
        self._forget_launch(app)
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
            log.info('Script %s had %s. Stopped. "errored"', app.command.exec_path, decision.reason)
            self._changed(app, "restart overlimit", reason=decision.reason)
        elif decision.delay_ms:
            app.status = Status.WAITING_RESTART
            log.info("App %s will restart in %dms", app.label(), decision.delay_ms)
            app.restart_timer = self.clock.call_later(decision.delay_ms / 1000, self._relaunch, app)
            self._changed(app, "waiting restart", delay_ms=decision.delay_ms)

    def _forget_launch(self, app: App) -> None:
        """The exited process's channels and ready timer go; whoever waits for it is freed."""
        if app.ready_timer is not None:
            app.ready_timer.cancel()
            app.ready_timer = None
        if app.channels is not None:
            app.channels.close()
            app.channels = None
        app.launched.set()

    def _exited(self, app: App, code: int | None, manually: bool, status: str) -> None:
        """Log and announce an exit; its pid file goes (a relaunch writes the next one after).

        status is what the event reports (a relaunch may already have set the app's own)."""
        remove_pid_file(app.paths.pid)
        log.info("App %s exited with code [%s] via signal [%s]", app.label(), *describe_exit(code))
        self._changed(app, "exit", exit_code=code, manually=manually, status=status)

    def _relaunch(self, app: App, then: Callable[[], None] | None = None) -> None:
        app.restart_timer = None
        if app.pm_id not in self.apps or app.stop_requested or app.proc is not None:
            if then is not None:
                then()
            return
        app.counters.restart_time += 1
        self._spawn(app, raise_errors=False, then=then, run_first=True)
        if app.status in (Status.ONLINE, Status.LAUNCHING):
            self._changed(app, "restart")

    async def _terminate(
        self,
        app: App,
        proc: AppProcess,
        channels: Channels | None,
        moment: Callable[[], Awaitable[Callable[[], object]]] | None = None,
    ) -> list[int]:
        """Stop proc: the kill signal, or the 'shutdown' message (shutdown_with_message, Node
        apps); SIGKILL after kill_timeout. Returns the pids that survived. moment: see
        termination.terminate."""
        ask = channels.send_shutdown if channels and app.spec.shutdown_with_message else None
        spec = app.spec
        return await terminate(
            proc, spec.kill_timeout / 1000, spec.treekill, self.clock, ask, moment, spec.kill_signal
        )
