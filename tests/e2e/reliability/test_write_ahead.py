"""An acknowledged change survives the daemon's death: once `pm start` (or stop, delete) has
answered, a SIGKILL of the daemon at that instant loses nothing; the next daemon lists the app
with the same pid, and exactly one process runs for it."""

from __future__ import annotations

import os
import signal
import sys

from helpers.home import APPS, PM, pid_alive, wait_for
from helpers.reliability import soak

__all__ = ["soak"]  # the fixture, re-exported so pytest finds it in this module

TICKER = str(APPS / "ticker.py")


def _kill_daemon(pm: PM) -> None:
    daemon = pm.daemon_pid()
    assert daemon is not None, "no daemon"
    os.kill(daemon, signal.SIGKILL)
    wait_for(lambda: not pid_alive(daemon), 10, message="the daemon gone")


def _app_processes(pm: PM) -> set[int]:
    """Live processes whose environment names this home and that run the ticker app."""
    found = set()
    needle = f"PM_HOME={pm.home}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with (
                open(f"/proc/{entry}/environ", "rb") as env,
                open(f"/proc/{entry}/cmdline", "rb") as cmd,
            ):
                environ, cmdline = env.read().split(b"\0"), cmd.read()
        except OSError:
            continue
        if needle in environ and b"ticker.py" in cmdline and pid_alive(int(entry)):
            found.add(int(entry))
    return found


def test_a_start_acknowledged_just_before_a_daemon_kill_is_kept(pm: PM, soak: bool) -> None:
    rounds = 20 if soak else 8
    started: dict[str, int] = {}
    for round_no in range(rounds):
        name = f"app{round_no}"
        pm.run("start", TICKER, "--name", name, "--interpreter", sys.executable, "-s")
        _kill_daemon(pm)  # at once: the reply was the promise
        table = {e["name"]: e for e in pm.jlist()}  # a new daemon, recovered from state.json
        assert name in table, f"round {round_no}: {name} lost after the daemon's death"
        started[name] = table[name]["pid"]
        for known, pid in started.items():
            assert table[known]["pid"] == pid and pid_alive(pid), (round_no, known)
    assert sorted(started) == sorted(e["name"] for e in pm.jlist())
    assert _app_processes(pm) == set(started.values())  # one process per app, no stray kept


def test_stop_and_delete_acknowledged_before_a_kill_stay_done(pm: PM) -> None:
    for name in ("kept", "stopped", "deleted"):
        pm.run("start", TICKER, "--name", name, "--interpreter", sys.executable, "-s")
    pm.run("stop", "stopped", "-s")
    _kill_daemon(pm)
    pm.run("delete", "deleted", "-s")
    _kill_daemon(pm)
    table = {e["name"]: e["pm2_env"]["status"] for e in pm.jlist()}
    assert table == {"kept": "online", "stopped": "stopped"}


def test_an_app_survives_eight_daemon_kills_in_a_row(pm: PM, soak: bool) -> None:
    """The issue's check: start, wait for online, then kill each new daemon at once, 8 times;
    the app stays listed with the same pid and runs once."""
    for round_no in range(5 if soak else 2):
        name = f"c{round_no}"
        pm.run("start", TICKER, "--name", name, "--interpreter", sys.executable, "-s")
        pid = pm.wait_status(name, "online")["pid"]
        for _ in range(8):
            pm.jlist()  # starts the next daemon, which recovers
            _kill_daemon(pm)
        table = {e["name"]: e for e in pm.jlist()}
        assert table[name]["pid"] == pid and pid_alive(pid), round_no
    assert _app_processes(pm) == {e["pid"] for e in pm.jlist()}
