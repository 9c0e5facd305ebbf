"""The benchmark harness runs end to end in a minimal mode and prints its tables (no timing
checks, but workload 8 must fail no request)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import ROOT


def test_benchmark_runs_and_prints_a_table(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--quick",
            "--only",
            "1,2,6",
            "--managers",
            "pm",
            "--apps",
            "2",
            "--reps",
            "1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "status round trip" in result.stdout
    assert "start 2 apps until all online" in result.stdout
    assert "pm/floor" in result.stdout
    data = json.loads(out.read_text())
    rows = {row["metric"]: row for row in data["results"]}
    assert set(rows["start 2 apps until all online"]["medians"]) == {"floor", "pm"}
    assert rows["stop/delete all 2 apps until gone"]["samples"]["pm"]
    # no peer ran, so the target "below every peer" was not compared: never "yes"
    status = rows["status round trip, 2 apps"]
    assert status["outcome"] == "not compared" and status["target_met"] is None
    assert status["missing"] == ["pm2", "supervisord", "circus"]
    assert "1 not compared" in result.stdout


def test_reload_workload_runs_pm_with_a_socket_handed_over(tmp_path: Path) -> None:
    """Workload 8 in brief (one reload, 100 requests/s, about 6 s): pm hands the socket over,
    the reload replaces both instances, and no request fails."""
    out = tmp_path / "reload.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--quick",
            "--only",
            "8",
            "--managers",
            "pm",
            "--variants",
            "pm",
            "--reloads",
            "1",
            "--rate",
            "100",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "reload s, each" in result.stdout
    (run,) = json.loads(out.read_text())["reload"]["runs"]
    assert "gave_up" not in run, run.get("gave_up")
    assert run["served"] == {"socket": ["inherited"], "notify": ["yes"]}
    assert len(run["reload_s"]) == 1 and run["instances_seen"] == 4
    assert run["requests"] > 100 and run["failed"] == 0, run["failed_by_kind"]
