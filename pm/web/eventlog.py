"""The daemon's events as the dashboard keeps and shows them: one flat record each, per app.

The daemon publishes `{"event": kind, "at": ms, "data": {...}}` on its bus (see
pm/daemon/core/events.py). Process changes come as kind `process` with the change in
`data.event` (`online`, `exit`, `restart`, `stop`, `errored`, `restart overlimit`, `waiting
restart`, ...); the memory guard, cron and watch publish kinds of their own (`memory`, `cron`,
`watch`), and health checks, where present, publish `health`. `normalize` turns each into one
record with a `kind` and the fields that matter for it, an exit's signal named; `EventLog`
keeps the last `per_app` of them for each app name, numbered so a page can ask for what it has
not seen yet.
"""

from __future__ import annotations

import signal
from collections import deque
from typing import Any

#: Events kept per app name: a crash loop makes three a cycle (exit, online, restart).
PER_APP = 1000
#: Exits per app that keep their last lines (`tail`); older exits keep their code only.
TAILS_PER_APP = 20
#: Fields copied from the daemon's data when present, for each kind (besides the common ones).
FIELDS = {
    "exit": ("manually",),
    "waiting restart": ("delay_ms",),
    "memory": ("memory", "limit"),
    "cron": ("cron",),
    "watch": ("path",),
    "health": ("detail", "failures"),
}
#: Kinds drawn as marks on a chart's time axis.
MARK_KINDS = frozenset({"exit", "restart", "errored", "restart overlimit", "memory", "health"})


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def normalize(message: dict[str, Any]) -> dict[str, Any] | None:
    """A dashboard event from a daemon message, or None for one without an app."""
    data = message.get("data")
    if not isinstance(data, dict) or "pm_id" not in data or "name" not in data:
        return None
    kind = str(data.get("event") if message.get("event") == "process" else message.get("event"))
    event: dict[str, Any] = {
        "at": int(message.get("at") or 0),
        "kind": kind,
        "id": data["pm_id"],
        "name": str(data["name"]),
    }
    if kind == "health":  # its `status` is the check's verdict, not the process status
        event["health"] = data.get("health", data.get("status"))
    elif "status" in data:
        event["status"] = data["status"]
    if data.get("pid"):
        event["pid"] = data["pid"]
    if data.get("reason"):
        event["reason"] = str(data["reason"])
    if kind == "exit":
        code = data.get("exit_code")
        if isinstance(code, int) and code < 0:  # the daemon reports a signal as -number
            event["code"], event["signal"] = None, signal_name(-code)
        else:
            event["code"] = code
    for field in FIELDS.get(kind, ()):
        if field in data:
            event[field] = data[field]
    return event


class EventLog:
    """The last `per_app` events of each app, each with a sequence number (`seq`)."""

    def __init__(self, per_app: int = PER_APP) -> None:
        self.per_app = per_app
        self.seq = 0
        self.by_app: dict[str, deque[dict[str, Any]]] = {}

    def add(self, event: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        event = {"seq": self.seq, **event}
        self.by_app.setdefault(event["name"], deque(maxlen=self.per_app)).append(event)
        return event

    def set_tail(self, event: dict[str, Any], tail: dict[str, list[str]]) -> None:
        """Give an exit its last lines, dropping them from the app's older exits beyond
        TAILS_PER_APP (a crash loop's thousand exits would otherwise hold megabytes)."""
        event["tail"] = tail
        kept = 0
        for older in reversed(self.by_app.get(event["name"], ())):
            if "tail" in older:
                kept += 1
                if kept > TAILS_PER_APP:
                    del older["tail"]

    def query(
        self, name: str | None = None, after_seq: int = 0, since_ms: int = 0, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Events oldest first: of one app or all, newer than after_seq and since_ms, the last
        `limit` of them."""
        queues = self.by_app.values() if name is None else [self.by_app.get(name, deque())]
        found = [
            event
            for queue in queues
            for event in queue
            if event["seq"] > after_seq and event["at"] >= since_ms
        ]
        found.sort(key=lambda event: event["seq"])
        return found[-limit:] if limit > 0 else []

    def forget(self, names: set[str], oldest_ms: int) -> None:
        """Drop the apps not in `names` whose last event is older than oldest_ms."""
        for name in [
            n
            for n, queue in self.by_app.items()
            if n not in names and (not queue or queue[-1]["at"] < oldest_ms)
        ]:
            del self.by_app[name]
