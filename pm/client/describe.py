"""What `pm describe` shows of an app, as (label, value) pairs, and PM2's size and duration
formats: shared by the CLI's box and the dashboard's settings table, so both say the same.
"""

from __future__ import annotations

import time
from typing import Any


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


def _health_check_text(check: dict[str, Any] | None) -> str:
    """`http http://127.0.0.1:8000/health every 10000ms (timeout 2000ms, 3 retries, restart)`."""
    if not check:
        return "N/A"
    kind = next((kind for kind in ("http", "tcp", "cmd") if kind in check), "?")
    return (
        f"{kind} {check.get(kind)} every {check.get('interval')}ms (timeout "
        f"{check.get('timeout')}ms, {check.get('retries')} retries, {check.get('action')})"
    )


def _health_text(env: dict[str, Any]) -> str:
    """`unhealthy, 2 failed in a row: GET http://...: HTTP 500`, or N/A without a check."""
    if not env.get("health"):
        return "N/A"
    text = str(env["health"])
    if env.get("health_failures"):
        text += f", {env['health_failures']} failed in a row"
    if env.get("health_output"):
        text += f": {env['health_output']}"
    return text


def describe_pairs(entry: dict[str, Any], now_ms: float | None = None) -> list[tuple[str, str]]:
    """The rows of `pm describe` for one jlist entry, in PM2's order."""
    env = entry.get("pm2_env", {})
    online = env.get("status") == "online"
    now = time.time() * 1000 if now_ms is None else now_ms
    created = env.get("created_at") or 0
    args = env.get("args") or []
    interpreter_args = env.get("interpreter_args") or []
    return [
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
        (
            "wait ready",
            f"✔ (listen timeout {env.get('listen_timeout')}ms)" if env.get("wait_ready") else "✘",
        ),
        ("health check", _health_check_text(env.get("health_check"))),
        ("health", _health_text(env)),
        (
            "max memory restart",
            human_bytes(env["max_memory_restart"]) if env.get("max_memory_restart") else "N/A",
        ),
        ("cron restart", str(env.get("cron_restart") or "N/A")),
        ("unstable restarts", str(env.get("unstable_restarts", 0))),
        ("autorestart", str(env.get("autorestart"))),
        ("max restarts", str(env.get("max_restarts"))),
        ("min uptime", f"{env.get('min_uptime')}ms"),
        ("kill timeout", f"{env.get('kill_timeout')}ms"),
        (
            "kill signal",
            str(env.get("kill_signal") or "daemon default (PM_KILL_SIGNAL, else SIGINT)"),
        ),
        (
            "last exit code",
            str(env.get("exit_code") if env.get("exit_code") is not None else "N/A"),
        ),
        ("created at", time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(created / 1000))),
    ]
