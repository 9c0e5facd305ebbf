"""Helpers shared by the reliability suite: soak sizing, raw socket frames, figures, ecosystems.

Kept out of a nested conftest.py on purpose: the suite's modules import `conftest` (the
top-level one) by name, and a second conftest module would shadow it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest

FIGURES = Path(os.environ.get("PM_RELIABILITY_FIGURES", "/tmp/pm-reliability-figures.json"))


@pytest.fixture
def soak(request: pytest.FixtureRequest) -> bool:
    """True when the run asked for the long variants (`pytest --soak`)."""
    return bool(request.config.getoption("--soak", default=False))


def record(name: str, value: Any) -> None:
    """Keep one measured figure of this run (read back for the README), and print it."""
    try:
        figures = json.loads(FIGURES.read_text())
    except (OSError, ValueError):
        figures = {}
    figures[name] = value
    FIGURES.write_text(json.dumps(figures, indent=2, sort_keys=True))
    print(f"FIGURE {name} = {value}")


def write_ecosystem(folder: Path, apps: list[dict[str, Any]], name: str = "eco.json") -> Path:
    path = folder / name
    path.write_text(json.dumps({"apps": apps}))
    return path


def sleeper(name: str, **extra: Any) -> dict[str, Any]:
    """A cheap app (no interpreter start-up): /bin/sleep run directly."""
    return {"name": name, "script": "/bin/sleep", "args": "100000", "interpreter": "none", **extra}


def raw_exchange(sock_path: Path, payload: bytes, timeout: float = 20.0) -> list[bytes]:
    """Send payload, close our write side, return every reply line until the daemon closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(sock_path))
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon may close first on an oversized frame; its reply is still readable
        chunks = []
        while True:
            try:
                chunk = sock.recv(1 << 20)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return [line for line in b"".join(chunks).split(b"\n") if line]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (not its children)."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def describe_processes(pids: set[int]) -> dict[int, str]:
    """pid -> 'ppid=N status command line', for an assertion message that says what they are."""
    import psutil

    found = {}
    for pid in sorted(pids):
        try:
            proc = psutil.Process(pid)
            found[pid] = f"ppid={proc.ppid()} {proc.status()} {' '.join(proc.cmdline())[:120]}"
        except psutil.Error as exc:
            found[pid] = f"gone ({type(exc).__name__})"
    return found


def strays(daemon: int, app_pids: set[int]) -> set[int]:
    """Live processes under the daemon that belong to no listed app: neither an app's process
    nor inside one's tree. An app's own children belong to it (so do the helpers a launcher such
    as pyenv's python3 shim runs before it execs the interpreter); an orphan the daemon took
    over, or a process it started and forgot, does not."""
    import psutil

    found = set()
    for pid in live_descendants(daemon) - app_pids:
        try:
            ancestors = {parent.pid for parent in psutil.Process(pid).parents()}
        except psutil.Error:
            continue  # gone meanwhile
        if not ancestors & app_pids:
            found.add(pid)
    return found


def live_descendants(pid: int) -> set[int]:
    import psutil

    try:
        procs = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return set()
    alive = set()
    for proc in procs:
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.add(proc.pid)
        except psutil.Error:
            pass
    return alive


def deadline_loop(seconds: float) -> Any:
    """Yield round numbers until `seconds` have passed."""
    end = time.monotonic() + seconds
    round_no = 0
    while time.monotonic() < end:
        yield round_no
        round_no += 1
