"""Pure formatting for the CLI: PM2's process table, describe, sizes and durations.

Data in, str out; colours through click.style so they vanish when output is not a terminal.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Sequence
from typing import Any

import click

STATUS_COLOURS = {
    "online": "green",
    "launching": "blue",
    "waiting restart": "yellow",
    "stopping": "yellow",
    "stopped": "red",
    "errored": "red",
}

COLUMNS = ("id", "name", "namespace", "version", "mode", "pid", "uptime", "↺", "status",
           "cpu", "mem", "user", "watching")
#: PM2's minimum column widths (content width, without the padding spaces).
MIN_WIDTHS = {"id": 2, "name": 11, "namespace": 11, "version": 7, "mode": 7, "pid": 8,
              "uptime": 6, "↺": 4, "status": 9, "cpu": 8, "mem": 8, "user": 8, "watching": 8}


def human_bytes(size: float) -> str:
    """PM2's memory format: 0b, 132.0kb, 13.0mb, 1.2gb."""
    if size <= 0:
        return "0b"
    for unit in ("b", "kb", "mb", "gb"):
        if size < 1024 or unit == "gb":
            return f"{size:.0f}{unit}" if unit == "b" else f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}gb"


def human_duration(ms: float) -> str:
    """PM2's uptime format: 5s, 3m, 2h, 4D, 2M, 1Y (the largest unit whose value is over 1)."""
    seconds = max(0, int(ms / 1000))
    for unit, size in (("Y", 31_536_000), ("M", 2_592_000), ("D", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size * 2 or (unit in "mh" and seconds >= size):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def row(entry: dict[str, Any], now_ms: float | None = None) -> dict[str, str]:
    env = entry.get("pm2_env", {})
    status = env.get("status", "")
    online = status == "online"
    now_ms = time.time() * 1000 if now_ms is None else now_ms
    monit = entry.get("monit") or {}
    return {
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
    return sum(0 if unicodedata.combining(char) else
               2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text)


def pad(text: str, columns: int) -> str:
    """text followed by spaces up to `columns` terminal columns."""
    return text + " " * max(0, columns - width(text))


def _style(column: str, text: str, padded: str) -> str:
    if column == "id":
        return click.style(text, fg="cyan", bold=True) + padded[len(text):]
    if column == "status":  # "online (unhealthy)": coloured by the status, the health in words
        colour = STATUS_COLOURS.get(text.split(" ")[0])
        if text.endswith("(unhealthy)"):
            colour = "red"
        return click.style(text, fg=colour, bold=True) + padded[len(text):]
    if column == "mode":
        return click.style(text, reverse=True, bold=True) + padded[len(text):]
    if column == "user":
        return click.style(text, bold=True) + padded[len(text):]
    if column == "watching":
        return click.style(text, fg="bright_black") + padded[len(text):]
    return padded


def table(entries: Sequence[dict[str, Any]], columns: Sequence[str] = COLUMNS) -> str:
    """PM2's box-drawn process table."""
    rows = [row(entry) for entry in entries]
    widths = {col: max([MIN_WIDTHS.get(col, 0), width(col)] + [width(r[col]) for r in rows])
              for col in columns}

    def rule(left: str, mid: str, right: str) -> str:
        return left + mid.join("─" * (widths[col] + 2) for col in columns) + right

    lines = [rule("┌", "┬", "┐"),
             "│" + "│".join(f" {pad(col, widths[col])} " for col in columns) + "│",
             rule("├", "┼", "┤")]
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


def _health_check_text(check: dict[str, Any] | None) -> str:
    """`http http://127.0.0.1:8000/health every 10000ms (timeout 2000ms, 3 retries, restart)`."""
    if not check:
        return "N/A"
    kind = next((kind for kind in ("http", "tcp", "cmd") if kind in check), "?")
    return (f"{kind} {check.get(kind)} every {check.get('interval')}ms (timeout "
            f"{check.get('timeout')}ms, {check.get('retries')} retries, {check.get('action')})")


def _health_text(env: dict[str, Any]) -> str:
    if not env.get("health"):
        return "N/A"
    text = str(env["health"])
    if env.get("health_failures"):
        text += f", {env['health_failures']} failed in a row"
    if env.get("health_output"):
        text += f": {env['health_output']}"
    return text


def describe(entry: dict[str, Any]) -> str:
    env = entry.get("pm2_env", {})
    online = env.get("status") == "online"
    now = time.time() * 1000
    created = env.get("created_at") or 0
    args = env.get("args") or []
    interpreter_args = env.get("interpreter_args") or []
    pairs = [
        ("status", str(env.get("status"))),
        ("name", str(entry.get("name"))),
        ("namespace", str(env.get("namespace"))),
        ("version", str(env.get("version") or "N/A")),
        ("restarts", str(env.get("restart_time", 0))),
        ("uptime", human_duration(now - env.get("pm_uptime", now)) if online else "0"),
        ("script path", str(env.get("pm_exec_path"))),
        ("script args", " ".join(args) if args else "N/A"),
        ("error log path", str(env.get("pm_err_log_path"))),
        ("out log path", str(env.get("pm_out_log_path"))),
        ("pid path", str(env.get("pm_pid_path"))),
        ("interpreter", str(env.get("exec_interpreter"))),
        ("interpreter args", " ".join(interpreter_args) if interpreter_args else "N/A"),
        ("script id", str(entry.get("pm_id"))),
        ("exec cwd", str(env.get("pm_cwd"))),
        ("exec mode", str(env.get("exec_mode"))),
        ("pid", str(entry.get("pid") or "N/A")),
        ("cpu", f"{(entry.get('monit') or {}).get('cpu', 0):g}%"),
        ("memory", human_bytes((entry.get("monit") or {}).get("memory", 0))),
        ("watch & reload", "✔" if env.get("watch") else "✘"),
        ("listen", ", ".join(env.get("listen") or []) or "N/A"),
        ("wait ready", f"✔ (listen timeout {env.get('listen_timeout')}ms)"
         if env.get("wait_ready") else "✘"),
        ("health check", _health_check_text(env.get("health_check"))),
        ("health", _health_text(env)),
        ("max memory restart", human_bytes(env["max_memory_restart"])
         if env.get("max_memory_restart") else "N/A"),
        ("cron restart", str(env.get("cron_restart") or "N/A")),
        ("unstable restarts", str(env.get("unstable_restarts", 0))),
        ("autorestart", str(env.get("autorestart"))),
        ("max restarts", str(env.get("max_restarts"))),
        ("min uptime", f"{env.get('min_uptime')}ms"),
        ("kill timeout", f"{env.get('kill_timeout')}ms"),
        ("last exit code", str(env.get("exit_code") if env.get("exit_code") is not None else "N/A")),
        ("created at", time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(created / 1000))),
    ]
    title = click.style(f" Describing process with id {entry.get('pm_id')} - name {entry.get('name')} ",
                        bold=True, reverse=True)
    return f"{title}\n{key_values(pairs)}"


def prefix(text: str) -> str:
    """PM2's green `[PM]` message prefix."""
    return click.style("[PM] ", fg="green") + text


def warn(text: str) -> str:
    return click.style("[PM][WARN] ", fg="yellow") + text


def error(text: str) -> str:
    return click.style("[PM][ERROR] ", fg="red") + text
