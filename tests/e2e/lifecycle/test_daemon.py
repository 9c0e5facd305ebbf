"""The god daemon: one per home, private files, survives bad input, saves on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys

from helpers.home import APPS, PM, pid_alive, wait_for

TICKER = str(APPS / "ticker.py")


def _raw(pm: PM, payload: bytes) -> list[dict]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(str(pm.home / "rpc.sock"))
    sock.sendall(payload)
    sock.shutdown(socket.SHUT_WR)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def test_home_and_socket_are_private(pm: PM) -> None:
    pm.run("ping")
    assert stat.S_IMODE(os.stat(pm.home).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(pm.home / "rpc.sock").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(pm.home / "logs").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(pm.home / "pm.log").st_mode) == 0o600


def test_daemon_title_names_pm_and_its_home(pm: PM) -> None:
    pm.run("ping")
    pid = pm.daemon_pid()
    assert pid
    from pathlib import Path

    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert cmdline.startswith(f"pm: God Daemon ({pm.home})")
    assert os.getsid(pid) == pid or os.getsid(pid) != os.getsid(0)  # detached from our session


def test_garbage_gets_error_replies_and_the_daemon_lives(pm: PM) -> None:
    pm.run("start", TICKER, "--name", "api")
    before = pm.jlist()
    replies = _raw(
        pm,
        b'garbage\n[1,2]\n{"id":1}\n'
        b'{"id":2,"cmd":"stop","args":{"targets":{}}}\n'
        b'{"id":3,"cmd":"start","args":{"apps":[{"script":5}]}}\n'
        b'{"id":4,"cmd":"list","args":[]}\n'
        b'\xff\xfe\x00\n{"id":5,"cmd":"ping"}\n{"trunc',
    )
    assert [r["ok"] for r in replies] == [False] * 7 + [True, False]
    assert all(r["error"]["code"] and r["error"]["message"] for r in replies if not r["ok"])
    assert replies[7]["result"] == {"msg": "pong"}
    assert "no newline" in replies[8]["error"]["message"]  # the truncated frame at EOF
    after = pm.jlist()
    assert [(e["name"], e["pid"], e["pm2_env"]["status"]) for e in after] == [
        (e["name"], e["pid"], e["pm2_env"]["status"]) for e in before
    ]


def test_version_mismatch_is_explained(pm: PM) -> None:
    pm.run("ping")
    replies = _raw(pm, b'{"id":1,"cmd":"list","v":999}\n')
    assert replies[0]["error"]["code"] == "version_mismatch"
    assert "pm update" in replies[0]["error"]["message"]
    assert "pm kill" in replies[0]["error"]["message"]


def test_a_second_daemon_for_the_same_home_refuses(pm: PM) -> None:
    pm.run("ping")
    first = pm.daemon_pid()
    second = subprocess.run(
        [sys.executable, "-m", "pm.daemon"], env=pm.env, capture_output=True, text=True, timeout=30
    )
    assert second.returncode == 3
    assert "already runs" in second.stderr
    assert pm.daemon_pid() == first and pm.run("ping").returncode == 0


def test_sigterm_saves_the_list_stops_apps_and_exits(pm: PM) -> None:
    pm.run("start", TICKER, "--name", "api")
    app_pid = pm.wait_status("api", "online")["pid"]
    daemon = pm.daemon_pid()
    assert daemon
    os.kill(daemon, signal.SIGTERM)
    wait_for(lambda: not pid_alive(daemon), message="daemon exit")
    assert not pid_alive(app_pid)
    dump = json.loads((pm.home / "dump").read_text())
    assert [entry["spec"]["name"] for entry in dump] == ["api"]
    assert stat.S_IMODE(os.stat(pm.home / "dump").st_mode) == 0o600
    assert not (pm.home / "rpc.sock").exists() and not (pm.home / "pm.pid").exists()


def test_sigterm_with_no_apps_keeps_the_saved_list(pm: PM) -> None:
    pm.run("ping")
    (pm.home / "dump").write_text('[{"keep": true}]')
    daemon = pm.daemon_pid()
    assert daemon
    os.kill(daemon, signal.SIGTERM)
    wait_for(lambda: not pid_alive(daemon), message="daemon exit")
    assert json.loads((pm.home / "dump").read_text()) == [{"keep": True}]


def test_stale_socket_and_pid_after_a_crash_are_cleaned(pm: PM) -> None:
    pm.run("ping")
    daemon = pm.daemon_pid()
    assert daemon
    os.kill(daemon, signal.SIGKILL)
    wait_for(lambda: not pid_alive(daemon), message="daemon death")
    assert (pm.home / "rpc.sock").exists()  # left behind by the crash
    assert pm.run("ping").stdout.strip() == "{ msg: 'pong' }"
    assert pm.daemon_pid() not in (None, daemon)


def test_kill_stops_apps_and_daemon(pm: PM) -> None:
    pm.run("start", TICKER, "--name", "api")
    app_pid = pm.wait_status("api", "online")["pid"]
    daemon = pm.daemon_pid()
    assert "killed" in pm.run("kill").stdout
    assert daemon and not pid_alive(daemon) and not pid_alive(app_pid)
    assert not (pm.home / "dump").exists()  # kill does not save, as PM2


def test_too_long_home_is_a_clear_error(pm: PM) -> None:
    long_home = "/tmp/" + "x" * 120
    result = pm.run("ping", check=False, env=dict(pm.env, PM_HOME=long_home))
    assert result.returncode == 1
    assert "too long for a Unix socket" in result.stderr
    assert not os.path.exists(long_home)
