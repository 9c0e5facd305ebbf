"""The fd keeper (pm/fdkeeper.py): pipe read ends outlive the daemon, and nothing outlives `pm kill`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import PM, pid_alive, wait_for
from pm import fdkeeper
from pm.paths import Home

#: One numbered line every 10 ms, text and newline written separately (unbuffered Python).
TICKER = """
import itertools, sys, time
for n in itertools.count():
    sys.stdout.write(f"tick {n}")
    sys.stdout.write("\\n")
    time.sleep(0.01)
"""


def _keeper_pid(home: Path) -> int:
    try:
        pid = int((home / "fdkeeper.pid").read_text())
    except (OSError, ValueError):
        return 0
    return pid if pid_alive(pid) else 0


def test_keeper_holds_and_hands_back_fds_across_processes(tmp_path: Path) -> None:
    home = Home(tmp_path / "h")
    home.ensure()
    env = {**os.environ, "PM_HOME": str(home.root)}
    subprocess.run([sys.executable, "-m", "pm.fdkeeper"], env=env, check=True, timeout=30)
    pid = _keeper_pid(home.root)
    assert pid, "keeper not running after its start returned"
    assert (home.root / "fdkeeper.sock").stat().st_mode & 0o777 == 0o600
    read_end, write_end = os.pipe()
    writer = fdkeeper.Client(home)
    try:
        writer.hold("app:out:1", read_end)
        writer.close()
        os.close(read_end)  # only the keeper holds the read end now
        os.write(write_end, b"kept while nobody reads\n")  # no EPIPE
        reader = fdkeeper.Client(home)
        fds = reader.fetch()
        assert list(fds) == ["app:out:1"]
        assert os.read(fds["app:out:1"], 100) == b"kept while nobody reads\n"
        os.close(fds["app:out:1"])
        reader.release("app:out:1")  # not held by this client: no-op
        reader.quit()
        wait_for(lambda: not pid_alive(pid), 10, message="keeper gone after quit")
        assert not (home.root / "fdkeeper.sock").exists()
        try:
            os.write(write_end, b"x\n")
            raise AssertionError("the pipe still has a reader after quit")
        except BrokenPipeError:
            pass
    finally:
        os.close(write_end)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_pipe_mode_app_survives_daemon_sigkill_and_keeper_ends_on_kill(pm: PM) -> None:
    script = pm.write_app("ticker.py", TICKER)
    eco = pm.workdir / "eco.json"
    eco.write_text(json.dumps({"apps": [{"name": "t", "script": str(script), "time": True}]}))
    pm.run("start", str(eco))
    log_path = pm.home / "logs" / "t-out.log"
    wait_for(lambda: log_path.exists() and "tick 5" in log_path.read_text(), 15, message="ticks")
    app_pid = pm.app("t")["pid"]
    keeper = _keeper_pid(pm.home)
    assert keeper, "no fd keeper for a pipe-mode app"
    assert b"pm: fd keeper" in Path(f"/proc/{keeper}/cmdline").read_bytes()
    daemon = pm.daemon_pid()
    assert daemon
    os.kill(daemon, signal.SIGKILL)
    wait_for(lambda: not pid_alive(daemon), 10, message="daemon gone")
    # Not a synchronisation: the time the app writes into its pipe with no daemon reading.
    time.sleep(0.3)
    assert pid_alive(app_pid)  # no EPIPE/SIGPIPE: the keeper holds the read end
    assert pm.app("t")["pid"] == app_pid  # a new daemon re-adopted it
    assert _keeper_pid(pm.home) == keeper  # and reuses the same keeper

    def numbers() -> list[int]:
        return [int(line.rsplit(" ", 1)[1]) for line in log_path.read_text().splitlines()]

    before = max(numbers())
    wait_for(lambda: max(numbers()) > before + 20, 15, message="ticks after the crash")
    seen = numbers()
    assert seen == list(range(len(seen))), "a tick was lost, duplicated or torn"
    pm.run("update")  # the daemon exits leaving the apps: the keeper stays for the next one
    assert pm.app("t")["pid"] == app_pid
    assert _keeper_pid(pm.home) == keeper
    before = max(numbers())
    wait_for(lambda: max(numbers()) > before + 20, 15, message="ticks after pm update")
    seen = numbers()
    assert seen == list(range(len(seen))), "a tick was lost, duplicated or torn by pm update"
    pm.run("kill")
    wait_for(lambda: not pid_alive(keeper), 10, message="keeper ended by pm kill")
    assert not (pm.home / "fdkeeper.sock").exists()


def test_no_keeper_without_pipe_mode(pm: PM) -> None:
    pm.run("start", "/bin/sleep", "--name", "s", "--", "1000")
    pm.wait_status("s", "online")
    assert not (pm.home / "fdkeeper.sock").exists()
