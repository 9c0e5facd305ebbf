"""Workload 8: reloads under load. An HTTP app with 2 instances serves steady traffic from an
open-loop generator (benchmarks/loadgen.py) while the manager reloads it N times, one reload
after the other; every failed request is counted by kind, with the latency of the answered ones
and the wall time of each reload command.

The variants (one run each):

- `pm`: pm binds the port (`listen`) and hands the socket to each instance as fd 3; instances
  say they are ready with `READY=1` (`wait_ready`); `pm reload` replaces them one at a time.
- `pm-reuseport`: pm without `listen`, the app binding the port itself with SO_REUSEPORT, as
  under PM2, still with `wait_ready` (so the reload still rolls): what the handover adds.
- `pm2`: PM2 in fork mode (its cluster mode is for Node apps only), the app binding the port
  with SO_REUSEPORT, `pm2 reload`. PM2 has no readiness channel a Python app can use, so
  `wait_ready` is not set.

Before the load starts, probes check that both instances answer and how they serve: a run
meant to serve on a handed-over socket whose app reports a socket of its own gives up (the
manager did not hand one over) rather than being reported as a handover run.
"""

from __future__ import annotations

import http.client
import json
import math
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import procs
from benchmarks.managers import PYTHON, AppDef, Manager

HERE = Path(__file__).resolve().parent
APP = HERE / "reload_app.py"
LOADGEN = HERE / "loadgen.py"
NAME = "web"
FAILURE_KINDS = ("refused", "reset", "status", "timeout", "other")
TARGET = "0 failed requests with pm (listen)"


@dataclass
class ReloadSettings:
    instances: int = 2
    reloads: int = 5
    rate: float = 300.0  # requests per second
    timeout: float = 2.0  # seconds a request may take before it counts as failed
    boot: float = 0.5  # seconds each app instance takes before it binds and serves
    work_ms: float = 2.0  # time each request takes in the app
    warmup: float = 2.0  # seconds of load before the first reload
    pause: float = 1.0  # seconds between one reload command's return and the next one
    tail: float = 2.0  # seconds of load after the last reload returned


@dataclass(frozen=True)
class Variant:
    key: str
    manager: str
    mode: str
    handover: bool
    wait_ready: bool


VARIANTS = (
    Variant(
        "pm",
        "pm",
        "pm binds the port (listen) and hands it over as fd 3; wait_ready; rolling reload",
        True,
        True,
    ),
    Variant(
        "pm-reuseport",
        "pm",
        "the app binds the port with SO_REUSEPORT; wait_ready; rolling reload",
        False,
        True,
    ),
    Variant(
        "pm2",
        "pm2",
        "fork mode, the app binds the port with SO_REUSEPORT; reload restarts",
        False,
        False,
    ),
)


def variants_for(managers: list[str], keys: list[str] | None = None) -> list[Variant]:
    """The variants of the managers that run, all of them or those named in keys."""
    unknown = sorted(set(keys or []) - {variant.key for variant in VARIANTS})
    if unknown:
        raise SystemExit(
            f"unknown workload 8 variant(s) {', '.join(unknown)}; choose from "
            f"{', '.join(variant.key for variant in VARIANTS)}"
        )
    return [
        variant
        for variant in VARIANTS
        if variant.manager in managers and (keys is None or variant.key in keys)
    ]


def app_def(variant: Variant, settings: ReloadSettings, port: int) -> AppDef:
    extra: dict[str, Any] = {"instances": settings.instances, "exec_mode": "fork"}
    if variant.handover:
        extra["listen"] = f"127.0.0.1:{port}"
    if variant.wait_ready:
        extra["wait_ready"] = True
    return AppDef(
        NAME,
        str(APP),
        [str(port), "--boot", str(settings.boot), "--work-ms", str(settings.work_ms)],
        extra=extra,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------ one run


def run_reload(
    bench: Any, settings: ReloadSettings, keys: list[str] | None = None
) -> dict[str, Any]:
    """The variants of the selected managers (those in keys, or all); the results file's
    "reload" section."""
    runs = []
    for variant in variants_for(bench.managers, keys):
        bench.log(f"  8 {variant.key}: {variant.mode}")
        run = measure(bench, variant, settings)
        bench.log(f"  8 {variant.key}: " + describe(run))
        runs.append(run)
    return {
        "settings": asdict(settings),
        "connection": "fresh connection (HTTP/1.0)",
        "pm_commit": pm_commit(),
        "target": TARGET,
        "outcome": outcome(runs),
        "runs": runs,
    }


def pm_commit() -> str | None:
    """The commit of the pm measured (this checkout's HEAD, "+" when it has changes)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            text=True,
            capture_output=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=HERE,
            text=True,
            capture_output=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+" if dirty.strip() else "")


def measure(bench: Any, variant: Variant, settings: ReloadSettings) -> dict[str, Any]:
    port = free_port()
    run: dict[str, Any] = {
        "variant": variant.key,
        "manager": variant.manager,
        "mode": variant.mode,
        "port": port,
    }
    with bench.manager(variant.manager) as manager:
        try:
            manager.start_daemon()
            manager.start([app_def(variant, settings, port)])
            run["served"] = wait_serving(manager, port, settings.instances, 60)
            if variant.handover and run["served"]["socket"] != ["inherited"]:
                raise RuntimeError(
                    "the instances served on a socket of their own, not one "
                    "handed over by the manager as fd 3"
                )
            run.update(under_load(manager, port, settings))
        except (RuntimeError, TimeoutError, OSError, subprocess.SubprocessError) as exc:
            run["gave_up"] = (
                str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__
            )
        finally:
            for pid in app_pids(manager):
                procs.track(pid)
    return run


def under_load(manager: Manager, port: int, settings: ReloadSettings) -> dict[str, Any]:
    """Start the generator, reload N times, stop it; the run's summary."""
    generator = subprocess.Popen(
        [
            PYTHON,
            str(LOADGEN),
            str(port),
            "--rate",
            str(settings.rate),
            "--timeout",
            str(settings.timeout),
        ],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    procs.track(generator.pid)
    windows: list[tuple[float, float]] = []
    error = None
    try:
        time.sleep(settings.warmup)  # a measurement window, not a wait for something
        for number in range(settings.reloads):
            began = time.monotonic()
            try:
                manager.run(manager.cli + ["reload", NAME], timeout=120)  # type: ignore[attr-defined]
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                error = f"reload {number + 1}: {str(exc).strip()[-300:]}"
                break
            windows.append((began, time.monotonic()))
            time.sleep(settings.pause if number < settings.reloads - 1 else settings.tail)
    finally:
        generator.send_signal(signal.SIGTERM)
        out, _ = generator.communicate(timeout=settings.timeout + 60)
    load = json.loads(out)
    summary = summarise(load["records"], windows, load["started"])
    summary.update(skipped=load["skipped"], generator_max_lag_ms=load["max_lag_ms"])
    if error:
        summary["gave_up"] = error
    return summary


def wait_serving(manager: Manager, port: int, instances: int, timeout: float) -> dict[str, Any]:
    """Poll until the manager lists every instance online and each has answered a request;
    what the instances said of their socket and readiness channel."""
    seen: dict[int, tuple[str, str]] = {}
    deadline = time.monotonic() + timeout
    while True:
        answer = probe(port)
        if answer:
            seen[answer[0]] = answer[1:]
        if len(seen) >= instances and online(manager, instances):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{len(seen)} of {instances} instances answered on port {port} "
                f"within {timeout:.0f} s"
            )
        time.sleep(0.01)
    return {
        "socket": sorted({kind for kind, _ in seen.values()}),
        "notify": sorted({notify for _, notify in seen.values()}),
    }


def probe(port: int) -> tuple[int, str, str] | None:
    """(pid, socket kind, notify) from one request, or None when nothing answered."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/")
        words = connection.getresponse().read().decode().split()
        fields = dict(word.split("=", 1) for word in words[2:])
        return int(words[1]), fields.get("socket", "?"), fields.get("notify", "?")
    except (OSError, http.client.HTTPException, ValueError, IndexError):
        return None
    finally:
        connection.close()


def jlist(manager: Manager) -> list[dict[str, Any]]:
    _, result = procs.run(manager.status_argv, manager.env)
    procs.check(result)
    text = result.stdout
    return json.loads(text[text.index("[") :]) if "[" in text else []


def online(manager: Manager, instances: int) -> bool:
    entries = [entry for entry in jlist(manager) if entry.get("name") == NAME]
    return len(entries) == instances and all(
        entry["pm2_env"]["status"] == "online" for entry in entries
    )


def app_pids(manager: Manager) -> list[int]:
    try:
        return [int(entry["pid"]) for entry in jlist(manager) if entry.get("pid")]
    except (RuntimeError, ValueError, OSError, subprocess.SubprocessError):
        return []


# ------------------------------------------------------------------------------ summary


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (share in 0..1) of values, None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def kind_of(outcome: str) -> str:
    return outcome if outcome in FAILURE_KINDS else "other"


def summarise(
    records: list[list[Any]], windows: list[tuple[float, float]], started: float
) -> dict[str, Any]:
    """Counts, failures by kind, latency of the answered requests, reload wall times.

    records are the generator's `[start, ms, outcome, pid]`; windows the (start, end) of each
    reload command on the same monotonic clock; times in the result are seconds from started.
    """
    answered = [record[1] for record in records if record[2] == "ok"]
    failures = [
        [round(record[0] - started, 3), kind_of(record[2])]
        for record in records
        if record[2] != "ok"
    ]
    by_kind = {kind: sum(failure[1] == kind for failure in failures) for kind in FAILURE_KINDS}
    edges = [began for began, _ in windows] + [math.inf]
    per_reload = [
        sum(edges[index] <= record[0] < edges[index + 1] for record in records if record[2] != "ok")
        for index in range(len(windows))
    ]
    return {
        "requests": len(records),
        "answered": len(answered),
        "failed": len(failures),
        "failed_by_kind": by_kind,
        "failed_before_first_reload": sum(
            record[0] < edges[0] for record in records if record[2] != "ok"
        ),
        "failed_per_reload": per_reload,
        "p50_ms": percentile(answered, 0.50),
        "p99_ms": percentile(answered, 0.99),
        "max_ms": max(answered) if answered else None,
        "reload_s": [round(end - began, 3) for began, end in windows],
        "reload_windows": [
            [round(began - started, 3), round(end - started, 3)] for began, end in windows
        ],
        "instances_seen": len({record[3] for record in records if record[3]}),
        "failures": failures,
    }


def outcome(runs: list[dict[str, Any]]) -> str:
    """ "yes" when pm with listen ran every reload with 0 failed requests, "NO" when it failed
    one or gave up, "not measured" without that run. PM2's count is shown beside it, not
    judged: the target is pm's."""
    pm = next((run for run in runs if run["variant"] == "pm"), None)
    if pm is None:
        return "not measured"
    return "yes" if "gave_up" not in pm and pm.get("failed") == 0 else "NO"


def describe(run: dict[str, Any]) -> str:
    if "requests" not in run:
        return f"gave up: {run.get('gave_up')}"
    kinds = ", ".join(f"{count} {kind}" for kind, count in run["failed_by_kind"].items() if count)
    text = (
        f"{run['failed']} of {run['requests']} failed"
        + (f" ({kinds})" if kinds else "")
        + f", p99 {run['p99_ms']} ms, worst {run['max_ms']} ms, reloads "
        + " ".join(f"{seconds:.2f}" for seconds in run["reload_s"])
        + " s"
    )
    return text + (f"; gave up: {run['gave_up']}" if "gave_up" in run else "")
