"""The typed records the Python API returns (`pm.ProcessInfo`, `pm.Event`, `pm.LogLine`).

Kept apart from `pm.client.api` so the CLI, whose client is a `pm.client.api.Connection`, does
not pay for building these classes on every `pm list`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProcessInfo:
    """One managed process, as `pm jlist` describes it; `raw` is the full jlist entry."""

    name: str
    pm_id: int
    pid: int
    status: str
    namespace: str
    restart_time: int
    unstable_restarts: int
    pm_uptime: int
    created_at: int
    cpu: float
    memory: int
    exit_code: int | None
    out_log: str
    err_log: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> ProcessInfo:
        env = entry.get("pm2_env", {})
        monit = entry.get("monit", {})
        return cls(
            name=entry["name"],
            pm_id=int(entry["pm_id"]),
            pid=int(entry.get("pid") or 0),
            status=str(env.get("status", "")),
            namespace=str(env.get("namespace", "default")),
            restart_time=int(env.get("restart_time", 0)),
            unstable_restarts=int(env.get("unstable_restarts", 0)),
            pm_uptime=int(env.get("pm_uptime") or 0),
            created_at=int(env.get("created_at") or 0),
            cpu=float(monit.get("cpu", 0)),
            memory=int(monit.get("memory", 0)),
            exit_code=env.get("exit_code"),
            out_log=str(env.get("pm_out_log_path", "")),
            err_log=str(env.get("pm_err_log_path", "")),
            raw=entry,
        )

    @property
    def online(self) -> bool:
        return self.status == "online"


@dataclass(frozen=True)
class Event:
    """One process event from the daemon's bus (PM2's `process:event`)."""

    event: str
    at: int
    name: str
    pm_id: int
    namespace: str
    status: str
    pid: int
    exit_code: int | None = None
    manually: bool | None = None
    data: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Event:
        data = message.get("data") or {}
        return cls(
            event=str(data.get("event", message.get("event", ""))),
            at=int(message.get("at") or 0),
            name=str(data.get("name", "")),
            pm_id=int(data.get("pm_id", -1)),
            namespace=str(data.get("namespace", "")),
            status=str(data.get("status", "")),
            pid=int(data.get("pid") or 0),
            exit_code=data.get("exit_code"),
            manually=data.get("manually"),
            data=data,
        )


@dataclass(frozen=True)
class LogLine:
    pm_id: int
    name: str
    stream: str  # "out" or "err"
    text: str
