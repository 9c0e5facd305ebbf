"""PM_HOME's files, and PM2's path overrides spelt PM_<KEY> (PM2_PID_FILE_PATH -> PM_PID_FILE_PATH)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers.home import APPS, PM, wait_for

from pm.paths import Home

OVERRIDES = {
    "PM_PID_FILE_PATH": "pid_file",
    "PM_LOG_FILE_PATH": "daemon_log",
    "PM_DUMP_FILE_PATH": "dump",
    "PM_DUMP_BACKUP_FILE_PATH": "dump_backup",
    "PM_MODULE_CONF_FILE": "config",
    "PM_DEFAULT_LOG_PATH": "logs_dir",
    "PM_DEFAULT_PID_PATH": "pids_dir",
    "PM_DAEMON_RPC_PORT": "socket",
}


def test_every_override_moves_its_file_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = Home(tmp_path / "home")
    defaults = {attribute: getattr(home, attribute) for attribute in OVERRIDES.values()}
    assert all(path.parent == home.root for path in defaults.values())
    for variable, attribute in OVERRIDES.items():
        monkeypatch.setenv(variable, str(tmp_path / "elsewhere" / variable))
        assert getattr(home, attribute) == tmp_path / "elsewhere" / variable
        others = {a: getattr(home, a) for a in OVERRIDES.values() if a != attribute}
        assert others == {a: p for a, p in defaults.items() if a != attribute}
        monkeypatch.delenv(variable)


def test_a_daemon_writes_its_pid_and_the_app_logs_where_overridden(pm: PM) -> None:
    elsewhere = pm.workdir / "elsewhere"
    env = dict(
        pm.env,
        PM_PID_FILE_PATH=str(elsewhere / "daemon.pid"),
        PM_DEFAULT_LOG_PATH=str(elsewhere / "logs"),
    )
    try:
        pm.run(
            "start",
            str(APPS / "ticker.py"),
            "--name",
            "tick",
            "--interpreter",
            sys.executable,
            "-s",
            env=env,
        )
        pid = int(
            wait_for(
                lambda: (
                    (elsewhere / "daemon.pid").exists() and (elsewhere / "daemon.pid").read_text()
                ),
                message="pid file",
            )
        )
        title = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
        assert title.startswith(f"pm: God Daemon ({pm.home})")  # the daemon of this home
        wait_for(lambda: (elsewhere / "logs" / "tick-out.log").exists(), message="out log")
        assert not (pm.home / "pm.pid").exists()
        assert not (pm.home / "logs" / "tick-out.log").exists()
    finally:
        pm.run("kill", env=env, check=False)
