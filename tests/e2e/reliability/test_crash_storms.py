"""Crash storms: many apps dying at once, apps that fork, ignore signals, abuse their output.

Every test ends with the daemon alive and answering, and checks that no process it started
outlives what it should (grandchildren included).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from helpers.home import PM, pid_alive, wait_for
from helpers.reliability import (
    cpu_seconds,
    describe_processes,
    record,
    sleeper,
    soak,
    strays,
    write_ecosystem,
)

__all__ = ["soak"]  # the fixture, re-exported so pytest finds it in this module


def _pids_from(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [int(word) for word in path.read_text().split() if word.isdigit()]


def _assert_consistent(pm: PM) -> list[dict]:
    """Online apps have distinct live pids, and every process under the daemon belongs to one."""
    entries = pm.jlist()
    pids = [e["pid"] for e in entries if e["pm2_env"]["status"] == "online"]
    assert len(pids) == len(set(pids)), "two apps share a pid"
    assert all(pid_alive(pid) for pid in pids)
    daemon = pm.daemon_pid()
    assert daemon is not None, "the daemon died"
    extra = strays(daemon, set(pids))
    assert not extra, f"processes the daemon runs but does not list: {describe_processes(extra)}"
    return entries


def test_fifty_apps_killed_at_once_repeatedly(pm: PM, soak: bool) -> None:
    rounds = 20 if soak else 5
    apps = [sleeper(f"s{i}", max_restarts=10_000) for i in range(50)]
    pm.run("start", str(write_ecosystem(pm.workdir, apps)))
    wait_for(
        lambda: all(e["pm2_env"]["status"] == "online" for e in pm.jlist()),
        30,
        message="50 apps online",
    )
    for round_no in range(1, rounds + 1):
        before = {e["name"]: e["pid"] for e in _assert_consistent(pm)}
        for pid in before.values():
            os.kill(pid, signal.SIGKILL)

        def all_back(before: dict = before, round_no: int = round_no) -> list[dict] | None:
            entries = pm.jlist()
            done = all(
                e["pm2_env"]["status"] == "online"
                and e["pid"] != before[e["name"]]
                and e["pm2_env"]["restart_time"] == round_no
                for e in entries
            )
            return entries if done else None

        entries = wait_for(all_back, 30, 0.1, f"round {round_no}: 50 apps back")
        assert len(entries) == 50
        assert not any(pid_alive(pid) for pid in before.values())
    _assert_consistent(pm)
    record("crash_storm_rounds_x50_apps", rounds)


FORK_AND_EXIT = """
import os, sys, time
child = os.fork()
if child == 0:
    time.sleep(1000)
    os._exit(0)
with open(sys.argv[1], "a") as f:
    f.write(f"{child}\\n")
time.sleep(0.3)
sys.exit(0)
"""


def test_app_that_forks_and_exits_leaves_no_orphan(pm: PM) -> None:
    script = pm.write_app("forker.py", FORK_AND_EXIT)
    pids = pm.workdir / "children"
    pm.run("start", str(script), "--name", "forker", "--restart-delay", "200", "--", str(pids))
    wait_for(lambda: len(_pids_from(pids)) >= 3, 20, message="three incarnations")
    pm.run("stop", "forker")
    children = _pids_from(pids)
    wait_for(
        lambda: not any(pid_alive(pid) for pid in children), 10, message="every forked child gone"
    )
    _assert_consistent(pm)


IGNORE_SIGNALS = """
import os, signal, sys, time
for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, signal.SIG_IGN)
child = os.fork()
if child == 0:
    time.sleep(1000)
    os._exit(0)
with open(sys.argv[1], "w") as f:
    f.write(f"{os.getpid()} {child}\\n")
while True:
    time.sleep(1)
"""


def test_app_ignoring_sigint_and_sigterm_dies_after_kill_timeout(pm: PM) -> None:
    script = pm.write_app("stubborn.py", IGNORE_SIGNALS)
    pids = pm.workdir / "pids"
    pm.run("start", str(script), "--name", "stubborn", "--kill-timeout", "1000", "--", str(pids))
    wait_for(lambda: len(_pids_from(pids)) == 2, 20, message="stubborn app and its child")
    tree = _pids_from(pids)
    began = time.monotonic()
    pm.run("stop", "stubborn")
    elapsed = time.monotonic() - began
    assert not any(pid_alive(pid) for pid in tree), "the app or its child survived the stop"
    assert elapsed >= 0.9, f"stopped in {elapsed:.2f}s: kill_timeout was not honoured"
    assert elapsed < 15
    assert pm.status("stubborn") == "stopped"
    _assert_consistent(pm)


CLOSE_STDOUT = """
import os, sys, time
print("before close", flush=True)
os.close(1)
n = 0
while True:
    try:
        print(f"to closed stdout {n}", flush=True)
    except OSError:
        pass
    os.write(2, f"err {n}\\n".encode())
    n += 1
    time.sleep(0.05)
"""


def test_app_that_closes_its_stdout_keeps_running(pm: PM) -> None:
    pm.write_app("closer.py", CLOSE_STDOUT)
    pm.run("start", str(pm.workdir / "closer.py"), "--name", "closer")
    pid = pm.wait_status("closer", "online")["pid"]
    err_log = pm.home / "logs" / "closer-error.log"
    wait_for(
        lambda: err_log.exists() and err_log.read_text().count("err ") >= 20,
        20,
        message="stderr still logged after stdout closed",
    )
    assert "before close" in (pm.home / "logs" / "closer-out.log").read_text()
    entry = pm.app("closer")
    assert entry["pid"] == pid and entry["pm2_env"]["restart_time"] == 0
    pm.run("restart", "closer")
    pm.wait_status("closer", "online")
    _assert_consistent(pm)


GARBAGE = """
import os, sys, time
out = sys.stdout.buffer
out.write(os.urandom(1 << 20))
out.write(b"\\n" + b"x" * (10 * 1024 * 1024) + b"\\n")
out.write(b"\\xff\\xfe\\x00 not utf-8 \\xc3\\x28\\n")
out.write(b"END-OF-GARBAGE\\n")
out.flush()
while True:
    time.sleep(1)
"""


def test_binary_garbage_and_ten_megabyte_lines_are_kept_whole(pm: PM) -> None:
    pm.write_app("garbage.py", GARBAGE)
    pm.run("start", str(pm.workdir / "garbage.py"), "--name", "garbage")
    out_log = pm.home / "logs" / "garbage-out.log"
    wait_for(
        lambda: out_log.exists() and out_log.read_bytes().endswith(b"END-OF-GARBAGE\n"),
        30,
        0.1,
        "the garbage to be written",
    )
    data = out_log.read_bytes()
    assert len(data) >= (1 << 20) + 10 * 1024 * 1024
    assert b"\n" + b"x" * (10 * 1024 * 1024) + b"\n" in data
    assert pm.status("garbage") == "online"
    assert pm.run("describe", "garbage").returncode == 0
    _assert_consistent(pm)


FORK_HAPPY = """
import os, sys, time
pids = []
for _ in range(10):
    child = os.fork()
    if child == 0:
        grandchild = os.fork()
        if grandchild == 0:
            time.sleep(1000)
            os._exit(0)
        with open(sys.argv[1], "a") as f:
            f.write(f"{grandchild}\\n")
        time.sleep(1000)
        os._exit(0)
    pids.append(child)
with open(sys.argv[1], "a") as f:
    f.write("".join(f"{pid}\\n" for pid in pids))
while True:
    time.sleep(1)
"""


def _wait_tree(pids_file: Path, count: int) -> list[int]:
    def enough() -> list[int] | None:
        pids = _pids_from(pids_file)
        return pids if len(pids) >= count else None

    return wait_for(enough, 20, message=f"{count} descendants")  # type: ignore[no-any-return]


def test_fork_happy_app_grandchildren_never_outlive_it(pm: PM) -> None:
    pm.write_app("forky.py", FORK_HAPPY)
    first = pm.workdir / "t1"
    pm.run("start", str(pm.workdir / "forky.py"), "--name", "forky", "--", str(first))
    tree = _wait_tree(first, 20)
    main = pm.app("forky")["pid"]
    os.kill(main, signal.SIGKILL)  # the main process crashes: its tree must go with it
    wait_for(
        lambda: not any(pid_alive(pid) for pid in tree),
        10,
        message="grandchildren of the crashed app gone",
    )
    wait_for(lambda: pm.app("forky")["pid"] not in (0, main), 10, message="restart")
    pm.run("restart", "forky")  # a restart reaches the whole tree too
    pm.run("stop", "forky")
    _assert_consistent(pm)
    # the relaunched incarnations wrote to the same file; every pid listed there is gone
    assert not any(pid_alive(pid) for pid in _pids_from(first))


def test_daemon_cpu_is_bounded_during_a_crash_loop(pm: PM, soak: bool) -> None:
    seconds = 20.0 if soak else 5.0
    apps = [
        {
            "name": f"crash{i}",
            "script": "/bin/false",
            "interpreter": "none",
            "restart_delay": 100,
            "max_restarts": 1_000_000,
        }
        for i in range(10)
    ]
    pm.run("start", str(write_ecosystem(pm.workdir, apps)))
    daemon = pm.daemon_pid()
    assert daemon
    cpu0, wall0 = cpu_seconds(daemon), time.monotonic()
    restarts0 = sum(e["pm2_env"]["restart_time"] for e in pm.jlist())
    worst_reply = 0.0
    while time.monotonic() - wall0 < seconds:
        began = time.monotonic()
        pm.run("jlist")
        worst_reply = max(worst_reply, time.monotonic() - began)
        time.sleep(0.5)
    restarts = sum(e["pm2_env"]["restart_time"] for e in pm.jlist()) - restarts0
    cpu, wall = cpu_seconds(daemon) - cpu0, time.monotonic() - wall0
    share = cpu / wall
    record("crash_loop_restarts", restarts)
    record("crash_loop_daemon_cpu_percent", round(100 * share, 1))
    record("crash_loop_daemon_cpu_ms_per_restart", round(1000 * cpu / max(restarts, 1), 2))
    assert restarts >= 10 * seconds, f"only {restarts} restarts in {wall:.1f}s"
    assert share < 0.5, f"daemon used {100 * share:.0f}% CPU for {restarts} restarts in {wall:.1f}s"
    assert worst_reply < 5, f"a jlist took {worst_reply:.1f}s during the crash loop"
    assert pm.daemon_pid() == daemon
