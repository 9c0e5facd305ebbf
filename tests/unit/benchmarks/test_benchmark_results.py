"""Benchmark results are reported honestly; no benchmark is run here (all of it takes < 1 s).

A target compared against a peer or a floor that was not measured says "not compared", never
"yes", and is not counted as met.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

sys.path.insert(0, str(ROOT))


from benchmarks import reload_report, report
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
    row = _with(
        _status_row(tmp_path), floor=20.0, pm=25.0, pm2=150.0, supervisord=90.0, circus=130.0
    )
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
    results = {
        "managers": ["pm"],
        "results": [as_json(metric) for metric in (compared, met, diagnostic)],
    }
    assert [row["outcome"] for row in results["results"]] == [NOT_COMPARED, MET, ""]
    assert [row["target_met"] for row in results["results"]] == [None, True, None]
    assert report.summary(results) == (
        "1 of 2 targets met; 1 not compared (no circus, pm2, supervisord measured)."
    )
    table = report.table(results)
    assert "not compared" in table.splitlines()[2]


# ------------------------------------------------------------------ the published tables

DOC = ROOT / "docs" / "performance.md"


def _published() -> list[tuple[str, str]]:
    found = report.blocks(DOC.read_text())
    assert found, f"{DOC} publishes no '<!-- results: PATH -->' block"
    return found


def _table_rows(body: str, last: bool = False) -> list[dict[str, str]]:
    """The fixed-width table of a published block (its first, or its last), cut at the
    columns its dash line marks."""
    tables = body.split("```\n")[1::2]
    lines = tables[-1 if last else 0].splitlines()
    header, dashes, rows = lines[0], lines[1], lines[2:]
    spans, position = [], 0
    for run in dashes.split("  "):
        spans.append((position, position + len(run)))
        position += len(run) + 2
    names = [header[start:end].strip() for start, end in spans]
    return [
        {name: line[start:end].strip() for name, (start, end) in zip(names, spans)} for line in rows
    ]


def _close(cell: str, value: float) -> bool:
    """cell shows value rounded to the digits it has."""
    decimals = len(cell.partition(".")[2])
    return abs(float(cell) - value) <= 0.5 * 10**-decimals + 1e-9


def test_published_tables_come_from_committed_results_files() -> None:
    for path, body in _published():
        assert path.startswith("benchmarks/results/") and path.endswith(".json"), path
        assert (ROOT / path).is_file(), f"{path} is named by {DOC.name} but missing"
        if (ROOT / ".git").exists():
            tracked = subprocess.run(
                ["git", "ls-files", "--error-unmatch", path],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            assert tracked.returncode == 0, f"{path} is not committed"
        assert body == report.markdown(report.load(path), path), (
            f"the block for {path} in {DOC.name} is not what `python benchmarks/report.py "
            f"--update docs/performance.md` renders from it"
        )


def test_every_number_in_the_published_tables_matches_its_results_file() -> None:
    for path, body in _published():
        results = report.load(path)
        if "reload" in results and not results["results"]:
            continue  # workload 8 alone: its own table, checked below
        rows = _table_rows(body)
        assert len(rows) == len(results["results"]), path
        columns, peers = report.columns_of(results)
        met = 0
        for shown, row in zip(rows, results["results"]):
            where = f"{path}: {row['workload']} {row['metric']}"
            medians = row["medians"]
            assert set(medians) == {
                column for column, values in row["samples"].items() if values
            }, where
            for column, value in medians.items():  # the medians are the samples'
                assert value == statistics.median(row["samples"][column]), (where, column)
            assert (shown["#"], shown["metric"], shown["unit"]) == (
                str(row["workload"]),
                row["metric"],
                row["unit"],
            ), where
            assert shown["n"] == str(len(row["samples"].get("pm", []))), where
            for column in columns:
                if column in medians:
                    assert _close(shown[column], medians[column]), (where, column, shown[column])
                else:
                    assert shown[column] == "-", (where, column)
            for peer in peers:
                cell = shown[f"pm/{peer}"]
                if "pm" in medians and peer in medians and medians["pm"] and medians[peer]:
                    expected = (
                        medians[peer] / medians["pm"]
                        if row["better"] == "higher"
                        else medians["pm"] / medians[peer]
                    )
                    assert _close(cell, expected), (where, peer, cell)
                else:
                    assert cell == "", (where, peer)
            assert (shown["target"], shown["met"]) == (row["target"], row["outcome"]), where
            if row["outcome"] == "not compared":
                assert row["missing"] or "pm" not in medians, where
            met += shown["met"] == "yes"
        counted = [row for row in results["results"] if row["outcome"]]
        assert f"\n{met} of {len(counted)} targets met" in body, path


def _reload_published() -> list[tuple[str, str, dict[str, object]]]:
    return [
        (path, body, results)
        for path, body in _published()
        if "reload" in (results := report.load(path))
    ]


def test_the_reload_workload_is_published_from_its_results_file() -> None:
    assert _reload_published(), f"{DOC.name} publishes no block with workload 8"


def test_every_number_in_the_published_reload_tables_matches_its_results_file() -> None:
    for path, body, results in _reload_published():
        section = results["reload"]
        assert isinstance(section, dict)
        rows, runs = _table_rows(body, last=True), section["runs"]
        assert [row["variant"] for row in rows] == [run["variant"] for run in runs], path
        for shown, run in zip(rows, runs):
            where = f"{path}: {run['variant']}"
            if "requests" not in run:
                assert set(shown.values()) == {run["variant"], "-"}, where
                assert f"{run['variant']} gave up: {run['gave_up']}" in body, where
                continue
            kinds = run["failed_by_kind"]
            # the counts agree with each other and with the failures listed one by one
            assert run["failed"] == sum(kinds.values()) == len(run["failures"]), where
            assert run["requests"] == run["answered"] + run["failed"], where
            for kind, count in kinds.items():
                assert count == sum(failure[1] == kind for failure in run["failures"]), where
            assert (
                sum(run["failed_per_reload"]) + run["failed_before_first_reload"] == (run["failed"])
            ), where
            assert len(run["reload_s"]) == len(run["reload_windows"]), where
            # the table shows them
            assert (shown["requests"], shown["failed"]) == (
                str(run["requests"]),
                str(run["failed"]),
            ), where
            for kind, column in (
                ("refused", "refused"),
                ("reset", "reset"),
                ("timeout", "timeout"),
                ("status", "non-2xx"),
                ("other", "other"),
            ):
                assert shown[column] == str(kinds[kind]), (where, column)
            for column, key in (("p50 ms", "p50_ms"), ("p99 ms", "p99_ms"), ("worst ms", "max_ms")):
                assert _close(shown[column], run[key]), (where, column)
            assert [float(cell) for cell in shown["reload s, each"].split()] == [
                round(seconds, 2) for seconds in run["reload_s"]
            ], where
            assert shown["instances"] == str(run["instances_seen"]), where
            assert _close(shown["lag ms"], run["generator_max_lag_ms"]), where
        pm = next((run for run in runs if run["variant"] == "pm"), None)
        expected = (
            "not measured"
            if pm is None
            else "yes"
            if "gave_up" not in pm and pm.get("failed") == 0
            else "NO"
        )
        assert section["outcome"] == expected, path
        assert f"Target: {section['target']}: {expected}." in body, path


def test_a_reload_run_that_gave_up_shows_dashes_and_says_why() -> None:
    gave_up = {"variant": "pm", "manager": "pm", "mode": "listen", "gave_up": "no socket"}
    section = {"runs": [gave_up], "target": "0 failed", "outcome": "NO"}
    table = reload_report.table(section)
    assert table.splitlines()[2].split() == ["pm"] + ["-"] * 13
    assert reload_report.summary(section) == "Target: 0 failed: NO.\npm gave up: no socket"
