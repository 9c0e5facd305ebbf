"""Process bookkeeping for the benchmark: every pid it learns of is ended by PID at exit.

Nothing here kills by name. A pid is only signalled while its /proc start time still matches the
one recorded when it was tracked, so a recycled pid is never hit.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

#: pid -> start time (clock ticks since boot), for every process the benchmark started or learnt of.
_TRACKED: dict[int, int] = {}
_CLEANUPS: list[Callable[[], None]] = []


def _stat(pid: int) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    # Fields after the parenthesised command name (which may contain spaces); index 0 = state.
    return raw[raw.rfind(b")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def alive(pid: int) -> bool:
    fields = _stat(pid)
    return bool(fields) and fields[0] not in (b"Z", b"X")


def cpu_ticks(pid: int) -> int:
    """utime + stime of pid so far, in clock ticks (0 when gone)."""
    fields = _stat(pid)
    return int(fields[11]) + int(fields[12]) if fields else 0


def rss_kb(pid: int) -> int:
    """Resident set size of pid in KiB (0 when gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def track(pid: int) -> None:
    """Remember pid so it is killed at exit if it is still the same process."""
    ticks = start_ticks(pid)
    if ticks is not None:
        _TRACKED.setdefault(pid, ticks)


def on_cleanup(func: Callable[[], None]) -> None:
    """Run func at exit (before the final kill by PID), e.g. a manager's own kill command."""
    _CLEANUPS.append(func)


def kill_tracked() -> None:
    """SIGKILL every tracked pid that is still the process we tracked."""
    for pid, ticks in list(_TRACKED.items()):
        if start_ticks(pid) == ticks and alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        _TRACKED.pop(pid, None)


def cleanup_all() -> None:
    while _CLEANUPS:
        func = _CLEANUPS.pop()
        try:
            func()
        except Exception as exc:  # cleanup must go on whatever one step does
            print(f"cleanup step failed: {exc}", file=sys.stderr)
    kill_tracked()


def install_exit_handlers() -> None:
    atexit.register(cleanup_all)

    def on_term(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)


def wait_gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def wait_until(
    predicate: Callable[[], Any], timeout: float, interval: float = 0.002, what: str = "condition"
) -> Any:
    """Poll predicate until truthy; raise TimeoutError naming what at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def run(
    argv: list[str], env: dict[str, str], timeout: float = 120.0, cwd: str | None = None
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run a command to completion; return (seconds, result). Raises on a non-zero exit."""
    started = time.perf_counter()
    result = subprocess.run(
        argv,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    return elapsed, result


def check(result: subprocess.CompletedProcess[str], ok_codes: tuple[int, ...] = (0,)) -> None:
    if result.returncode not in ok_codes:
        raise RuntimeError(
            f"{' '.join(map(str, result.args))} exited {result.returncode}: "
            f"{(result.stderr or result.stdout)[-800:]}"
        )


def kill_quietly(pid: int, sig: int) -> None:
    """Signal pid if it is still alive; a pid already gone is fine."""
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
