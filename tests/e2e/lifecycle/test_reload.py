"""Socket handover (`listen`) and rolling reload against a real daemon: a Python HTTP app with 2
instances behind one handed-over socket is reloaded under load with no failed request, and a
new version that dies or never gets ready leaves the old processes serving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers.home import APPS, PM, pid_alive, wait_for
from helpers.load import Load, free_port, get, reload_under_load


def write_eco(pm: PM, port: int, **extra: Any) -> Path:
    app = {
        "name": "web",
        "script": str(APPS / "ready_http.py"),
        "instances": 2,
        "listen": f"127.0.0.1:{port}",
        "wait_ready": True,
        "listen_timeout": 5000,
        "kill_timeout": 5000,
        **extra,
    }
    path = pm.workdir / "eco.json"
    path.write_text(json.dumps({"apps": [app]}))
    return path


def test_instances_share_the_handed_over_socket(pm: PM) -> None:
    port = free_port()
    pm.run("start", str(write_eco(pm, port)))
    pids = {entry["pid"] for entry in pm.jlist()}
    assert len(pids) == 2
    wait_for(
        lambda: {get(port) for _ in range(40)} == pids,
        10,
        message="both instances to answer on the one port",
    )
    for pid in pids:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert b"LISTEN_FDS=1" in environ and f"LISTEN_PID={pid}".encode() in environ


def test_reload_under_load_fails_no_request(pm: PM) -> None:
    port = free_port()
    pm.run("start", str(write_eco(pm, port)))
    before = {entry["pid"] for entry in pm.jlist()}
    failures = reload_under_load(pm, "web", port, 5)
    assert failures == [], failures[:5]
    entries = pm.jlist()
    after = {entry["pid"] for entry in entries}
    assert not after & before and [e["pm2_env"]["restart_time"] for e in entries] == [5, 5]
    wait_for(
        lambda: {get(port) for _ in range(40)} == after, 10, message="the new instances to answer"
    )
    assert not any(pid_alive(pid) for pid in before)


def test_reload_of_a_server_with_no_signal_handling_cuts_no_request(pm: PM) -> None:
    """plain_http.py dies on SIGINT wherever it is; pm stops each old instance at a moment it
    is between requests (quiesce.py), so no request is cut."""
    port = free_port()
    app = {
        "name": "plain",
        "script": str(APPS / "plain_http.py"),
        "instances": 2,
        "listen": f"127.0.0.1:{port}",
    }
    (pm.workdir / "plain.json").write_text(json.dumps({"apps": [app]}))
    pm.run("start", str(pm.workdir / "plain.json"))
    before = {entry["pid"] for entry in pm.jlist()}
    failures = reload_under_load(pm, "plain", port, 5)
    assert failures == [], failures[:5]
    assert not {entry["pid"] for entry in pm.jlist()} & before


def test_reload_to_a_version_that_dies_keeps_the_old_processes(pm: PM) -> None:
    port = free_port()
    pm.run("start", str(write_eco(pm, port)))
    before = {entry["pid"] for entry in pm.jlist()}
    broken = write_eco(pm, port, env={"EXIT_AT_START": "1"})
    result = pm.run("startOrReload", str(broken), check=False)
    assert result.returncode != 0
    assert "web" in result.stderr and "exited (code 3" in result.stderr and "kept" in result.stderr
    assert {entry["pid"] for entry in pm.jlist()} == before
    assert get(port) in before
    assert all(entry["pm2_env"]["status"] == "online" for entry in pm.jlist())


def test_reload_to_a_version_never_ready_keeps_the_old_processes(pm: PM) -> None:
    port = free_port()
    pm.run("start", str(write_eco(pm, port)))
    before = {entry["pid"] for entry in pm.jlist()}
    silent = write_eco(pm, port, listen_timeout=800, env={"NO_READY": "1"})
    result = pm.run("startOrReload", str(silent), check=False)
    assert result.returncode != 0 and "not ready within 800ms" in result.stderr
    assert {entry["pid"] for entry in pm.jlist()} == before
    assert get(port) in before
    log = (pm.home / "pm.log").read_text()
    assert "[web:0] reload failed: the new process" in log


def test_reload_of_a_plain_app_is_a_restart(pm: PM) -> None:
    """No listen, wait_ready or health check: PM2's fork-mode reload, a restart."""
    ticker = APPS / "ticker.py"
    pm.run("start", str(ticker), "--name", "tick")
    old = pm.app("tick")["pid"]
    out = pm.run("reload", "tick").stdout
    assert "[tick](0) ✓ reloaded" in out
    entry = pm.app("tick")
    assert entry["pid"] != old and entry["pm2_env"]["restart_time"] == 1
    assert not pid_alive(old)


def test_handed_over_socket_survives_a_daemon_sigkill(pm: PM) -> None:
    import os
    import signal

    port = free_port()
    pm.run("start", str(write_eco(pm, port)))
    pm.wait_state_saved()
    daemon = pm.daemon_pid()
    assert daemon is not None
    with Load(port) as load:
        os.kill(daemon, signal.SIGKILL)
        wait_for(lambda: not pid_alive(daemon), 10, message="the daemon to die")
        before = {entry["pid"] for entry in pm.jlist()}  # a new daemon re-adopts the apps
        pm.run("reload", "web")
        after = {entry["pid"] for entry in pm.jlist()}
        wait_for(lambda: load.answers > 50, 10, message="answers after the reload")
    assert load.failures == [], load.failures[:5]
    assert len(after) == 2 and not after & before
    log = (pm.home / "pm.log").read_text()
    assert f"Took over the socket of 127.0.0.1:{port}" in log
