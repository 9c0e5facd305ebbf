"""The supervisor's state machine driven by a fake clock and fake processes.

Crash loops, restart delays, backoff and stops play out in fake time: no child process runs and
nothing sleeps, so every timing below is exact. The fakes implement `Clock` (clock.py) and
`ProcessFactory`/`AppProcess` (process.py); the Supervisor, App and policy are the real ones.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import itertools
import os
import signal
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from pm.config.spec import AppSpec
from pm.daemon.core.app import App
from pm.daemon.core.policy import EXP_BACKOFF_CAP_MS
from pm.daemon.core.process import ExitCallback, LaunchSpec
from pm.daemon.core.supervisor import Supervisor
from pm.paths import Home
from pm.protocol import Status

#: The fake wall clock starts here (ms since the epoch); fake times below are relative to it.
EPOCH_MS = 1_700_000_000_000


async def settle() -> None:
    """Let every callback and task that is ready run (a few turns of the loop)."""
    for _ in range(20):
        await asyncio.sleep(0)


@dataclasses.dataclass(order=True)
class FakeTimer:
    when_us: int
    seq: int
    callback: Callable[..., object] = dataclasses.field(compare=False)
    args: tuple[Any, ...] = dataclasses.field(compare=False)
    cancelled: bool = dataclasses.field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A `Clock` whose time moves only in `advance`; timers fire in order at their exact time.

    Time is kept in whole microseconds so delays such as 0.337 s land exactly on 337 ms."""

    def __init__(self) -> None:
        self.us = 0
        self._timers: list[FakeTimer] = []
        self._seq = itertools.count()

    @property
    def ms(self) -> int:
        """Fake ms since the start of the test."""
        return self.us // 1000

    def now_ms(self) -> int:
        return EPOCH_MS + self.ms

    def monotonic(self) -> float:
        return self.us / 1_000_000

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> FakeTimer:
        timer = FakeTimer(self.us + round(delay * 1_000_000), next(self._seq), callback, args)
        heapq.heappush(self._timers, timer)
        return timer

    async def completes_within(self, awaitable: Awaitable[object], timeout: float) -> bool:
        task = asyncio.ensure_future(awaitable)
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            task.cancel()

        timer = self.call_later(timeout, expire)
        try:
            await task
        except asyncio.CancelledError:
            if expired:
                return False
            raise
        finally:
            timer.cancel()
        return True

    def pending(self) -> list[FakeTimer]:
        return [timer for timer in self._timers if not timer.cancelled]

    async def advance(self, ms: int) -> None:
        """Move time on by ms, firing each timer due on the way at its own time."""
        target = self.us + ms * 1000
        while self._timers and self._timers[0].when_us <= target:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self.us = timer.when_us
            timer.callback(*timer.args)
            await settle()
        self.us = target
        await settle()

    async def advance_to_next_timer(self) -> None:
        pending = self.pending()
        assert pending, "no timer is pending"
        await self.advance((min(pending).when_us - self.us) // 1000)


class FakeProcess:
    """An `AppProcess` that exits when told to, or when sent a signal it does not ignore.

    Exits are noticed on the loop's next turn, as the real pidfd watch notices them."""

    def __init__(self, pid: int, started_ms: int, ignored: set[int]) -> None:
        self.pid = pid
        self.exited = False
        self.returncode: int | None = None
        self.create_time = started_ms / 1000
        self.signals: list[tuple[int, bool]] = []  # (signal, sent to the group too)
        self.group_signals: list[int] = []
        self._ignored = ignored
        self._dying = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_exit: ExitCallback | None = None
        self._waiters: list[asyncio.Future[None]] = []

    def watch(self, loop: asyncio.AbstractEventLoop, on_exit: ExitCallback) -> None:
        self._loop, self._on_exit = loop, on_exit

    def exit(self, code: int | None) -> None:
        """The process ends with code (negative: killed by that signal)."""
        assert self._loop is not None and not self._dying
        self._dying = True
        self._loop.call_soon(self._finish, code)

    def _finish(self, code: int | None) -> None:
        self.exited, self.returncode = True, code
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        assert self._on_exit is not None
        self._on_exit(code)

    async def wait(self, timeout: float | None = None) -> bool:
        assert timeout is None, "the supervisor times its waits with its clock"
        if not self.exited:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await asyncio.shield(waiter)
        return True

    def tree(self) -> list[int]:
        return []

    def signal(self, sig: int, tree: Iterable[int] = (), group: bool = False) -> bool:
        assert not list(tree)
        if self.exited:
            return False
        self.signals.append((sig, group))
        if sig not in self._ignored and not self._dying:
            self.exit(-sig)
        return True

    def signal_group(self, sig: int) -> bool:
        self.group_signals.append(sig)
        return True

    async def wait_descendants(self, pids: Iterable[int], timeout: float) -> list[int]:
        assert not list(pids)
        return []


class FakeSpawner:
    """A `ProcessFactory` that records every launch and its fake time."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.processes: list[FakeProcess] = []
        self.launches: list[LaunchSpec] = []
        self.spawned_at: list[int] = []  # fake ms of each launch
        self.ignored: set[int] = set()  # signals the next processes ignore

    def __call__(self, spec: LaunchSpec, run_first: bool = False) -> FakeProcess:
        proc = FakeProcess(40_000 + len(self.processes), self.clock.now_ms(), set(self.ignored))
        self.processes.append(proc)
        self.launches.append(spec)
        self.spawned_at.append(self.clock.ms)
        return proc

    @property
    def current(self) -> FakeProcess:
        return self.processes[-1]


@dataclasses.dataclass
class Rig:
    workdir: Path
    clock: FakeClock
    spawner: FakeSpawner
    sup: Supervisor

    async def start(self, **fields: Any) -> App:
        spec = AppSpec(
            script=str(self.workdir / "app.py"),
            name="app",
            cwd=str(self.workdir),
            disable_logs=True,
            **fields,
        )
        [app] = await self.sup.add(self.sup.prepare(spec, {"PATH": os.environ["PATH"]}))
        return app

    async def crash(self, code: int | None = 1, after_ms: int = 0) -> None:
        """Let the current process run after_ms, then have it exit with code."""
        await self.clock.advance(after_ms)
        self.spawner.current.exit(code)
        await settle()

    @property
    def spawns(self) -> int:
        return len(self.spawner.processes)


def play(tmp_path: Path, scenario: Callable[[Rig], Awaitable[None]]) -> None:
    (tmp_path / "app.py").write_text("")
    clock = FakeClock()
    spawner = FakeSpawner(clock)
    sup = Supervisor(Home(tmp_path / "home"), clock=clock, spawn=spawner)

    async def scenario_then_close() -> None:
        await scenario(Rig(tmp_path, clock, spawner, sup))
        for app in sup.apps.values():  # the real notify sockets of wait_ready apps
            if app.channels is not None:
                app.channels.close()

    asyncio.run(scenario_then_close())


@pytest.fixture(autouse=True)
def default_kill_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PM_KILL_SIGNAL", raising=False)
    monkeypatch.delenv("PM2_KILL_SIGNAL", raising=False)


# ---------------------------------------------------------------- crash loops


def test_crash_loop_inside_min_uptime_ends_errored_after_max_restarts(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        app = await rig.start(max_restarts=5, min_uptime=1000)
        for _ in range(4):
            await rig.crash(1, after_ms=100)
            assert app.status == Status.ONLINE  # relaunched at once: no restart_delay
        await rig.crash(1, after_ms=100)
        assert app.status == Status.ERRORED
        assert rig.spawner.spawned_at == [0, 100, 200, 300, 400]
        assert app.counters.restart_time == 4
        assert app.counters.unstable_restarts == 0  # PM2 starts the count over
        assert (app.proc, app.pid, app.exit_code) == (None, 0, 1)
        await rig.clock.advance(60_000)
        assert rig.spawns == 5 and app.status == Status.ERRORED

    play(tmp_path, scenario)


@pytest.mark.parametrize(
    ("lifetime_ms", "status", "restarts"), [(999, Status.ERRORED, 2), (1000, Status.ONLINE, 10)]
)
def test_only_runs_shorter_than_min_uptime_count_as_unstable(
    tmp_path: Path, lifetime_ms: int, status: Status, restarts: int
) -> None:
    async def scenario(rig: Rig) -> None:
        app = await rig.start(max_restarts=3, min_uptime=1000)
        for lifetime in [10, 10] + [lifetime_ms] * 8:  # two unstable runs, then the boundary
            if app.status != Status.ONLINE:
                break
            await rig.crash(1, after_ms=lifetime)
        assert app.status == status
        assert app.counters.restart_time == restarts
        assert rig.spawns == restarts + 1

    play(tmp_path, scenario)


# ---------------------------------------------------------------- restart delays


def test_restart_delay_relaunches_after_exactly_the_delay(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        app = await rig.start(restart_delay=2000)
        await rig.crash(1, after_ms=5000)
        assert app.status == Status.WAITING_RESTART
        await rig.clock.advance(1999)
        assert rig.spawns == 1 and app.status == Status.WAITING_RESTART
        await rig.clock.advance(1)
        assert rig.spawner.spawned_at == [0, 7000]
        assert app.status == Status.ONLINE
        assert app.counters.restart_time == 1

    play(tmp_path, scenario)


def test_stop_during_the_restart_delay_cancels_the_relaunch(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        app = await rig.start(restart_delay=2000)
        await rig.crash(1, after_ms=5000)
        assert app.status == Status.WAITING_RESTART and len(rig.clock.pending()) == 1
        await rig.clock.advance(1000)
        await rig.sup.stop(app)
        assert app.status == Status.STOPPED
        assert rig.clock.pending() == []
        await rig.clock.advance(60_000)
        assert rig.spawns == 1
        assert app.status == Status.STOPPED
        assert app.counters.restart_time == 0
        assert rig.spawner.processes[0].signals == []  # it was already dead: nothing to signal

    play(tmp_path, scenario)


def test_exp_backoff_grows_by_half_to_the_cap_and_resets_after_a_stable_run(tmp_path: Path) -> None:
    # policy.py: base delay, then x1.5 (truncated) per restart, capped; back to the base after
    # a run longer than EXP_BACKOFF_RESET_MS (30 s).
    expected = [
        100,
        150,
        225,
        337,
        505,
        757,
        1135,
        1702,
        2553,
        3829,
        5743,
        8614,
        12921,
        EXP_BACKOFF_CAP_MS,
        EXP_BACKOFF_CAP_MS,
    ]

    async def scenario(rig: Rig) -> None:
        app = await rig.start(exp_backoff_restart_delay=100, max_restarts=100)
        delays = []
        for _ in expected:
            await rig.crash(1, after_ms=10)
            crashed_at = rig.clock.ms
            assert app.status == Status.WAITING_RESTART
            await rig.clock.advance_to_next_timer()
            assert app.status == Status.ONLINE
            delays.append(rig.spawner.spawned_at[-1] - crashed_at)
        assert delays == expected
        await rig.crash(1, after_ms=30_001)  # a stable run
        crashed_at = rig.clock.ms
        await rig.clock.advance_to_next_timer()
        assert rig.spawner.spawned_at[-1] - crashed_at == 100
        assert app.counters.restart_time == len(expected) + 1

    play(tmp_path, scenario)


# ---------------------------------------------------------------- exits that end the app


def test_autorestart_false_leaves_the_app_stopped_after_it_exits(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        events = rig.sup.bus.subscribe()
        app = await rig.start(autorestart=False)
        await rig.crash(1, after_ms=5000)
        await rig.clock.advance(60_000)
        assert app.status == Status.STOPPED
        assert rig.spawns == 1 and rig.clock.pending() == []
        assert (app.exit_code, app.counters.restart_time) == (1, 0)
        seen = [events.get_nowait()["data"] for _ in range(events.qsize())]
        assert [item["event"] for item in seen] == ["online", "exit", "stop"]
        assert seen[1]["manually"] is False

    play(tmp_path, scenario)


def test_stop_exit_codes_stop_the_app_and_other_codes_restart_it(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        app = await rig.start(stop_exit_codes=[3])
        await rig.crash(3, after_ms=5000)
        assert app.status == Status.STOPPED and rig.spawns == 1
        await rig.sup.start(app)
        assert app.status == Status.ONLINE and rig.spawns == 2
        await rig.crash(4, after_ms=5000)
        assert app.status == Status.ONLINE and rig.spawns == 3
        assert app.counters.restart_time == 1

    play(tmp_path, scenario)


# ---------------------------------------------------------------- stopping


def test_a_stop_the_process_ignores_escalates_to_sigkill_after_kill_timeout(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        rig.spawner.ignored = {signal.SIGINT}
        app = await rig.start(kill_timeout=1600)
        proc = rig.spawner.current
        stopping = asyncio.ensure_future(rig.sup.stop(app))
        await settle()
        assert proc.signals == [(signal.SIGINT, True)]
        assert app.status == Status.STOPPING
        await rig.clock.advance(1599)
        assert proc.signals == [(signal.SIGINT, True)] and not stopping.done()
        await rig.clock.advance(1)
        assert proc.signals == [(signal.SIGINT, True), (signal.SIGKILL, True)]
        assert stopping.done()
        await stopping
        assert app.status == Status.STOPPED
        assert app.exit_code == -signal.SIGKILL
        assert proc.group_signals == [signal.SIGKILL]  # treekill: the group goes with it
        await rig.clock.advance(60_000)
        assert rig.spawns == 1

    play(tmp_path, scenario)


@pytest.mark.parametrize("treekill", [True, False])
def test_a_process_that_obeys_the_kill_signal_stops_at_once(tmp_path: Path, treekill: bool) -> None:
    async def scenario(rig: Rig) -> None:
        app = await rig.start(treekill=treekill)
        proc = rig.spawner.current
        await rig.sup.stop(app)
        assert rig.clock.ms == 0  # no timeout ran out
        assert proc.signals == [(signal.SIGINT, treekill)]
        assert proc.group_signals == ([signal.SIGKILL] if treekill else [])
        assert (app.status, app.exit_code, rig.spawns) == (Status.STOPPED, -signal.SIGINT, 1)

    play(tmp_path, scenario)


def test_a_process_that_survives_sigkill_leaves_the_app_errored(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        rig.spawner.ignored = {signal.SIGINT, signal.SIGKILL}
        app = await rig.start(kill_timeout=500)
        stopping = asyncio.ensure_future(rig.sup.stop(app))
        await settle()
        await rig.clock.advance(999)
        assert not stopping.done()
        await rig.clock.advance(1)
        assert stopping.done()
        await stopping
        assert app.status == Status.ERRORED
        assert rig.spawner.current.signals == [(signal.SIGINT, True), (signal.SIGKILL, True)]

    play(tmp_path, scenario)


# ---------------------------------------------------------------- the app's policy


def test_the_policy_is_built_once_per_spec(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        app = await rig.start(
            restart_delay=250,
            stop_exit_codes=[0, 2],
            max_restarts=4,
            min_uptime=300,
            exp_backoff_restart_delay=50,
            autorestart=False,
        )
        policy = app.policy
        assert app.policy is policy
        assert (
            policy.restart_delay,
            policy.stop_exit_codes,
            policy.max_restarts,
            policy.min_uptime,
            policy.exp_backoff_restart_delay,
            policy.autorestart,
        ) == (250, (0, 2), 4, 300, 50, False)
        app.spec = dataclasses.replace(app.spec, restart_delay=900)
        assert app.policy is not policy
        assert app.policy.restart_delay == 900
        assert app.policy is app.policy

    play(tmp_path, scenario)


# ---------------------------------------------------------------- readiness and reload


async def say_ready(rig: Rig, heard: Callable[[], bool]) -> None:
    """The last launched process sends READY=1 to its notify socket (a real datagram socket);
    returns once heard() says the supervisor took it (the loop reads it on a later turn)."""
    import socket

    address = rig.spawner.launches[-1].env["NOTIFY_SOCKET"]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"STATUS=warming up\nREADY=1", address)
    for _ in range(1000):
        if heard():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("the supervisor did not take the ready datagram within 2 s")


async def reload_started(
    rig: Rig, listen_timeout: int
) -> tuple[App, FakeProcess, asyncio.Task[None]]:
    """A wait_ready app that is online, and its reload under way: (app, old process, task)."""
    app = await rig.start(wait_ready=True, listen_timeout=listen_timeout)
    await say_ready(rig, lambda: app.status == Status.ONLINE)
    old = rig.spawner.current
    return app, old, asyncio.create_task(rig.sup.reload(app))


def test_wait_ready_app_is_launching_until_it_says_ready(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        app = await rig.start(wait_ready=True, listen_timeout=3000)
        assert app.status == Status.LAUNCHING
        await rig.clock.advance(2999)
        assert app.status == Status.LAUNCHING
        await say_ready(rig, lambda: app.status == Status.ONLINE)
        await rig.clock.advance(10_000)  # the listen_timeout timer was cancelled
        assert app.status == Status.ONLINE and rig.spawns == 1

    play(tmp_path, scenario)


def test_wait_ready_without_a_word_goes_online_at_listen_timeout(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        app = await rig.start(wait_ready=True, listen_timeout=3000)
        waiter = asyncio.create_task(rig.sup.until_launched([app]))
        await rig.clock.advance(2999)
        assert app.status == Status.LAUNCHING and not waiter.done()
        await rig.clock.advance(1)
        assert app.status == Status.ONLINE and waiter.done()

    play(tmp_path, scenario)


def test_reload_stops_the_old_process_only_once_the_new_one_is_ready(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        app, old, reload = await reload_started(rig, listen_timeout=5000)
        await rig.clock.advance(1000)
        new = rig.spawner.current
        assert new is not old and old.signals == [] and app.proc is old
        await say_ready(rig, reload.done)
        await reload
        assert app.proc is new and app.status == Status.ONLINE
        assert old.signals == [(signal.SIGINT, True)] and old.exited
        assert app.counters.restart_time == 1 and new.signals == []

    play(tmp_path, scenario)


def test_reload_keeps_the_old_process_when_the_new_one_exits(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        from pm.errors import SpawnError

        app, old, reload = await reload_started(rig, listen_timeout=5000)
        await rig.clock.advance(100)
        rig.spawner.current.exit(3)
        with pytest.raises(SpawnError, match=r"exited \(code 3.*before it was ready.*kept"):
            await reload
        assert app.proc is old and app.status == Status.ONLINE and old.signals == []
        assert app.counters.restart_time == 0

    play(tmp_path, scenario)


def test_reload_keeps_the_old_process_when_the_new_one_is_never_ready(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        from pm.errors import SpawnError

        app, old, reload = await reload_started(rig, listen_timeout=2000)
        await settle()
        new = rig.spawner.current
        await rig.clock.advance(2000)
        with pytest.raises(SpawnError, match="not ready within 2000ms"):
            await reload
        assert new.signals == [(signal.SIGINT, True)] and new.exited
        assert app.proc is old and old.signals == [] and app.status == Status.ONLINE

    play(tmp_path, scenario)


def test_reload_of_an_app_without_readiness_is_a_restart(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        app = await rig.start()
        old = rig.spawner.current
        await rig.sup.reload(app)
        assert old.signals == [(signal.SIGINT, True)]
        assert app.proc is rig.spawner.current is not old
        assert app.counters.restart_time == 1

    play(tmp_path, scenario)
