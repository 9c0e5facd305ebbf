"""Security: private home, socket and dump; other users cannot connect; no secrets in pm.log."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.home import PM, pid_alive, wait_for
from helpers.reliability import write_ecosystem

SECRET = "s3cr3t-Zq9-do-not-log"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_home_socket_and_dump_are_private(pm: PM) -> None:
    pm.run("start", sys.executable, "--name", "t", "--", "-c", "import time; time.sleep(1000)")
    assert _mode(pm.home) == 0o700
    assert _mode(pm.home / "rpc.sock") == 0o600
    assert _mode(pm.home / "pm.log") == 0o600
    daemon = pm.daemon_pid()
    assert daemon
    os.kill(daemon, signal.SIGTERM)  # SIGTERM saves the process list, as PM2
    wait_for(lambda: not pid_alive(daemon), 20, message="daemon exit")
    assert (pm.home / "dump").exists()
    assert _mode(pm.home / "dump") == 0o600


def test_a_loosened_home_is_made_private_again(pm: PM) -> None:
    pm.home.mkdir(mode=0o777)
    os.chmod(pm.home, 0o777)
    pm.run("ping")
    assert _mode(pm.home) == 0o700


def _nobody_env(pm: PM) -> dict[str, str]:
    keep = {"PATH", "LANG", "LC_ALL", "PYTHONPATH"}
    env = {key: value for key, value in os.environ.items() if key in keep}
    return dict(env, PM_HOME=str(pm.home), HOME="/tmp")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user")
def test_another_user_cannot_connect(pm: PM) -> None:
    pm.run("ping")
    # Open every directory above the socket so only the socket's own 0600 mode protects it.
    os.chmod(pm.home.parent, 0o755)
    os.chmod(pm.home, 0o755)
    probe = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        f"    s.connect({str(pm.home / 'rpc.sock')!r})\n"
        "except PermissionError:\n"
        "    sys.exit(13)\n"
        's.sendall(b\'{"id":1,"cmd":"list"}\\n\')\n'
        "print(s.recv(65536))\n"
    )
    result = subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            sys.executable,
            "-c",
            probe,
        ],
        env=_nobody_env(pm),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 13, f"nobody could talk to the daemon: {result.stdout}"
    # The CLI as nobody says what is wrong and does not start a second daemon over the home.
    daemon = pm.daemon_pid()
    cli = subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            sys.executable,
            "-m",
            "pm",
            "jlist",
        ],
        env=_nobody_env(pm),
        cwd="/",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert cli.returncode != 0
    assert "Traceback" not in cli.stderr
    assert pm.daemon_pid() == daemon
    os.chmod(pm.home, 0o700)


def test_no_secret_from_an_app_env_reaches_pm_log(pm: PM) -> None:
    crash = {
        "name": "leaky-crash",
        "script": sys.executable,
        "interpreter": "none",
        "args": ["-c", "import sys; sys.exit(3)"],
        "env": {"API_TOKEN": SECRET},
        "max_restarts": 3,
    }
    bad_cwd = {
        "name": "leaky-badcwd",
        "script": "/bin/sleep",
        "interpreter": "none",
        "args": "1000",
        "env": {"API_TOKEN": SECRET},
        "cwd": "/nonexistent/x",
    }
    ok = {
        "name": "leaky",
        "script": "/bin/sleep",
        "interpreter": "none",
        "args": "1000",
        "env": {"API_TOKEN": SECRET, "PASSWORD": SECRET},
    }
    env = dict(pm.env, SHELL_SECRET=SECRET)
    pm.run("start", str(write_ecosystem(pm.workdir, [crash, ok])), env=env)
    pm.run("start", str(write_ecosystem(pm.workdir, [bad_cwd], "bad.json")), env=env, check=False)
    pm.wait_status("leaky-crash", "errored", timeout=30)
    pm.run("restart", "leaky", "--update-env", env=env)
    pm.run("sendSignal", "SIGKILL", "leaky")
    wait_for(lambda: pm.app("leaky")["pm2_env"]["restart_time"] >= 2, 10, message="respawn")
    pm.run("stop", "all")
    log = (pm.home / "pm.log").read_text()
    assert "leaky" in log
    assert SECRET not in log
