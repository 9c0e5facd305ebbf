"""Pure formatting for the CLI: PM2's process table, describe, sizes and durations.

Data in, str out; colours through click.style so they vanish when output is not a terminal.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Sequence
from typing import Any

import click

from pm.client.describe import describe_pairs, human_bytes, human_duration

STATUS_COLOURS = {
    "online": "green",
    "launching": "blue",
    "waiting restart": "yellow",
    "stopping": "yellow",
    "stopped": "red",
    "errored": "red",
}

COLUMNS = (
    "id",
    "name",
    "namespace",
    "version",
    "mode",
    "pid",
    "uptime",
    "↺",
    "status",
    "cpu",
    "mem",
    "user",
    "watching",
)
#: PM2's minimum column widths (content width, without the padding spaces).
MIN_WIDTHS = {
    "host": 4,
    "id": 2,
    "name": 11,
    "namespace": 11,
    "version": 7,
    "mode": 7,
    "pid": 8,
    "uptime": 6,
    "↺": 4,
    "status": 9,
    "cpu": 8,
    "mem": 8,
    "user": 8,
    "watching": 8,
}


def row(entry: dict[str, Any], now_ms: float | None = None) -> dict[str, str]:
    env = entry.get("pm2_env", {})
    status = env.get("status", "")
    online = status == "online"
    now_ms = time.time() * 1000 if now_ms is None else now_ms
    monit = entry.get("monit") or {}
    host = {"host": str(entry["host"])} if "host" in entry else {}  # set by --all-hosts only
    return {
        **host,
        "id": str(entry.get("pm_id", "")),
        "name": str(entry.get("name", "")),
        "namespace": str(env.get("namespace", "default")),
        "version": str(env.get("version") or "N/A"),
        "mode": "cluster" if env.get("exec_mode") == "cluster_mode" else "fork",
        "pid": str(entry.get("pid") or (0 if online else "N/A")),
        "uptime": human_duration(now_ms - env.get("pm_uptime", now_ms)) if online else "0",
        "↺": str(env.get("restart_time", 0)),
        "status": f"{status} ({env['health']})" if online and env.get("health") else status,
        "cpu": f"{monit.get('cpu', 0):g}%",
        "mem": human_bytes(monit.get("memory", 0)),
        "user": str(env.get("username", "")),
        "watching": "enabled" if env.get("watch") else "disabled",
    }


def width(text: str) -> int:
    """Columns text takes in a terminal: East Asian wide and fullwidth characters take two,
    combining marks none (PM2 counts characters, so CJK names push its table out of line)."""
    return sum(
        0
        if unicodedata.combining(char)
        else 2
        if unicodedata.east_asian_width(char) in ("W", "F")
        else 1
        for char in text
    )


def pad(text: str, columns: int) -> str:
    """text followed by spaces up to `columns` terminal columns."""
    return text + " " * max(0, columns - width(text))


def _style(column: str, text: str, padded: str) -> str:
    if column == "id":
        return click.style(text, fg="cyan", bold=True) + padded[len(text) :]
    if column == "status":  # "online (unhealthy)": coloured by the status, the health in words
        colour = STATUS_COLOURS.get(text.split(" ")[0])
        if text.endswith("(unhealthy)"):
            colour = "red"
        return click.style(text, fg=colour, bold=True) + padded[len(text) :]
    if column == "mode":
        return click.style(text, reverse=True, bold=True) + padded[len(text) :]
    if column == "user":
        return click.style(text, bold=True) + padded[len(text) :]
    if column == "watching":
        return click.style(text, fg="bright_black") + padded[len(text) :]
    return padded


def table(entries: Sequence[dict[str, Any]], columns: Sequence[str] = COLUMNS) -> str:
    """PM2's box-drawn process table."""
    rows = [row(entry) for entry in entries]
    widths = {
        col: max([MIN_WIDTHS.get(col, 0), width(col)] + [width(r[col]) for r in rows])
        for col in columns
    }

    def rule(left: str, mid: str, right: str) -> str:
        return left + mid.join("─" * (widths[col] + 2) for col in columns) + right

    lines = [
        rule("┌", "┬", "┐"),
        "│" + "│".join(f" {pad(col, widths[col])} " for col in columns) + "│",
        rule("├", "┼", "┤"),
    ]
    for r in rows:
        cells = [" " + _style(col, r[col], pad(r[col], widths[col])) + " " for col in columns]
        lines.append("│" + "│".join(cells) + "│")
    lines.append(rule("└", "┴", "┘"))
    return "\n".join(lines)


def narrow_columns(width: int) -> Sequence[str]:
    """Fewer columns on narrow terminals, as PM2 does."""
    if width >= 140:
        return COLUMNS
    if width >= 100:
        return ("id", "name", "mode", "pid", "uptime", "↺", "status", "cpu", "mem")
    return ("id", "name", "pid", "↺", "status", "cpu", "mem")


def key_values(pairs: Sequence[tuple[str, str]]) -> str:
    """A two-column box, as `pm2 describe` draws it."""
    left = max((width(key) for key, _ in pairs), default=0)
    right = max((width(value) for _, value in pairs), default=0)
    lines = [f"┌{'─' * (left + 2)}┬{'─' * (right + 2)}┐"]
    lines += [f"│ {pad(key, left)} │ {pad(value, right)} │" for key, value in pairs]
    lines.append(f"└{'─' * (left + 2)}┴{'─' * (right + 2)}┘")
    return "\n".join(lines)


def describe(entry: dict[str, Any]) -> str:
    title = click.style(
        f" Describing process with id {entry.get('pm_id')} - name {entry.get('name')} ",
        bold=True,
        reverse=True,
    )
    return f"{title}\n{key_values(describe_pairs(entry))}"


def prefix(text: str) -> str:
    """PM2's green `[PM]` message prefix."""
    return click.style("[PM] ", fg="green") + text


def warn(text: str) -> str:
    return click.style("[PM][WARN] ", fg="yellow") + text


def error(text: str) -> str:
    return click.style("[PM][ERROR] ", fg="red") + text
