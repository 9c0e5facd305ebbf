"""The daemon SIGKILLed again and again while apps run and write: nothing is lost.

Needs crash recovery (pm/recovery.py): the next `pm` command starts a new daemon that re-adopts
the live children (same pid and create time) from PM_HOME/state.json.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

pytest.importorskip("pm.recovery", reason="crash recovery (pm/recovery.py: re-adoption from "
                    "state.json after a daemon SIGKILL) is not in this branch yet")

from conftest import PM, pid_alive, wait_for
from rel_support import record, soak, write_ecosystem

__all__ = ["soak"]

#: Prints "<name> <n>" every 5 ms; on SIGINT/SIGTERM prints "final <n>" (n = lines written).
COUNTER = """
import signal, sys, time
name, n = sys.argv[1], 0
def bye(*_):
    print(f"final {n}", flush=True)
    sys.exit(0)
signal.signal(signal.SIGINT, bye)
signal.signal(signal.SIGTERM, bye)
while True:
    print(f"{name} {n}", flush=True)
    n += 1
    time.sleep(0.005)
"""


def _counters(pm: PM, count: int, pipe: bool) -> list[dict]:
    script = pm.write_app("counter.py", COUNTER)
    return [{"name": f"c{i}", "script": str(script), "args": [f"c{i}"], "time": pipe}
            for i in range(count)]


def _ours(pm: PM) -> set[int]:
    """Every live process running our counter script, whoever its parent is."""
    import psutil

    found = set()
    script = str(pm.workdir / "counter.py")
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if script in (proc.info["cmdline"] or []) and proc.info["status"] != "zombie":
                found.add(proc.pid)
        except psutil.Error:
            pass
    return found


def _kill_daemon(pm: PM) -> int:
    daemon = pm.daemon_pid()
    assert daemon, "no daemon to kill"
    os.kill(daemon, signal.SIGKILL)
    wait_for(lambda: not pid_alive(daemon), 10, message="daemon gone")
    return daemon


def _check_log(path: Path, name: str) -> int:
    """Lines 0..n-1 each exactly once, then 'final n'; return n."""
    numbers = [int(m.group(1)) for m in re.finditer(rf"\b{name} (\d+)$", path.read_text(), re.MULTILINE)]
    finals = re.findall(r"final (\d+)$", path.read_text(), re.MULTILINE)
    assert len(finals) == 1, f"{path}: {len(finals)} final lines (a restart or a lost exit)"
    total = int(finals[0])
    missing = sorted(set(range(total)) - set(numbers))
    assert not missing, f"{path}: {len(missing)} lines lost, e.g. {missing[:5]}"
    assert len(numbers) == total, f"{path}: {len(numbers) - total} duplicated lines"
    return total


@pytest.mark.parametrize("mode", ["file", "pipe"])
def test_daemon_sigkilled_repeatedly_loses_nothing(pm: PM, soak: bool, mode: str) -> None:
    kills = {"file": 200 if soak else 30, "pipe": 100 if soak else 20}[mode]
    apps = _counters(pm, 5, pipe=mode == "pipe")
    pm.run("start", str(write_ecosystem(pm.workdir, apps)))
    first = {e["name"]: e["pid"] for e in pm.jlist()}
    assert all(first.values()) and len(set(first.values())) == 5
    for round_no in range(kills):
        old = _kill_daemon(pm)
        entries = pm.jlist()  # the next command recovers
        assert pm.daemon_pid() not in (None, old)
        now = {e["name"]: e["pid"] for e in entries}
        assert now == first, f"kill {round_no + 1}: pids changed {first} -> {now}"
        assert all(e["pm2_env"]["status"] == "online" for e in entries)
        assert all(e["pm2_env"]["restart_time"] == 0 for e in entries)
        assert _ours(pm) == set(first.values()), f"kill {round_no + 1}: duplicate or lost process"
    pm.run("stop", "all")
    lines = sum(_check_log(pm.home / "logs" / f"{name}-out.log", name) for name in first)
    record(f"daemon_sigkills_survived_{mode}_mode", kills)
    record(f"daemon_sigkill_lines_written_{mode}_mode", lines)
    record(f"daemon_sigkill_lines_lost_{mode}_mode", 0)


def test_app_that_dies_while_the_daemon_is_dead_is_restarted_once(pm: PM) -> None:
    pm.run("start", str(write_ecosystem(pm.workdir, _counters(pm, 2, pipe=False))))
    first = {e["name"]: e["pid"] for e in pm.jlist()}
    _kill_daemon(pm)
    os.kill(first["c0"], signal.SIGKILL)
    wait_for(lambda: not pid_alive(first["c0"]), 10, message="app gone")
    pm.run("jlist")

    def back() -> dict | None:
        entries = {e["name"]: e for e in pm.jlist()}
        c0 = entries["c0"]
        return entries if c0["pm2_env"]["status"] == "online" and c0["pid"] not in (0, first["c0"]) else None

    entries = wait_for(back, 15, 0.1, "c0 restarted by the new daemon")
    assert entries["c1"]["pid"] == first["c1"]
    assert _ours(pm) == {entries["c0"]["pid"], first["c1"]}

