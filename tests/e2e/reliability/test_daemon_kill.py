"""The daemon SIGKILLed again and again while apps run and write: nothing is lost.

Needs crash recovery (pm/daemon/persist/recovery.py): the next `pm` command starts a new daemon that re-adopts
the live children (same pid and create time) from PM_HOME/state.json.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
from helpers.home import PM, pid_alive, wait_for
from helpers.reliability import record, soak, write_ecosystem

from pm.daemon.persist import pipe_recovery, recovery  # noqa: F401 (under test: must not skip)

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
    return [
        {"name": f"c{i}", "script": str(script), "args": [f"c{i}"], "time": pipe}
        for i in range(count)
    ]


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
    pm.wait_state_saved()
    daemon = pm.daemon_pid()
    assert daemon, "no daemon to kill"
    os.kill(daemon, signal.SIGKILL)
    wait_for(lambda: not pid_alive(daemon), 10, message="daemon gone")
    return daemon


def _check_log(path: Path, name: str, exactly_once: bool = True) -> tuple[int, int, int]:
    """(lines the app wrote, lines of those missing from the log, lines written twice).

    The app wrote lines 0..n-1, then 'final n'. exactly_once: in order, none twice.
    Otherwise (lines rewritten on their way to disk, as with `time`) a daemon SIGKILLed
    between writing a batch and consuming it from the pipe writes that batch again: allowed
    only as a batch repeated right where it was cut."""
    text = path.read_text()
    numbers = [int(m.group(1)) for m in re.finditer(rf"\b{name} (\d+)$", text, re.MULTILINE)]
    finals = re.findall(r"final (\d+)$", text, re.MULTILINE)
    assert len(finals) == 1, f"{path}: {len(finals)} final lines (a restart or a lost exit)"
    total = int(finals[0])
    assert all(number < total for number in numbers), f"{path}: a line after 'final {total}'"
    lost = len(set(range(total)) - set(numbers))
    repeats = len(numbers) - (total - lost)
    if exactly_once:
        assert repeats == 0, f"{path}: {repeats} duplicated lines"
        assert numbers == sorted(numbers), f"{path}: lines out of order"
    else:
        for index in range(1, len(numbers)):  # any step back restarts a run already written
            if numbers[index] <= numbers[index - 1]:
                rewind = numbers[index - 1] - numbers[index]
                assert rewind < 200, f"{path}: a rewind of {rewind} lines"
    return total, lost, repeats


@pytest.mark.parametrize("mode", ["raw", "timestamped"])
def test_daemon_sigkilled_repeatedly_loses_nothing(pm: PM, soak: bool, mode: str) -> None:
    """raw: the default (pipes spliced into the files); timestamped: `time`, whole lines."""
    kills = {"raw": 200 if soak else 30, "timestamped": 100 if soak else 20}[mode]
    apps = _counters(pm, 5, pipe=mode == "timestamped")
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
    checked = {
        name: _check_log(pm.home / "logs" / f"{name}-out.log", name, mode == "raw")
        for name in first
    }
    lost = {name: missing for name, (_, missing, _) in checked.items() if missing}
    record(f"daemon_sigkills_survived_{mode}_mode", kills)
    record(f"daemon_sigkill_lines_written_{mode}_mode", sum(n for n, _, _ in checked.values()))
    record(f"daemon_sigkill_lines_lost_{mode}_mode", sum(lost.values()))
    record(
        f"daemon_sigkill_lines_written_twice_{mode}_mode",
        sum(twice for _, _, twice in checked.values()),
    )
    assert not lost, f"lines the apps wrote that are not in their logs: {lost}"


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
        return (
            entries
            if c0["pm2_env"]["status"] == "online" and c0["pid"] not in (0, first["c0"])
            else None
        )

    entries = wait_for(back, 15, 0.1, "c0 restarted by the new daemon")
    assert entries["c1"]["pid"] == first["c1"]
    assert _ours(pm) == {entries["c0"]["pid"], first["c1"]}


#: Waits for a trigger file, then writes LINES numbered lines of ~100 bytes as fast as it can
#: (several times a pipe's 64 KiB), then "done". Dies on EPIPE like any app would.
FLOODER = """
import os, sys, time
trigger, lines = sys.argv[1], int(sys.argv[2])
while not os.path.exists(trigger):
    time.sleep(0.01)
for n in range(lines):
    os.write(1, b"%08d %s\\n" % (n, b"y" * 90))
os.write(1, b"done\\n")
time.sleep(3600)
"""


def test_output_written_while_no_daemon_runs_waits_in_the_pipe(pm: PM) -> None:
    """With the daemon dead the app fills its pipe and waits (no EPIPE, no restart); the next
    daemon finds the same pipe through the app's fds and writes every line, in order."""
    script = pm.write_app("flooder.py", FLOODER)
    trigger = pm.workdir / "go"
    lines = 5_000  # ~500 KB: the 64 KiB pipe fills while nobody reads
    pm.run("start", str(script), "--name", "flood", "--", str(trigger), str(lines))
    pid = pm.jlist()[0]["pid"]
    _kill_daemon(pm)
    trigger.touch()
    log = pm.home / "logs" / "flood-out.log"
    wait_for(lambda: _blocked_writing(pid), 10, message="app blocked on its full pipe")
    assert log.stat().st_size < lines * 100  # nothing read it meanwhile
    entry = pm.jlist()[0]  # a new daemon re-adopts the app and reads its pipe again
    assert (entry["pid"], entry["pm2_env"]["restart_time"]) == (pid, 0)
    wait_for(lambda: log.read_bytes().endswith(b"done\n"), 15, message="every line written")
    numbers = [int(line[:8]) for line in log.read_bytes().splitlines()[:-1]]
    assert numbers == list(range(lines))


def _blocked_writing(pid: int) -> bool:
    """The process sleeps in the kernel's pipe write (its pipe is full); the function's name
    varies by kernel (pipe_write, anon_pipe_write, pipe_wait_writable)."""
    try:
        return "pipe" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False
