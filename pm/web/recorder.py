"""Feeds the dashboard's memory: samples the process list on a timer and takes in daemon events.

Runs for as long as the web process does, whether or not a page is open, so a person who opens
the dashboard after an incident finds the hour before it. Each sample and event also goes to
the hub's feed, so open pages draw it at once. An exit event is completed, a moment later,
with the last lines the app wrote (what it printed just before it died), read from its log
files as `pm logs` would.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pm.client.logreader import tail_lines
from pm.errors import PMError
from pm.web.bridge import Bridge
from pm.web.eventlog import EventLog, normalize
from pm.web.history import History
from pm.web.live import Hub, cancel, log_paths

#: Lines of each log stream kept with an exit event; and how long after the exit they are read
#: (the daemon moves an app's last output into its files in batches).
TAIL_LINES = 5
TAIL_DELAY_S = 0.1
#: Later looks when the first finds no lines, or no log file yet for the app (a busy machine:
#: the app started after the last sample, or its output is still on its way to the file).
TAIL_RETRIES_S = (0.5, 1.5)
MAX_LINE = 300


class Recorder:
    def __init__(self, bridge: Bridge, hub: Hub, history: History, events: EventLog) -> None:
        self.bridge = bridge
        self.hub = hub
        self.history = history
        self.events = events
        self._logs: dict[int, tuple[str | None, str | None]] = {}  # pm_id -> (out, err) paths
        self._task: asyncio.Task[None] | None = None
        hub.on_message = self.take_message

    async def start(self) -> None:
        self._task = asyncio.create_task(self._sample_loop())

    async def stop(self) -> None:
        await cancel(self._task)

    async def _sample_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.history.interval_s
        due = loop.time()
        while not self.hub.closing.is_set():
            await self.sample_once()
            due = max(due + interval, loop.time())  # no burst of catch-up samples after a stall
            await asyncio.sleep(due - loop.time())

    async def sample_once(self) -> None:
        try:
            entries = await self.bridge.list_apps()
        except PMError:
            return  # the daemon is down: no point, and the chart shows the gap
        self._logs = {int(entry["pm_id"]): log_paths(entry) for entry in entries}
        sample = self.history.add_sample(entries, int(time.time() * 1000))
        self.events.forget(
            set(self.history.apps), sample["t"] - int(self.history.retention_s * 1000)
        )
        self.hub.push("sample", sample)

    def take_message(self, message: dict[str, Any]) -> None:
        """A daemon event (called in the event loop): keep it, show it, complete an exit."""
        event = normalize(message)
        if event is None:
            return
        event = self.events.add(event)
        self.hub.push("event", event)
        if event["kind"] == "exit":
            asyncio.get_running_loop().call_later(TAIL_DELAY_S, self._add_tail, event, 0)

    def _add_tail(self, event: dict[str, Any], attempt: int) -> None:
        out_path, err_path = self._logs.get(event["id"], (None, None))
        tail = {
            stream: [_clip(line) for line in tail_lines(path, TAIL_LINES)]
            for stream, path in (("out", out_path), ("err", err_path))
            if path and (stream == "out" or path != out_path)
        }
        if any(tail.values()):
            self.events.set_tail(event, tail)
            self.hub.push("event", event)  # the same seq: pages replace what they have
        elif attempt < len(TAIL_RETRIES_S):
            delay = TAIL_RETRIES_S[attempt] - (
                TAIL_RETRIES_S[attempt - 1] if attempt else TAIL_DELAY_S
            )
            asyncio.get_running_loop().call_later(delay, self._add_tail, event, attempt + 1)


def _clip(line: bytes) -> str:
    text = line.decode("utf-8", "replace")
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + "…"
