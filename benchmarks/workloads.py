"""The seven workloads of issue 9, each measured on every manager and on its no-manager floor.

Each workload returns `Metric`s holding the raw samples per column ("floor", "pm", "pm2", ...);
run.py takes medians, ratios and prints the table. Times are wall clock from the moment the
command is issued; "started" means the app's own code wrote its marker.

A target is judged only on what was measured (`Metric.outcome`): "yes" when pm was measured,
every column the target compares against (`Metric.needs`) was measured too and the check holds;
"NO" when a comparison that could be made fails, or pm gave up; "not compared" when a column it
compares against is missing (a peer not installed or not selected, or one that gave up), so a
target is never reported met against a peer that did not run; "not measured" without pm.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.managers import MANAGERS, PYTHON, AppDef, Manager, Pm, wait_markers

#: Medians per column -> True (holds for every column present), False (fails for one), or None
#: (nothing to compare with). Columns missing from the medians are never taken as passing:
#: Metric.outcome turns a missing `needs` column into "not compared".
Check = Callable[[dict[str, float]], bool | None]

MET, NOT_MET, NOT_COMPARED, NOT_MEASURED = "yes", "NO", "not compared", "not measured"
PEER_NAMES = ("pm2", "supervisord", "circus")


@dataclass
class Metric:
    workload: int
    title: str
    unit: str
    better: str  # "lower" or "higher"
    target: str = ""
    check: Check | None = None
    #: Columns besides pm the target compares against; one without samples is "not compared".
    needs: tuple[str, ...] = ()
    samples: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    #: Columns that were run but gave up (a timeout, an error): for pm that fails the target.
    gave_up: dict[str, str] = field(default_factory=dict)

    def add(self, column: str, value: float) -> None:
        self.samples.setdefault(column, []).append(value)

    def medians(self) -> dict[str, float]:
        return {
            column: statistics.median(values) for column, values in self.samples.items() if values
        }

    def missing(self) -> list[str]:
        """The columns the target compares against that have no measurement."""
        values = self.medians()
        return [column for column in self.needs if column not in values]

    def outcome(self) -> str:
        """MET, NOT_MET, NOT_COMPARED, NOT_MEASURED, or "" for a row without a target."""
        if self.check is None:
            return ""
        if "pm" in self.gave_up:
            return NOT_MET
        values = self.medians()
        if "pm" not in values:
            return NOT_MEASURED
        result = self.check(values)
        if result is False:
            return NOT_MET  # a comparison that could be made failed: missing peers can't fix it
        if result is None or self.missing():
            return NOT_COMPARED
        return MET


@dataclass
class Bench:
    workdir: Path
    apps: dict[str, Path]
    managers: list[str]
    reps: int
    quick: bool
    fleet: int = 50
    status_apps: int = 10
    scale: int = 1000
    lines: list[int] = field(default_factory=lambda: [200_000])
    round_trips: int = 20
    #: A Python app's respawn here is mostly its own start-up (20-40 ms, drifting), so a median
    #: of 20 moved by +-4 ms between runs; 120 (8 blocks of 15 taking turns with the floor's).
    respawns: int = 120
    idle_seconds: float = 20.0
    log: Callable[[str], None] = print
    _markers: int = 0

    def manager(self, name: str) -> Manager:
        return MANAGERS[name](self.workdir)

    def marker_dir(self) -> Path:
        self._markers += 1
        folder = self.workdir / f"m{self._markers}"
        folder.mkdir()
        return folder

    def idle_apps(self, count: int, prefix: str = "idle") -> tuple[list[AppDef], list[Path]]:
        folder = self.marker_dir()
        markers = [folder / f"{prefix}{index}" for index in range(count)]
        apps = [
            AppDef(f"{prefix}{index}", str(self.apps["idle.py"]), [str(marker)])
            for index, marker in enumerate(markers)
        ]
        return apps, markers

    def started(
        self, manager: Manager, apps: list[AppDef], markers: list[Path], timeout: float
    ) -> tuple[float, list[int]]:
        """Issue the start command; seconds until it returned and every app runs, and the pids."""
        began = time.perf_counter()
        manager.start(apps)
        pids = wait_markers(markers, timeout)
        elapsed = time.perf_counter() - began
        procs.wait_until(
            lambda: manager.all_online(apps),
            timeout,
            interval=0.2,
            what=f"{manager.name} to report every app online",
        )
        return elapsed, pids


def _ok_lower(values: dict[str, float], column: str, limit: float) -> bool | None:
    return values[column] <= limit if column in values else None


# ------------------------------------------------------------------------------ 1


def roundtrip(bench: Bench) -> list[Metric]:
    """1. `jlist`/`status` round trip with 10 apps, against `python -c pass`."""

    main = Metric(
        1,
        f"status round trip, {bench.status_apps} apps",
        "ms",
        "lower",
        "<= PM2/3, below every peer (aim 1.5x floor)",
        _roundtrip_check,
        needs=PEER_NAMES,
    )
    script = Metric(1, "  same via the `pm` console script", "ms", "lower", "")
    floor = [PYTHON, "-c", "pass"]
    # The floor is sampled right before each round trip, so both see the same machine load.
    for name in bench.managers:
        with bench.manager(name) as manager:
            manager.start_daemon()
            apps, markers = bench.idle_apps(bench.status_apps)
            bench.started(manager, apps, markers, 60)
            manager.run(manager.status_argv)  # warm the page cache
            for _ in range(bench.round_trips):
                main.add("floor", procs.run(floor, procs_env())[0] * 1000)
                main.add(name, manager.run(manager.status_argv) * 1000)
            if isinstance(manager, Pm) and (Path(PYTHON).parent / "pm").exists():
                argv = [str(Path(PYTHON).parent / "pm"), "jlist"]
                for _ in range(bench.round_trips):
                    main.add("floor", procs.run(floor, procs_env())[0] * 1000)
                    script.add(name, manager.run(argv) * 1000)
        bench.log(f"  1 {name}: {statistics.median(main.samples[name]):.0f} ms")
    script.samples["floor"] = main.samples.get("floor", [])
    main.notes["command"] = "pm/pm2: jlist; supervisorctl/circusctl: status"
    return [main, script] if "pm" in script.samples else [main]


def _roundtrip_check(values: dict[str, float]) -> bool | None:
    """pm below every peer that ran and at most a third of PM2 (peers missing: see needs)."""
    if "pm" not in values:
        return None
    peers = [values[name] for name in PEER_NAMES if name in values]
    if not peers:
        return None
    ok = all(values["pm"] < peer for peer in peers)
    if "pm2" in values:
        ok = ok and values["pm"] <= values["pm2"] / 3
    return ok


def procs_env() -> dict[str, str]:
    return dict(os.environ)


# ------------------------------------------------------------------------------ 2 and 6


def fleet(bench: Bench, measure_start: bool, measure_stop: bool) -> list[Metric]:
    """2. start N apps from one config until all run; 6. stop them all until every one is gone."""
    n = bench.fleet
    start, stop = fleet_metrics(n)
    timeout = 60 + n * 0.2
    for rep in range(bench.reps):
        apps, markers = bench.idle_apps(n)
        began = time.perf_counter()
        floor_pids = _spawn_floor(bench, [app.argv() for app in apps])
        wait_markers(markers, timeout)
        start.add("floor", time.perf_counter() - began)
        began = time.perf_counter()
        for pid in floor_pids:
            procs.kill_quietly(pid, signal.SIGTERM)
        procs.wait_gone(floor_pids, 30)
        stop.add("floor", time.perf_counter() - began)
        for name in bench.managers:
            with bench.manager(name) as manager:
                manager.start_daemon()
                apps, markers = bench.idle_apps(n)
                elapsed, pids = bench.started(manager, apps, markers, timeout)
                start.add(name, elapsed)
                if measure_stop:
                    began = time.perf_counter()
                    manager.stop_all()
                    if not procs.wait_gone(pids, 120):
                        raise TimeoutError(f"{name}: apps still alive 120 s after stop all")
                    stop.add(name, time.perf_counter() - began)
            bench.log(
                f"  2/6 rep {rep + 1} {name}: start {start.samples[name][-1]:.2f} s"
                + (f", stop {stop.samples[name][-1]:.2f} s" if measure_stop else "")
            )
    start.notes["floor"] = "one Python process fork+execs the apps"
    stop.notes["floor"] = "SIGTERM to every pid, wait until gone"
    stop.notes["command"] = "pm/pm2: delete all; supervisorctl/circusctl: stop all"
    return ([start] if measure_start else []) + ([stop] if measure_stop else [])


def fleet_metrics(n: int) -> tuple[Metric, Metric]:
    """Workloads 2 and 6 with their targets, no samples yet."""
    start = Metric(
        2,
        f"start {n} apps until all online",
        "s",
        "lower",
        "<= 1.25x floor",
        lambda v: _ratio_at_most(v, "floor", 1.25),
        needs=("floor",),
    )
    stop = Metric(
        6,
        f"stop/delete all {n} apps until gone",
        "s",
        "lower",
        "< 0.5 s",
        lambda v: _ok_lower(v, "pm", 0.5),
    )
    return start, stop


def _spawn_floor(bench: Bench, argvs: list[list[str]]) -> list[int]:
    result = subprocess.run(
        [PYTHON, str(bench.apps["spawn_floor.py"])],
        input=json.dumps(argvs),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    pids = json.loads(result.stdout)
    for pid in pids:
        procs.track(pid)
    return pids  # type: ignore[no-any-return]


def _ratio_at_most(values: dict[str, float], base: str, ratio: float) -> bool | None:
    if "pm" not in values or base not in values:
        return None
    return values["pm"] <= values[base] * ratio


# ------------------------------------------------------------------------------ 3

LIFETIME = 0.1  # seconds each crash-app run lives before exiting 1


#: Floor and manager take turns, a block each, so both see the machine in the same state.
RESPAWN_BLOCKS = 8


def respawn(bench: Bench) -> list[Metric]:
    """3. crash-to-respawn: from the app's last timestamp before exit 1 to its next start.

    Most of a Python app's respawn is its own start-up (20-40 ms here), and that drifts with
    the machine: a floor block sampled once before a manager had 40 of 60 fast respawns and the
    manager right after it 19. So floor and manager alternate in RESPAWN_BLOCKS blocks (a fresh
    daemon per block) and the floor column pools every block. A second row runs the same
    crash app written in bash (start-up ~2 ms), where what is left is the manager's own share."""
    python = Metric(
        3,
        "crash-to-respawn latency",
        "ms",
        "lower",
        "<= floor + 5 ms",
        lambda v: v["pm"] <= v["floor"] + 5 if {"pm", "floor"} <= set(v) else None,
        needs=("floor",),
    )
    native = Metric(3, "  same, bash app (manager's own share)", "ms", "lower", "(diagnostic)")
    _respawn_rows(bench, python, "crash.py", PYTHON, RESPAWN_BLOCKS)
    _respawn_rows(bench, native, "crash.sh", "none", RESPAWN_BLOCKS // 2)
    note = (
        "a Python loop relaunching the app (subprocess.call), "
        "in blocks taking turns with each manager's"
    )
    python.notes["floor"] = native.notes["floor"] = note
    return [python, native]


def _respawn_rows(bench: Bench, metric: Metric, script: str, interpreter: str, blocks: int) -> None:
    per_block = max(1, bench.respawns // blocks)
    # Slow managers (1 s and 5 s poll loops) get a time budget rather than a count.
    budget = max(6.0, max(30.0, bench.respawns * 0.5) / blocks)
    app = AppDef("crasher", str(bench.apps[script]), [], interpreter=interpreter, endless=True)
    metric.samples["floor"] = []
    for name in bench.managers:
        gaps: list[float] = []
        for block in range(blocks):
            label = f"{script}-{name}-{block}"
            metric.samples["floor"] += _floor_respawns(bench, app, label, per_block)
            gaps += _manager_respawns(bench, name, app, label, per_block, budget)
        metric.samples[name] = gaps
        if not gaps:
            metric.gave_up[name] = f"no respawn seen in {blocks} blocks of {budget:.0f} s"
        bench.log(
            f"  3 {script} {name}: {len(gaps)} respawns, median "
            f"{statistics.median(gaps) if gaps else float('nan'):.1f} ms"
        )


def _with_stamps(app: AppDef, stamps: Path) -> AppDef:
    return replace(app, args=[str(stamps), str(LIFETIME)])


def _floor_respawns(bench: Bench, app: AppDef, label: str, count: int) -> list[float]:
    stamps = bench.workdir / f"floor-{label}-stamps"
    procs.run(
        [
            PYTHON,
            str(bench.apps["relaunch_floor.py"]),
            str(count + 1),
            *_with_stamps(app, stamps).argv(),
        ],
        procs_env(),
        timeout=60 + count * 5,
    )
    return _gaps(stamps)


def _manager_respawns(
    bench: Bench, name: str, app: AppDef, label: str, count: int, budget: float
) -> list[float]:
    stamps = bench.workdir / f"{label}-stamps"
    with bench.manager(name) as manager:
        manager.start_daemon()
        manager.start([_with_stamps(app, stamps)])
        deadline = time.monotonic() + budget
        while len(_gaps(stamps)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
            _track_stamp_pids(stamps)
    _track_stamp_pids(stamps)
    procs.kill_tracked()
    return _gaps(stamps)[:count]


def _gaps(stamps: Path) -> list[float]:
    """ms from each 'E' (about to exit 1) to the following 'S' (next run started)."""
    try:
        lines = stamps.read_text().split("\n")
    except FileNotFoundError:
        return []
    gaps, last_exit = [], None
    for line in lines:
        parts = line.split()
        if len(parts) != 3:
            continue
        if parts[0] == "E":
            last_exit = float(parts[1])
        elif parts[0] == "S" and last_exit is not None:
            gaps.append((float(parts[1]) - last_exit) * 1000)
            last_exit = None
    return gaps


def _track_stamp_pids(stamps: Path) -> None:
    try:
        lines = stamps.read_text().split("\n")
    except FileNotFoundError:
        return
    for line in lines[-3:]:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "S":
            procs.track(int(parts[2]))


# ------------------------------------------------------------------------------ 4


def idle(bench: Bench) -> list[Metric]:
    """4. the manager's resident memory and CPU with N idle apps over a window."""
    n = bench.fleet
    memory = Metric(
        4, f"daemon RSS, {n} idle apps", "MB", "lower", "<= 20 MB", lambda v: _ok_lower(v, "pm", 20)
    )
    cpu = Metric(
        4,
        f"daemon CPU, {n} idle apps, {bench.idle_seconds:.0f} s",
        "%",
        "lower",
        "near 0 %",
        lambda v: _ok_lower(v, "pm", 0.5),
    )
    for name in bench.managers:
        with bench.manager(name) as manager:
            manager.start_daemon()
            apps, markers = bench.idle_apps(n)
            bench.started(manager, apps, markers, 60 + n * 0.2)
            time.sleep(min(2.0, bench.idle_seconds / 4))  # settle after start-up
            rss, percent = _watch(manager.daemon_pid(), bench.idle_seconds)
            memory.add(name, rss)
            cpu.add(name, percent)
        bench.log(f"  4 {name}: {rss:.1f} MB, {percent:.2f} % CPU")
    return [memory, cpu]


def _watch(pid: int, seconds: float) -> tuple[float, float]:
    """(median RSS in MB sampled each second, CPU percent) of pid over seconds."""
    ticks = procs.cpu_ticks(pid)
    began = time.monotonic()
    samples = [procs.rss_kb(pid)]
    while time.monotonic() - began < seconds:
        time.sleep(min(1.0, max(0.0, seconds - (time.monotonic() - began))))
        samples.append(procs.rss_kb(pid))
    elapsed = time.monotonic() - began
    used = (procs.cpu_ticks(pid) - ticks) / procs.CLK_TCK
    return statistics.median(samples) / 1024, used / elapsed * 100


# ------------------------------------------------------------------------------ 5


def output(bench: Bench) -> list[Metric]:
    """5. one app printing N lines of 100 bytes, one write each; lines/s and lines lost.

    Timed on every side from the app's own stamp before its first line to the log file's
    mtime after its last (see _measure_log)."""
    metrics = []
    for count in bench.lines:
        reps = _output_reps(bench, count)
        rate, lost = output_metrics(count)
        for _ in range(reps):
            lines, missing = _flood_floor(bench, count)
            rate.add("floor", lines)
            lost.add("floor", missing)
            for name in bench.managers:
                with bench.manager(name) as manager:
                    lines, missing = _flood(bench, manager, count)
                rate.add(name, lines)
                lost.add(name, missing)
                bench.log(f"  5 {count} {name}: {lines:.0f} k lines/s, {missing} lost")
        rate.notes["floor"] = "the app run with stdout redirected to the file by sh"
        metrics += [rate, lost]
    return metrics


def output_metrics(count: int) -> tuple[Metric, Metric]:
    """Workload 5's two rows for one line count, with their targets, no samples yet."""
    # "0 lost" is the next row's own target, not part of this one
    rate = Metric(
        5,
        f"output, {count:,} lines of 100 B",
        "k lines/s",
        "higher",
        ">= floor and >= best peer",
        _output_check,
        needs=("floor", *PEER_NAMES),
    )
    lost = Metric(
        5,
        f"  lines lost of {count:,}",
        "lines",
        "lower",
        "0",
        lambda v: v.get("pm") == 0 if "pm" in v else None,
    )
    return rate, lost


def _output_reps(bench: Bench, count: int) -> int:
    """More samples than other workloads: on this VM the same app writing to /dev/null, with no
    manager at all, ran anywhere between 1,080 and 1,780 k lines/s from one run to the next
    (two modes), so a median of 5 can land in either: 200k lines (about a second each)
    get 2 x reps - 1 runs, 1M lines reps runs. Every manager gets the same count."""
    return bench.reps * 2 - 1 if count <= 200_000 else bench.reps


def _output_check(values: dict[str, float]) -> bool | None:
    """pm at or above the floor and every peer that ran (a missing floor is not taken as 0)."""
    others = [values[name] for name in ("floor", *PEER_NAMES) if name in values]
    if "pm" not in values or not others:
        return None
    return values["pm"] >= max(others)


def _flood(bench: Bench, manager: Manager, count: int) -> tuple[float, int]:
    marker = bench.marker_dir() / "flood"
    app = AppDef("flood", str(bench.apps["flood.py"]), [str(count), str(marker)], autorestart=False)
    manager.start_daemon()
    manager.start([app])
    return _measure_log(marker, manager.out_log(app), count)


def _flood_floor(bench: Bench, count: int) -> tuple[float, int]:
    marker = bench.marker_dir() / "flood"
    log = marker.parent / "flood.log"
    app = AppDef("flood", str(bench.apps["flood.py"]), [str(count), str(marker)])
    proc = subprocess.Popen(
        ["sh", "-c", 'exec "$@" > "$0"', str(log), *app.argv()],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    procs.track(proc.pid)
    try:
        return _measure_log(marker, log, count)
    finally:
        procs.kill_quietly(proc.pid, signal.SIGTERM)
        proc.wait(30)


def _measure_log(marker: Path, log: Path, count: int) -> tuple[float, int]:
    """(k lines/s from the app's start until the log holds every line, lines missing).

    Every side is timed the same way, on one clock (the wall clock, CLOCK_REALTIME): from the
    time the app itself stamps right before its first write (`<marker>.t`) to the log file's
    mtime once it has stopped growing, i.e. when its last byte landed. Neither end depends on
    when this loop looks: a manager's `start` command returns after the app is already
    writing, while the floor's `sh` returns at once, so a clock started here would have
    skipped the first part of each manager's run and none of the floor's."""
    wait_markers([marker], 60)
    began = float(Path(f"{marker}.t").read_text())
    want = count * 100
    deadline = time.monotonic() + 60 + count / 5000
    last_size, last_change = -1, time.monotonic()
    while True:
        try:
            size = os.stat(log).st_size
        except FileNotFoundError:
            size = 0
        if size >= want:
            break
        now = time.monotonic()
        if size != last_size:
            last_size, last_change = size, now
        elif now - last_change > 10 or now > deadline:
            break  # output stopped short: count what arrived
        time.sleep(0.001)
    try:
        ended = os.stat(log).st_mtime_ns / 1e9
    except FileNotFoundError:
        return 0.0, count
    elapsed = ended - began
    if elapsed <= 0:
        raise RuntimeError(
            f"{log}: last write at {ended:.6f}, before the app began at "
            f"{began:.6f}: the clocks disagree"
        )
    return count / elapsed / 1000, count - _intact_lines(log, count)


def _intact_lines(log: Path, count: int) -> int:
    """How many of the expected lines 0..count-1 are in the file, in order."""
    try:
        data = log.read_bytes()
    except FileNotFoundError:
        return 0
    expected = 0
    for line in data.split(b"\n"):
        if line[:8] == b"%08d" % expected and len(line) == 99:
            expected += 1
    return expected


# ------------------------------------------------------------------------------ 7


def scale(bench: Bench) -> list[Metric]:
    """7. N (1,000) apps: start time, jlist latency, daemon memory and idle CPU."""
    n = bench.scale
    start = Metric(
        7,
        f"start {n} apps until all online",
        "s",
        "lower",
        "< 15 s",
        lambda v: _ok_lower(v, "pm", 15),
    )
    status = Metric(
        7,
        f"status round trip, {n} apps",
        "ms",
        "lower",
        "< 150 ms",
        lambda v: _ok_lower(v, "pm", 150),
    )
    memory = Metric(
        7, f"daemon RSS, {n} apps", "MB", "lower", "< 80 MB", lambda v: _ok_lower(v, "pm", 80)
    )
    cpu = Metric(
        7, f"daemon idle CPU, {n} apps", "%", "lower", "< 1 %", lambda v: _ok_lower(v, "pm", 1)
    )
    script = str(bench.apps["idle.sh"])
    folder = bench.marker_dir()
    markers = [folder / f"f{index}" for index in range(n)]
    began = time.perf_counter()
    pids = _spawn_floor(bench, [[script, str(marker)] for marker in markers])
    wait_markers(markers, 120 + n * 0.2)
    start.add("floor", time.perf_counter() - began)
    for pid in pids:
        procs.kill_quietly(pid, signal.SIGTERM)
    procs.wait_gone(pids, 60)
    for name in bench.managers:
        folder = bench.marker_dir()
        markers = [folder / f"s{index}" for index in range(n)]
        apps = [
            AppDef(f"s{index}", script, [str(marker)], interpreter="none")
            for index, marker in enumerate(markers)
        ]
        with bench.manager(name) as manager:
            manager.start_daemon()
            try:
                elapsed, _ = bench.started(manager, apps, markers, 120 + n * 0.3)
            except (TimeoutError, RuntimeError, subprocess.TimeoutExpired) as exc:
                bench.log(f"  7 {name}: gave up: {exc}")
                start.gave_up[name] = str(exc)  # the other rows: not measured
                start.notes[name] = f"gave up: {exc}"
                continue
            start.add(name, elapsed)
            for _ in range(max(3, bench.round_trips // 4)):
                status.add(name, manager.run(manager.status_argv) * 1000)
            time.sleep(2)
            rss, percent = _watch(manager.daemon_pid(), bench.idle_seconds / 2)
            memory.add(name, rss)
            cpu.add(name, percent)
        bench.log(
            f"  7 {name}: start {elapsed:.1f} s, status "
            f"{statistics.median(status.samples[name]):.0f} ms, {rss:.1f} MB, "
            f"{percent:.2f} % CPU"
        )
    start.notes["floor"] = "one Python process fork+execs the apps"
    return [start, status, memory, cpu]


WORKLOADS: dict[int, str] = {
    1: "status round trip",
    2: "start a fleet",
    3: "crash to respawn",
    4: "idle cost",
    5: "output throughput",
    6: "stop all",
    7: "1,000 apps",
    8: "reloads under load",
}
#: Workload 8 (benchmarks/reload.py) runs only when asked and writes a section of its own.
RELOAD = 8


def run_selected(bench: Bench, only: list[int]) -> list[Metric]:
    metrics: list[Metric] = []
    for number in sorted(set(only)):
        if number == 6 and 2 in only:
            continue  # measured together with 2
        bench.log(f"workload {number}: {WORKLOADS[number]}")
        if number == 1:
            metrics += roundtrip(bench)
        elif number in (2, 6):
            metrics += fleet(bench, 2 in only, 6 in only)
        elif number == 3:
            metrics += respawn(bench)
        elif number == 4:
            metrics += idle(bench)
        elif number == 5:
            metrics += output(bench)
        elif number == 7:
            metrics += scale(bench)
    return sorted(metrics, key=lambda metric: metric.workload)


def as_json(metric: Metric) -> dict[str, Any]:
    """One row of the results file. `outcome` is what the table's "met" column shows;
    `target_met` is true only for MET and false only for NOT_MET (null otherwise)."""
    outcome = metric.outcome()
    return {
        "workload": metric.workload,
        "metric": metric.title.strip(),
        "title": metric.title,
        "unit": metric.unit,
        "better": metric.better,
        "target": metric.target,
        "outcome": outcome,
        "target_met": {MET: True, NOT_MET: False}.get(outcome),
        "compares_against": list(metric.needs),
        "missing": metric.missing(),
        "gave_up": metric.gave_up,
        "medians": metric.medians(),
        "samples": metric.samples,
        "notes": metric.notes,
    }
