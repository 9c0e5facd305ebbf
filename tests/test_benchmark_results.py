"""Benchmark results are reported honestly; no benchmark is run here (all of it takes < 1 s).

A target compared against a peer or a floor that was not measured says "not compared", never
"yes", and is not counted as met.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import report
from benchmarks.workloads import (
    MET,
    NOT_COMPARED,
    NOT_MEASURED,
    NOT_MET,
    Bench,
    Metric,
    as_json,
    fleet_metrics,
    output_metrics,
    respawn,
    roundtrip,
)


def _bench(tmp_path: Path) -> Bench:
    """A bench with no manager: a workload run on it only builds its metrics."""
    apps = {name: tmp_path / name for name in ("crash.py", "crash.sh")}
    return Bench(tmp_path, apps, [], reps=1, quick=True)


def _with(metric: Metric, **medians: float) -> Metric:
    for column, value in medians.items():
        metric.add(column, value)
    return metric


def _status_row(tmp_path: Path) -> Metric:
    (row,) = roundtrip(_bench(tmp_path))
    return row


def test_round_trip_target_without_any_peer_is_not_compared(tmp_path: Path) -> None:
    row = _with(_status_row(tmp_path), floor=20.0, pm=25.0)
    assert row.outcome() == NOT_COMPARED
    assert row.missing() == ["pm2", "supervisord", "circus"]


def test_round_trip_target_with_some_peers_missing_is_not_compared(tmp_path: Path) -> None:
    row = _with(_status_row(tmp_path), floor=20.0, pm=25.0, pm2=150.0)
    assert row.outcome() == NOT_COMPARED
    assert row.missing() == ["supervisord", "circus"]


def test_round_trip_target_failing_against_a_peer_that_ran_is_not_met(tmp_path: Path) -> None:
    row = _with(_status_row(tmp_path), floor=20.0, pm=60.0, pm2=150.0)  # above PM2/3
    assert row.outcome() == NOT_MET


def test_round_trip_target_met_only_with_every_peer(tmp_path: Path) -> None:
    row = _with(_status_row(tmp_path), floor=20.0, pm=25.0, pm2=150.0, supervisord=90.0,
                circus=130.0)
    assert row.outcome() == MET


def test_floor_targets_without_the_floor_are_not_compared(tmp_path: Path) -> None:
    start, _ = fleet_metrics(50)
    assert _with(start, pm=0.5).outcome() == NOT_COMPARED
    python, _ = respawn(_bench(tmp_path))
    assert _with(python, pm=20.0).outcome() == NOT_COMPARED


def test_output_target_without_floor_or_peers_is_not_compared() -> None:
    rate, lost = output_metrics(1000)
    assert _with(rate, pm=1400.0).outcome() == NOT_COMPARED  # a missing floor is not 0
    assert _with(lost, pm=0).outcome() == MET  # "0 lost" compares with nothing


def test_output_target_met_only_with_floor_and_every_peer() -> None:
    rate, _ = output_metrics(1000)
    rate = _with(rate, floor=800.0, pm=1400.0, pm2=400.0, supervisord=1300.0)
    assert rate.outcome() == NOT_COMPARED
    assert _with(rate, circus=1100.0).outcome() == MET


def test_pm_that_gave_up_fails_and_pm_not_run_is_not_measured() -> None:
    start, stop = fleet_metrics(50)
    start.gave_up["pm"] = "timed out"
    assert start.outcome() == NOT_MET
    assert stop.outcome() == NOT_MEASURED


def test_summary_counts_only_targets_met(tmp_path: Path) -> None:
    compared = _with(_status_row(tmp_path), floor=20.0, pm=25.0)
    _, stop = fleet_metrics(50)
    met = _with(stop, pm=0.1)
    diagnostic = Metric(1, "  same via the `pm` console script", "ms", "lower")
    results = {"managers": ["pm"], "results": [as_json(metric)
                                               for metric in (compared, met, diagnostic)]}
    assert [row["outcome"] for row in results["results"]] == [NOT_COMPARED, MET, ""]
    assert [row["target_met"] for row in results["results"]] == [None, True, None]
    assert report.summary(results) == (
        "1 of 2 targets met; 1 not compared (no circus, pm2, supervisord measured).")
    table = report.table(results)
    assert "not compared" in table.splitlines()[2]
