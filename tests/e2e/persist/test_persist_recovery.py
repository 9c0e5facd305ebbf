"""Crash recovery: a daemon killed with SIGKILL leaves its apps running, the next one re-adopts
them (same pid AND create time), never starts a duplicate; `pm update` swaps the daemon."""

from __future__ import annotations

import json
import os
import signal
import subprocess

from helpers.home import APPS, PM, pid_alive, wait_for

TICKER = str(APPS / "ticker.py")


def _table(pm: PM) -> list[tuple[int, str, int, str, int]]:
    return [
        (e["pm_id"], e["name"], e["pid"], e["pm2_env"]["status"], e["pm2_env"]["restart_time"])
        for e in pm.jlist()
    ]


def _kill_daemon(pm: PM) -> None:
    """SIGKILL the daemon once its coalesced state write (<= 100 ms) has the live pids."""
    pm.wait_state_saved()
    daemon = pm.daemon_pid()
    assert daemon
    os.kill(daemon, signal.SIGKILL)
    wait_for(lambda: not pid_alive(daemon), message="daemon death")


def _setup(pm: PM) -> None:
    pm.run("start", TICKER, "--name", "api", "-s")
    pm.run("start", TICKER, "--name", "web", "-i", "2", "-s")
    pm.run("start", TICKER, "--name", "idle", "-s")
    pm.run("stop", "idle", "-s")
    first = pm.wait_status("api", "online")["pid"]
    os.kill(first, signal.SIGKILL)  # give api a restart to count
    wait_for(lambda: pm.app("api")["pid"] not in (0, first), message="api respawn")


def test_sigkill_of_the_daemon_twenty_times_keeps_every_app_once(pm: PM) -> None:
    _setup(pm)
    before = _table(pm)
    assert [row[4] for row in before] == [1, 0, 0, 0]
    log = pm.home / "logs" / "api-out.log"
    for attempt in range(20):
        _kill_daemon(pm)
        assert all(pid_alive(row[2]) for row in before if row[2])  # apps outlive the daemon
        after = _table(pm)  # starts a new daemon, which re-adopts
        assert after == before, f"attempt {attempt}"
    size = log.stat().st_size
    wait_for(lambda: log.stat().st_size > size, message="api output still flowing")
    assert pm.run("ls").stdout.count(" api ") == 1
    # the adopted apps are still fully managed: pm kill stops them
    pm.run("kill")
    assert not any(pid_alive(row[2]) for row in before if row[2])
    assert not (pm.home / "state.json").exists()


def test_an_app_that_died_while_the_daemon_was_down_is_restarted(pm: PM) -> None:
    """Only the dead app changes: a new pid and one restart more; the two web instances keep
    their pids and counts (re-adopted, not restarted), idle stays stopped."""
    _setup(pm)
    before = _table(pm)
    assert [row[1] for row in before] == ["api", "web", "web", "idle"]
    api_pid = before[0][2]
    _kill_daemon(pm)
    os.kill(api_pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(api_pid), message="api death")
    api = pm.wait_status("api", "online")  # starts a new daemon, which recovers
    assert api["pid"] not in (0, api_pid)
    assert _table(pm) == [(0, "api", api["pid"], "online", before[0][4] + 1), *before[1:]]


def test_a_reused_pid_is_never_adopted(pm: PM) -> None:
    pm.run("start", TICKER, "--name", "api", "-s")
    app_pid = pm.wait_status("api", "online")["pid"]
    _kill_daemon(pm)
    os.kill(app_pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(app_pid), message="api death")
    stranger = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        state = json.loads((pm.home / "state.json").read_text())
        state["apps"][0]["pid"] = stranger.pid  # the old pid now names someone else
        (pm.home / "state.json").write_text(json.dumps(state))
        api = pm.wait_status("api", "online")
        assert api["pid"] not in (0, app_pid, stranger.pid)
        assert stranger.poll() is None  # not adopted, not killed
    finally:
        stranger.kill()
        stranger.wait()


def test_a_stale_state_file_still_finds_the_running_process(pm: PM) -> None:
    """The state lags (crash right after a restart): the child is found by its environment."""
    pm.run("start", TICKER, "--name", "api", "-s")
    app_pid = pm.wait_status("api", "online")["pid"]
    _kill_daemon(pm)
    state = json.loads((pm.home / "state.json").read_text())
    state["apps"][0]["pid"] = 0  # as if written before the current process started
    state["apps"][0]["create_time"] = 0.0
    (pm.home / "state.json").write_text(json.dumps(state))
    entries = pm.jlist()
    assert [(e["name"], e["pid"]) for e in entries] == [("api", app_pid)]


def test_a_child_unknown_to_the_state_is_adopted_from_its_environment(pm: PM) -> None:
    """The state write lost to a SIGKILL (emulated: its record removed from state.json): the
    app still runs, so it is listed again with its pid and its output read, never killed."""
    pm.run("start", TICKER, "--name", "api", "-s")
    pm.run("start", TICKER, "--name", "ghost", "-s")
    ghost = pm.wait_status("ghost", "online")["pid"]
    _kill_daemon(pm)
    state = json.loads((pm.home / "state.json").read_text())
    state["apps"] = [a for a in state["apps"] if a["pm_id"] == 0]
    (pm.home / "state.json").write_text(json.dumps(state))
    entries = {e["name"]: e for e in pm.jlist()}
    assert sorted(entries) == ["api", "ghost"]
    assert entries["ghost"]["pid"] == ghost and entries["ghost"]["pm_id"] == 1
    assert entries["ghost"]["pm2_env"]["status"] == "online" and pid_alive(ghost)
    log = (pm.home / "pm.log").read_text()
    assert f"[ghost:1]: process {ghost} was started by the previous daemon" in log
    out = pm.home / "logs" / "ghost-out.log"
    lines = len(out.read_text().splitlines())
    wait_for(
        lambda: len(out.read_text().splitlines()) > lines + 1,
        10,
        message="the adopted app's output to reach its log again",
    )
    pm.run("stop", "ghost")
    wait_for(lambda: not pid_alive(ghost), message="the adopted app to stop")


def test_update_replaces_the_daemon_and_keeps_every_pid(pm: PM) -> None:
    _setup(pm)
    before = _table(pm)
    old = pm.daemon_pid()
    result = pm.run("update")
    assert "updated" in result.stdout
    assert pm.daemon_pid() not in (None, old)
    assert _table(pm) == before
    assert [e["spec"]["name"] for e in json.loads((pm.home / "dump").read_text())] == [
        "api",
        "web",
        "web",
        "idle",
    ]


def test_sigterm_after_recovery_saves_and_stops_adopted_apps(pm: PM) -> None:
    pm.run("start", TICKER, "--name", "api", "-s")
    app_pid = pm.wait_status("api", "online")["pid"]
    _kill_daemon(pm)
    assert pm.app("api")["pid"] == app_pid
    daemon = pm.daemon_pid()
    assert daemon
    os.kill(daemon, signal.SIGTERM)
    wait_for(lambda: not pid_alive(daemon), message="daemon exit")
    assert not pid_alive(app_pid)
    assert [e["spec"]["name"] for e in json.loads((pm.home / "dump").read_text())] == ["api"]
    assert pm.jlist() == []  # a clean stop leaves nothing to re-adopt


def test_a_junk_state_file_never_keeps_the_daemon_from_starting(pm: PM) -> None:
    pm.home.mkdir(parents=True)
    for junk in ('{"format": 1, "apps": [1, "x", {"pm_id": "zz"}]}', "{{{", '{"format": 99}'):
        (pm.home / "state.json").write_text(junk)
        assert pm.jlist() == []
        assert "state.json" in (pm.home / "pm.log").read_text()
        pm.run("kill")


def test_apps_left_running_are_adopted_even_when_the_state_file_is_junk(pm: PM) -> None:
    pm.run("start", TICKER, "--name", "api", "-s")
    api = pm.wait_status("api", "online")["pid"]
    _kill_daemon(pm)
    (pm.home / "state.json").write_text("{{{")
    entries = pm.jlist()
    assert [(e["name"], e["pid"]) for e in entries] == [("api", api)]
    assert "moved aside, apps still running are adopted" in (pm.home / "pm.log").read_text()


def test_an_adopted_app_that_crashes_later_is_restarted_at_once(pm: PM) -> None:
    pm.run("start", TICKER, "--name", "api", "-s")
    app_pid = pm.wait_status("api", "online")["pid"]
    _kill_daemon(pm)
    assert pm.app("api")["pid"] == app_pid  # adopted: not the new daemon's child
    os.kill(app_pid, signal.SIGKILL)
    entry = wait_for(
        lambda: (e := pm.app("api"))["pid"] not in (0, app_pid) and e,
        timeout=10,
        message="respawn of an adopted app",
    )
    assert entry["pm2_env"]["restart_time"] == 1
    assert entry["pm2_env"]["exit_code"] is None  # not our child: its exit code is unknown
    assert "exited with code [unknown]" in (pm.home / "pm.log").read_text()


def test_a_stop_the_dead_daemon_did_not_finish_is_finished(pm: PM) -> None:
    pm.run("start", TICKER, "--name", "api", "-s")
    app_pid = pm.wait_status("api", "online")["pid"]
    _kill_daemon(pm)
    state = json.loads((pm.home / "state.json").read_text())
    state["apps"][0]["status"] = "stopping"
    (pm.home / "state.json").write_text(json.dumps(state))
    pm.wait_status("api", "stopped")
    assert not pid_alive(app_pid)
