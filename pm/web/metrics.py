"""`/metrics`: the process list and the daemon's own figures in Prometheus text format (0.0.4).

Written by hand: the format is a few lines of text, and producing it needs no client library.
The tests parse it with prometheus_client's own parser.
"""

from __future__ import annotations

import time
from typing import Any

from pm.protocol import Status

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, Any]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items()) + "}"


def _number(value: Any) -> str:
    number = float(value or 0)
    return str(int(number)) if number.is_integer() else repr(number)


class Exposition:
    """Collects metric families in order, each with its HELP and TYPE lines once."""

    def __init__(self) -> None:
        self._families: dict[str, tuple[str, str, list[str]]] = {}

    def add(
        self, name: str, kind: str, help_text: str, value: Any, labels: dict[str, Any] | None = None
    ) -> None:
        family = self._families.setdefault(name, (kind, help_text, []))
        family[2].append(f"{name}{_labels(labels or {})} {_number(value)}")

    def render(self) -> str:
        out = []
        for name, (kind, help_text, samples) in self._families.items():
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(samples)
        return "\n".join(out) + "\n"


def app_metrics(metrics: Exposition, entries: list[dict[str, Any]], now_ms: int) -> None:
    for entry in entries:
        env = entry.get("pm2_env") or {}
        labels = {
            "id": entry["pm_id"],
            "name": entry["name"],
            "namespace": env.get("namespace", "default"),
        }
        status = env.get("status", "")
        online = status == Status.ONLINE.value
        started = int(env.get("pm_uptime") or 0)
        monit = entry.get("monit") or {}
        metrics.add(
            "pm_app_up",
            "gauge",
            "1 when the app's process is online, else 0.",
            1 if online else 0,
            labels,
        )
        for candidate in Status:
            metrics.add(
                "pm_app_status",
                "gauge",
                "1 for the app's current status (PM2's status names), 0 for the others.",
                1 if status == candidate.value else 0,
                {**labels, "status": candidate.value},
            )
        metrics.add(
            "pm_app_restarts_total",
            "counter",
            "Restarts of the app (PM2's ↺).",
            env.get("restart_time", 0),
            labels,
        )
        metrics.add(
            "pm_app_unstable_restarts_total",
            "counter",
            "Restarts that happened before min_uptime.",
            env.get("unstable_restarts", 0),
            labels,
        )
        metrics.add(
            "pm_app_cpu_percent",
            "gauge",
            "CPU use of the app's process tree, percent.",
            monit.get("cpu", 0),
            labels,
        )
        metrics.add(
            "pm_app_memory_bytes",
            "gauge",
            "Resident memory of the app's process tree.",
            monit.get("memory", 0),
            labels,
        )
        metrics.add(
            "pm_app_uptime_seconds",
            "gauge",
            "Seconds since the app's process started.",
            (now_ms - started) / 1000 if online and started else 0,
            labels,
        )
        if env.get("health"):  # only apps with a health_check
            for state in HEALTH_STATES:
                metrics.add(
                    "pm_app_health",
                    "gauge",
                    "1 for the app's health-check state (starting, healthy, unhealthy).",
                    1 if env["health"] == state else 0,
                    {**labels, "health": state},
                )
            metrics.add(
                "pm_app_health_failures",
                "gauge",
                "Health checks failed in a row.",
                env.get("health_failures", 0),
                labels,
            )


#: The states of an app's health_check (pm/daemon/automation/health.py).
HEALTH_STATES = ("starting", "healthy", "unhealthy")


class DaemonFigures:
    """psutil readings of the daemon's process; the Process is kept so cpu deltas make sense."""

    def __init__(self) -> None:
        self._proc: Any = None

    def read(self, pid: int) -> tuple[float, int, float] | None:
        """(cpu percent, rss bytes, start time) of the daemon, or None if it cannot be read."""
        import psutil

        try:
            if self._proc is None or self._proc.pid != pid:
                self._proc = psutil.Process(pid)
                self._proc.cpu_percent(None)
            with self._proc.oneshot():
                return (
                    self._proc.cpu_percent(None),
                    self._proc.memory_info().rss,
                    self._proc.create_time(),
                )
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            self._proc = None
            return None


def render(
    hello: dict[str, Any] | None, entries: list[dict[str, Any]], daemon: DaemonFigures
) -> str:
    """The whole exposition; `hello` is None when the daemon does not answer."""
    metrics = Exposition()
    metrics.add("pm_daemon_up", "gauge", "1 when the pm daemon answers, else 0.", 1 if hello else 0)
    if hello:
        metrics.add(
            "pm_daemon_info",
            "gauge",
            "The daemon's version and pid.",
            1,
            {"version": hello.get("version", ""), "pid": hello.get("pid", "")},
        )
        figures = daemon.read(int(hello.get("pid") or 0))
        if figures:
            cpu, rss, created = figures
            metrics.add("pm_daemon_cpu_percent", "gauge", "CPU use of the daemon, percent.", cpu)
            metrics.add("pm_daemon_memory_bytes", "gauge", "Resident memory of the daemon.", rss)
            metrics.add(
                "pm_daemon_uptime_seconds",
                "gauge",
                "Seconds since the daemon started.",
                round(max(0.0, time.time() - created), 3),
            )
    counts: dict[str, int] = {status.value: 0 for status in Status}
    for entry in entries:
        status = (entry.get("pm2_env") or {}).get("status", "")
        counts[status] = counts.get(status, 0) + 1
    for status, count in counts.items():
        metrics.add("pm_apps", "gauge", "Number of apps in each status.", count, {"status": status})
    app_metrics(metrics, entries, int(time.time() * 1000))
    return metrics.render()
