"""Render a results file (what `run.py --json` writes) as the table run.py prints and as the
block docs/performance.md publishes; one renderer for both, so the doc cannot say what the file
does not.

    python benchmarks/report.py RESULTS.json          print the doc block for one file
    python benchmarks/report.py --update DOC.md       rewrite every block in DOC from its file

A published block in a Markdown file sits between two comments naming its results file,
relative to the repository root:

    <!-- results: benchmarks/results/NAME.json -->
    ...generated text...
    <!-- end results -->

tests/test_benchmark_results.py checks each block against its file.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python benchmarks/report.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import reload_report

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ["floor", "pm", "pm2", "supervisord", "circus"]
PEERS = ["floor", "pm2", "supervisord", "circus"]
MET, NOT_MET, NOT_COMPARED, NOT_MEASURED = "yes", "NO", "not compared", "not measured"

BLOCK = re.compile(r"<!-- results: (?P<path>\S+) -->\n(?P<body>.*?)<!-- end results -->", re.DOTALL)


def ratio(better: str, values: dict[str, float], column: str) -> str:
    """pm's cost relative to column, 2 decimals ("" when either is missing or zero)."""
    if "pm" not in values or column not in values or not values["pm"] or not values[column]:
        return ""
    if better == "higher":
        return f"{values[column] / values['pm']:.2f}"
    return f"{values['pm'] / values[column]:.2f}"


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.2f}"
    if unit in ("ms", "k lines/s", "MB"):
        return f"{value:.1f}" if value < 100 else f"{value:.0f}"
    if unit == "%":
        return f"{value:.2f}"
    return f"{value:g}"


def columns_of(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(value columns, ratio columns) for the managers that were run."""
    managers = results["managers"]
    columns = [column for column in COLUMNS if column == "floor" or column in managers]
    return columns, [column for column in PEERS if column in columns]


def table(results: dict[str, Any]) -> str:
    """The fixed-width table of medians, ratios and targets."""
    columns, peers = columns_of(results)
    header = [
        "#",
        "metric",
        "unit",
        "n",
        *columns,
        *[f"pm/{peer}" for peer in peers],
        "target",
        "met",
    ]
    rows = [header]
    for row in results["results"]:
        values = row["medians"]
        rows.append(
            [
                str(row["workload"]),
                row.get("title", row["metric"]),
                row["unit"],
                str(len(row["samples"].get("pm", []))),
                *[fmt(values.get(column), row["unit"]) for column in columns],
                *[ratio(row["better"], values, peer) for peer in peers],
                row["target"],
                row["outcome"],
            ]
        )
    widths = [max(len(row[index]) for row in rows) for index in range(len(header))]
    lines = []
    for number, row in enumerate(rows):
        cells = [
            cell.ljust(width) if index < 3 or index >= len(row) - 2 else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def summary(results: dict[str, Any]) -> str:
    """How many targets are met; a target not compared or not measured is never counted."""
    rows = [row for row in results["results"] if row["outcome"]]
    counts = {
        outcome: sum(row["outcome"] == outcome for row in rows)
        for outcome in (MET, NOT_MET, NOT_COMPARED, NOT_MEASURED)
    }
    text = f"{counts[MET]} of {len(rows)} targets met"
    if counts[NOT_MET]:
        failed = ", ".join(
            f"{row['workload']} ({row['metric']})" for row in rows if row["outcome"] == NOT_MET
        )
        text += f"; {counts[NOT_MET]} not met: {failed}"
    if counts[NOT_COMPARED]:
        missing = sorted(
            {column for row in rows if row["outcome"] == NOT_COMPARED for column in row["missing"]}
        )
        text += f"; {counts[NOT_COMPARED]} not compared" + (
            f" (no {', '.join(missing)} measured)" if missing else ""
        )
    if counts[NOT_MEASURED]:
        text += f"; {counts[NOT_MEASURED]} not measured (no pm measurement)"
    return text + "."


def context(results: dict[str, Any]) -> str:
    """One paragraph: mode, machine, versions, repetitions and load, with no date."""
    machine, args = results["machine"], results["args"]
    versions = machine.get("versions", {})
    mode = "quick mode (`--quick`)" if args.get("quick") else "full mode"
    peers = [name for name in results["managers"] if name != "pm"]
    described = [f"{name} {versions[name]}" if versions.get(name) else name for name in peers]
    absent = [name for name in ("pm2", "supervisord", "circus") if name not in peers]
    load_start = machine.get("load_avg_at_start") or [None]
    load_end = machine.get("load_avg_at_end") or [None]
    only = args.get("only")
    seconds = results.get("wall_seconds")
    minutes = (
        ""
        if seconds is None
        else f", {seconds} s in all"
        if seconds < 120
        else f", {seconds / 60:.0f} minutes in all"
    )
    text = (
        f"Generated from `{{path}}`: {mode}{minutes}, {machine['cores']}-core VM ({machine['cpu']}, "
        f"{machine['memory_gb']} GB, Linux {machine['kernel']}, Python {machine['python']}), "
        f"workloads {only or '1-7'}, pm against "
        + (", ".join(described) if described else "no peer")
        + (f" ({', '.join(absent)} not run)" if absent else "")
        + f"; {results['reps']} repetitions per measurement (column n: how many samples "
        "pm's median is of)"
    )
    if load_start[0] is not None and load_end[0] is not None:
        text += (
            f"; 1-minute load average {load_start[0]:.2f} at the start and "
            f"{load_end[0]:.2f} at the end"
        )
    return text + "."


def markdown(results: dict[str, Any], path: str) -> str:
    """The published block's body: context, table, target summary; then workload 8's section
    when the file has one (a file with only that section renders only it)."""
    parts = []
    if results["results"] or "reload" not in results:
        parts.append(workloads_markdown(results, path))
    if "reload" in results:
        parts.append(reload_report.markdown(results, path))
    return "\n".join(parts)


def workloads_markdown(results: dict[str, Any], path: str) -> str:
    """Workloads 1-7: context, table, target summary."""
    legend = (
        "Medians of each column's samples. A ratio is pm's cost relative to the column: below 1, pm is better "
        '(lines/s are inverted to read the same way). "met" is "not compared" when a '
        "column the target compares against was not measured, and such a target is not "
        "counted as met."
    )
    return (
        f"{context(results).format(path=path)}\n{legend}\n\n```\n{table(results)}\n```\n\n"
        f"{summary(results)}\n"
    )


def load(path: str) -> dict[str, Any]:
    return json.loads((ROOT / path).read_text())  # type: ignore[no-any-return]


def blocks(text: str) -> list[tuple[str, str]]:
    """(results path, body) for every published block in a Markdown text."""
    return [(match["path"], match["body"]) for match in BLOCK.finditer(text)]


def update(doc: Path) -> int:
    text = doc.read_text()
    found = blocks(text)
    if not found:
        raise SystemExit(f"{doc}: no '<!-- results: PATH -->' block")
    text = BLOCK.sub(
        lambda match: (
            f"<!-- results: {match['path']} -->\n"
            f"{markdown(load(match['path']), match['path'])}<!-- end results -->"
        ),
        text,
    )
    doc.write_text(text)
    print(f"{doc}: {len(found)} block(s) regenerated from {', '.join(path for path, _ in found)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", help="a results file, relative to the repo root")
    parser.add_argument("--update", metavar="DOC", help="regenerate every block in DOC")
    args = parser.parse_args(argv)
    if args.update:
        return update(Path(args.update))
    if not args.results:
        parser.error("give a results file or --update DOC")
    path = Path(args.results).resolve()
    shown = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    sys.stdout.write(markdown(json.loads(path.read_text()), shown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
