"""Ecosystem files end to end: a real daemon, real children recording the env they were given."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from helpers import CORPUS
from helpers.home import PM, wait_for

from pm.config.ecosystem import load_file

DUMPER = CORPUS / "apps" / "dump_env.py"


def write_eco(pm: PM, apps: list[dict[str, Any]], name: str = "eco.json") -> Path:
    dumps = pm.workdir / "dumps"
    dumps.mkdir(exist_ok=True)
    shutil.copy(DUMPER, pm.workdir / "w.py")
    for app in apps:
        app.setdefault("script", "w.py")
        app.setdefault("env", {})["CORPUS_DUMP"] = str(dumps)
    path = pm.workdir / name
    path.write_text(json.dumps({"apps": apps}))
    return path


def child_env(pm: PM, name: str, pm_id: int, since: float = 0.0) -> dict[str, str]:
    """The env the child recorded (waiting for a record newer than `since`)."""
    path = pm.workdir / "dumps" / f"{name}-{pm_id}.json"

    def read() -> dict[str, str] | None:
        if not path.exists() or path.stat().st_mtime <= since:
            return None
        return json.loads(path.read_text())["env"]  # type: ignore[no-any-return]

    return wait_for(read, 15, 0.05, f"{name}-{pm_id} to record its env")  # type: ignore[no-any-return]


def mtime(pm: PM, name: str, pm_id: int) -> float:
    return (pm.workdir / "dumps" / f"{name}-{pm_id}.json").stat().st_mtime


def test_start_twice_restarts_with_the_files_env_and_no_duplicates(pm: PM) -> None:
    eco = write_eco(pm, [{"name": "api", "env": {"LEVEL": "1"}, "env_prod": {"LEVEL": "prod"}}])
    pm.run("start", str(eco))
    assert child_env(pm, "api", 0)["LEVEL"] == "1"
    before = mtime(pm, "api", 0)
    data = json.loads(eco.read_text())
    data["apps"][0]["env"]["LEVEL"] = "2"
    eco.write_text(json.dumps(data))
    out = pm.run("start", str(eco)).stdout
    assert "restartProcessId" in out
    assert child_env(pm, "api", 0, before)["LEVEL"] == "2"  # a file's env is always applied
    entries = pm.jlist()
    assert [(e["name"], e["pm_id"]) for e in entries] == [("api", 0)]
    assert entries[0]["pm2_env"]["restart_time"] == 1
    before = mtime(pm, "api", 0)
    pm.run("restart", str(eco), "--env", "prod")
    assert child_env(pm, "api", 0, before)["LEVEL"] == "prod"


def test_a_broken_file_starts_nothing(pm: PM) -> None:
    eco = write_eco(
        pm,
        [
            {"name": "good"},
            {"name": "bad", "script": "missing.py"},
            {"name": "worse", "max_restarts": "lots"},
        ],
    )
    result = pm.run("start", str(eco), check=False)
    assert result.returncode != 0
    assert "app #1 (bad): script not found" in result.stderr
    assert "app #2 (worse): field 'max_restarts': expected a number, got 'lots'" in result.stderr
    assert pm.jlist() == []


def test_instances_env_per_id_logs_and_scale(pm: PM) -> None:
    eco = write_eco(
        pm,
        [
            {
                "name": "w",
                "instances": 2,
                "increment_var": "PORT",
                "env": {"PORT": "9000"},
                "port": None,
            }
        ],
    )
    pm.run("start", str(eco))
    envs = [child_env(pm, "w", i) for i in (0, 1)]
    assert [e["NODE_APP_INSTANCE"] for e in envs] == ["0", "1"]
    assert [e["PORT"] for e in envs] == ["9000", "9001"]
    pm.run("scale", "w", "4")
    entries = pm.jlist()
    assert [e["pm_id"] for e in entries] == [0, 1, 2, 3]
    assert all(e["pm2_env"]["instances"] == 4 for e in entries)
    assert entries[3]["pm2_env"]["pm_out_log_path"].endswith("/logs/w-out-3.log")
    assert child_env(pm, "w", 3)["NODE_APP_INSTANCE"] == "3"
    pm.run("scale", "w", "-3")  # PM2 deletes the oldest ids first
    assert [(e["pm_id"], e["pm2_env"]["instances"]) for e in pm.jlist()] == [(3, 1)]
    for old in (pm.workdir / "dumps").glob("w-*.json"):
        old.unlink()  # so the next record read is the new instance's
    pm.run("scale", "w", "+1")
    ids = [e["pm_id"] for e in pm.jlist()]
    assert len(ids) == 2 and ids[0] == 3
    assert child_env(pm, "w", ids[1])["NODE_APP_INSTANCE"] == "0"  # smallest free index
    bad = pm.run("scale", "w", "lots", check=False)
    assert bad.returncode != 0 and "N, +N or -N" in bad.stderr
    pm.run("scale", "w", "0")
    assert pm.jlist() == []


def test_only_start_or_restart_reload_stop_and_delete_a_file(pm: PM) -> None:
    eco = write_eco(pm, [{"name": "a"}, {"name": "b"}])
    pm.run("startOrRestart", str(eco), "--only", "a")
    assert [e["name"] for e in pm.jlist()] == ["a"]
    child_env(pm, "a", 0)
    pm.run("startOrReload", str(eco))
    entries = {e["name"]: e for e in pm.jlist()}
    assert set(entries) == {"a", "b"} and entries["a"]["pm2_env"]["restart_time"] == 1
    pm.run("reload", "a")  # fork mode: a restart
    pm.wait_status("a", "online")
    assert pm.app("a")["pm2_env"]["restart_time"] == 2
    pm.run("stop", str(eco))
    assert {e["pm2_env"]["status"] for e in pm.jlist()} == {"stopped"}
    pm.run("delete", str(eco))
    assert pm.jlist() == []


@pytest.mark.parametrize(
    "fmt", ["json", "yaml", pytest.param("js", marks=pytest.mark.needs("node"))]
)
def test_init_writes_a_sample_that_loads(pm: PM, fmt: str) -> None:
    out = pm.run("init", "--format", fmt).stdout
    written = Path(out.split("File ", 1)[1].split(" generated")[0])
    assert written.parent == pm.workdir
    spec = load_file(str(written), env_name="production", check_scripts=False).specs[0]
    assert spec.name == "api" and spec.env["APP_ENV"] == "production"
    written.write_text(written.read_text() + "\n# the user's edit\n")
    again = pm.run("ecosystem", "simple", "--format", fmt)  # PM2 replaces the file; pm keeps it
    backup = written.with_name(written.name + ".bak")
    assert "the user's edit" in backup.read_text() and "kept as" in again.stderr
    simple = load_file(str(written), check_scripts=False).specs
    assert [(spec.name, Path(spec.script).name) for spec in simple] == [("app", "app.py")]
