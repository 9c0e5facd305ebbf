"""`pm startup` / `pm unstartup`: the systemd unit (PM2.md 3.7) and the Type=forking contract."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
from helpers.home import APPS, PM, pid_alive, wait_for

TICKER = str(APPS / "ticker.py")


def _unit(text: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("["):
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def test_print_shows_pm2s_unit_adapted_to_pm(pm: PM) -> None:
    text = pm.run("startup", "systemd", "-u", "root", "--hp", "/srv/app", "--print").stdout
    unit = _unit(text)
    assert "[Unit]" in text and "[Service]" in text and "[Install]" in text
    assert unit["Type"] == ["forking"] and unit["User"] == ["root"]
    assert unit["PIDFile"] == ["/srv/app/.pm/pm.pid"]
    assert "PM_HOME=/srv/app/.pm" in unit["Environment"]
    assert any(env.startswith("PATH=") and "/usr/bin" in env for env in unit["Environment"])
    assert unit["ExecStart"][0].endswith(" resurrect")
    assert unit["ExecReload"][0].endswith(" reload all")
    assert unit["ExecStop"][0].endswith(" kill")
    assert unit["WantedBy"] == ["multi-user.target"] and unit["Restart"] == ["on-failure"]
    assert unit["KillMode"] == ["process"]  # a daemon crash leaves the apps to re-adopt
    assert not (pm.home / "rpc.sock").exists()  # printing needs no daemon


def test_user_unit_and_service_name(pm: PM) -> None:
    unit = _unit(pm.run("startup", "--user-unit", "--service-name", "apps", "--print").stdout)
    assert "User" not in unit and unit["WantedBy"] == ["default.target"]
    assert f"PM_HOME={pm.home}" in unit["Environment"]  # the current PM_HOME is kept
    out = pm.workdir / "units"
    result = pm.run("startup", "--user-unit", "--service-name", "apps", "--unit-dir", str(out))
    assert (out / "apps.service").is_file() and "pm save" in result.stdout
    pm.run("unstartup", "--user-unit", "--service-name", "apps", "--unit-dir", str(out))
    assert not (out / "apps.service").exists()


def test_unknown_platform_and_user_are_clear_errors(pm: PM) -> None:
    result = pm.run("startup", "upstart", "--print", check=False)
    assert result.returncode == 1 and "systemd" in result.stderr
    result = pm.run("startup", "-u", "no-such-user-xyz", "--print", check=False)
    assert result.returncode == 1 and "no-such-user-xyz" in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run pm as another user")
def test_non_root_gets_the_sudo_command(pm: PM) -> None:
    try:
        result = subprocess.run(
            [str(Path(os.sys.executable)), "-m", "pm", "startup"],
            capture_output=True,
            text=True,
            user=65534,
            cwd="/",
            env=dict(pm.env, PM_HOME="/tmp"),
            timeout=60,
            check=False,
        )
    except PermissionError:
        pytest.skip("this Python is not executable by nobody")
    if "Permission denied" in result.stderr or "No module named" in result.stderr:
        pytest.skip("this checkout is not readable by nobody")
    assert result.returncode == 1
    assert (
        "sudo env PATH=$PATH:" in result.stdout
        and "startup systemd -u nobody --hp" in result.stdout
    )


@pytest.mark.needs("systemd-analyze")
@pytest.mark.parametrize("flags", [(), ("--user-unit",), ("--wait-ip",)])
def test_generated_unit_passes_systemd_analyze_verify(pm: PM, flags: tuple[str, ...]) -> None:
    out = pm.workdir / "units"
    pm.run("startup", *flags, "--service-name", "pm-verify", "--unit-dir", str(out))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(out / "pm-verify.service")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "pm-verify.service" not in result.stderr, result.stderr


def test_execstart_behaves_as_type_forking_needs(pm: PM) -> None:
    """ExecStart exits once the daemon is up and PIDFile names it; ExecStop ends it."""
    pm.run("start", TICKER, "--name", "api", "-s")
    pm.run("save")
    pm.run("kill")
    unit = _unit(pm.run("startup", "--print").stdout)
    env = dict(pm.env)
    for assignment in unit["Environment"]:
        key, _, value = assignment.partition("=")
        env[key] = value
    start = subprocess.run(
        shlex.split(unit["ExecStart"][0]),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd="/",
    )
    assert start.returncode == 0, start.stderr
    daemon = int(Path(unit["PIDFile"][0]).read_text())
    assert pid_alive(daemon)
    assert pm.wait_status("api", "online")["pid"]
    stop = subprocess.run(
        shlex.split(unit["ExecStop"][0]),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd="/",
    )
    assert stop.returncode == 0, stop.stderr
    wait_for(lambda: not pid_alive(daemon), message="daemon stopped by ExecStop")


def test_sudo_command_names_user_home_and_this_pm() -> None:
    from pm.cli import startup_unit as startup

    setup = startup.resolve("root", "/srv/app")
    command = startup.sudo_command(setup)
    assert command.startswith("sudo env PATH=$PATH:")
    assert command.endswith(f"{setup.pm_command} startup systemd -u root --hp /srv/app")
    assert " unstartup systemd -u root " in startup.sudo_command(setup, "unstartup")


def test_the_current_users_home_is_home_as_for_every_command(pm: PM, tmp_path: Path) -> None:
    """One rule for the default home: $HOME (PM2 follows it too), not the user database."""
    env = {key: value for key, value in pm.env.items() if key != "PM_HOME"}
    env["HOME"] = str(tmp_path / "elsewhere")
    text = pm.run("startup", "--print", env=env).stdout
    assert f"PM_HOME={tmp_path / 'elsewhere' / '.pm'}" in text
