"""The benchmark harness runs end to end in a minimal mode and prints its table (no timing checks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_runs_and_prints_a_table(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--only", "1,2,6",
         "--managers", "pm", "--apps", "2", "--reps", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
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
