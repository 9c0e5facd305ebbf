"""`pm export` as a user runs it: files or standard output, warnings on stderr with exit 0,
one error line for bad input, and the running list read from a real daemon."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from helpers.home import APPS, PM

ECO = {
    "apps": [
        {
            "name": "api",
            "script": "ticker.py",
            "instances": 2,
            "watch": True,
            "env": {"TOKEN": "abc"},
            "env_production": {"TOKEN": "prod"},
        },
        {
            "name": "job",
            "script": "ticker.py",
            "cron_restart": "0 3 * * *",
            "autorestart": False,
            "image": "jobs:2",
        },
    ]
}


def _eco(pm: PM, apps: dict[str, object] = ECO, name: str = "eco.json") -> Path:
    """The file, next to the app it runs (the project folder the image would hold)."""
    shutil.copy(APPS / "ticker.py", pm.workdir / "ticker.py")
    path = pm.workdir / name
    path.write_text(json.dumps(apps))
    return path


def test_compose_to_stdout_with_warnings_on_stderr(pm: PM) -> None:
    result = pm.run("export", "compose", str(_eco(pm)), "--env", "production", "--image", "shop:1")
    services = yaml.safe_load(result.stdout)["services"]
    assert services["api"]["environment"] == {"TOKEN": "prod"}
    assert services["api"]["deploy"]["replicas"] == 2 and services["job"]["image"] == "jobs:2"
    assert result.stderr.splitlines() == [
        (
            "[PM][WARN] app 'api', 'watch': no file watching in a container: build and roll out "
            "a new image instead"
        ),
        (
            "[PM][WARN] app 'job', 'cron_restart': not mapped: Compose has no schedule; run the "
            "service from the host's cron or a systemd timer"
        ),
    ]


def test_kubernetes_files_in_a_folder(pm: PM) -> None:
    out = pm.workdir / "k8s"
    result = pm.run("export", "k8s", str(_eco(pm)), "-o", str(out), "--image", "shop:1")
    assert result.stdout.splitlines() == [
        f"[PM] wrote {out / 'api.yaml'}",
        f"[PM] wrote {out / 'job.yaml'}",
    ]
    kinds = [
        doc["kind"]
        for name in ("api.yaml", "job.yaml")
        for doc in yaml.safe_load_all((out / name).read_text())
    ]
    assert kinds == ["Deployment", "CronJob"]


def test_default_file_is_found_in_the_current_folder(pm: PM) -> None:
    _eco(pm, name="ecosystem.json")
    result = pm.run("export", "systemd")
    assert "# api@.service\n[Unit]" in result.stdout and "# job-cron.timer\n" in result.stdout


def test_bad_input_is_one_line_and_non_zero(pm: PM) -> None:
    bad_instances = _eco(
        pm, {"apps": [{"name": "api", "script": "ticker.py", "instances": "many"}]}, "bad.json"
    )
    cases = {
        (
            "export",
            "nomad",
            str(_eco(pm)),
        ): "unknown export target 'nomad'; choose kubernetes (k8s), compose or systemd",
        ("export", "compose", "missing.json"): "missing.json: no such ecosystem file",
        (
            "export",
            "k8s",
            str(bad_instances),
        ): f"{bad_instances}: app #0 (api): field 'instances': expected a number or 'max', "
        "got 'many'",
        ("export", "systemd", str(_eco(pm)), "--only", "nope"): f"{_eco(pm)}: no app named nope",
    }
    for args, message in cases.items():
        result = pm.run(*args, check=False)
        assert result.returncode == 1, result
        assert result.stderr.splitlines() == [f"[PM][ERROR] {message}"], result.stderr
        assert result.stdout == ""


def test_a_bad_health_check_names_file_app_and_field(pm: PM) -> None:
    """Read by the export, or by pm's own reader where it knows health_check: one line."""
    bad = _eco(
        pm,
        {
            "apps": [
                {
                    "name": "api",
                    "script": "ticker.py",
                    "health_check": {"http": "http://a/", "cmd": "true"},
                }
            ]
        },
        "bad.json",
    )
    result = pm.run("export", "compose", str(bad), check=False)
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"[PM][ERROR] {bad}: app #0 (api): field 'health_check': ")
    assert "exactly one of http, tcp or cmd" in line


def test_running_list(pm: PM) -> None:
    pm.run("start", str(_eco(pm)), "--only", "api", "--env", "production")
    pm.wait_status("api", "online")
    services = yaml.safe_load(pm.run("export", "compose", "running").stdout)["services"]
    assert list(services) == ["api"]
    api = services["api"]
    assert api["environment"] == {"TOKEN": "prod"}  # not the shell's PATH, HOME...
    assert api["deploy"]["replicas"] == 2
    assert api["entrypoint"] == ["python3", "ticker.py"]
    assert api["working_dir"] == "/app"  # the project folder is the current one
