"""Render workload 8's section of a results file (its "reload" key, written by
benchmarks/reload.py) as the table run.py prints and as the block docs/performance.md
publishes; benchmarks/report.py calls this for a file that has the section.

Its shape differs from the other workloads' rows (one run per variant, counts and latencies
rather than medians of samples), so it has a table of its own.
"""

from __future__ import annotations

from typing import Any

HEADER = [
    "variant",
    "requests",
    "failed",
    "refused",
    "reset",
    "timeout",
    "non-2xx",
    "other",
    "p50 ms",
    "p99 ms",
    "worst ms",
    "reload s, each",
    "instances",
    "lag ms",
]
LEFT = ("variant", "reload s, each")
SOCKETS = {("inherited",): "the socket handed over as fd 3", ("own",): "sockets of their own"}
KIND_COLUMNS = {
    "refused": "refused",
    "reset": "reset",
    "timeout": "timeout",
    "status": "non-2xx",
    "other": "other",
}


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def row(run: dict[str, Any]) -> list[str]:
    """One table row; a run that gave up before any load shows dashes."""
    if "requests" not in run:
        return [run["variant"]] + ["-"] * (len(HEADER) - 1)
    kinds = [str(run["failed_by_kind"][kind]) for kind in KIND_COLUMNS]
    return [
        run["variant"],
        str(run["requests"]),
        str(run["failed"]),
        *kinds,
        ms(run["p50_ms"]),
        ms(run["p99_ms"]),
        ms(run["max_ms"]),
        " ".join(f"{seconds:.2f}" for seconds in run["reload_s"]) or "-",
        str(run["instances_seen"]),
        ms(run["generator_max_lag_ms"]),
    ]


def table(reload: dict[str, Any]) -> str:
    rows = [HEADER] + [row(run) for run in reload["runs"]]
    widths = [max(len(cells[index]) for cells in rows) for index in range(len(HEADER))]
    lines = []
    for number, cells in enumerate(rows):
        aligned = [
            cell.ljust(width) if HEADER[index] in LEFT else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths))
        ]
        lines.append("  ".join(aligned).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def summary(reload: dict[str, Any]) -> str:
    """The target line, then one line per run that gave up."""
    lines = [f"Target: {reload['target']}: {reload['outcome']}."]
    for run in reload["runs"]:
        if "gave_up" in run:
            lines.append(f"{run['variant']} gave up: {run['gave_up']}")
    return "\n".join(lines)


def modes(results: dict[str, Any]) -> str:
    versions = results["machine"].get("versions", {})
    commit = results["reload"].get("pm_commit")
    lines = []
    for run in results["reload"]["runs"]:
        version = versions.get(run["manager"])
        served = run.get("served")
        how = (
            f"; the instances served on {SOCKETS.get(tuple(served['socket']), 'mixed sockets')}"
            f" and were {'' if served['notify'] == ['yes'] else 'not '}given NOTIFY_SOCKET"
            if served
            else ""
        )
        shown = (
            f"pm2 {version}"
            if run["manager"] == "pm2" and version
            else f"pm at {commit}"
            if run["manager"] == "pm" and commit
            else run["manager"]
        )
        lines.append(f"- `{run['variant']}` ({shown}): {run['mode']}{how}.")
    return "\n".join(lines)


def context(results: dict[str, Any], path: str) -> str:
    reload, machine = results["reload"], results["machine"]
    settings = reload["settings"]
    load = (machine.get("load_avg_at_start") or [None])[0]
    text = (
        f"Generated from `{path}`: {settings['reloads']} reloads, one after the other, of "
        f"an HTTP app with {settings['instances']} instances (`benchmarks/reload_app.py`, "
        f"{settings['boot']:g} s to boot, {settings['work_ms']:g} ms per request) under "
        f"{settings['rate']:g} requests/s from an open-loop generator "
        f"(`benchmarks/loadgen.py`), each request a {reload['connection']}; a request "
        f"fails on a refused or reset connection, a non-2xx status or no answer within "
        f"{settings['timeout']:g} s. Load ran {settings['warmup']:g} s before the first "
        f"reload, {settings['pause']:g} s between a reload command's return and the next, "
        f"{settings['tail']:g} s after the last. One run per variant on a "
        f"{machine['cores']}-core VM ({machine['cpu']}, Linux {machine['kernel']}, Python "
        f"{machine['python']})"
    )
    if load is not None:
        text += f", 1-minute load average {load:.2f} at the start"
    return text + "."


def markdown(results: dict[str, Any], path: str) -> str:
    reload = results["reload"]
    legend = (
        'Latencies are of the answered requests; "instances" counts the distinct '
        "pids that answered (2 before the first reload, 2 more per reload that "
        'replaced both); "lag" is how late the generator sent its latest request: '
        "when it is high, the machine was busy and the latencies say as much about the "
        "load side as about the server."
    )
    return (
        f"{context(results, path)}\n{legend}\n\n{modes(results)}\n\n```\n{table(reload)}\n"
        f"```\n\n{summary(reload)}\n"
    )
