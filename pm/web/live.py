"""Live data for dashboards: one shared process-list snapshot, and log files followed by offset.

The hub refreshes the snapshot about once a second while anyone watches, and at once when the
daemon publishes a process event (start, exit, restart...), which a thread reads through
`Client.subscribe()` and also hands to `on_message` (the history recorder). The hub's feed
carries what the recorder publishes (samples, events) to every open event stream. Logs are
read straight from the app's files (by `pm logs`' own follower), so the daemon stays out of the data
path.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pm.client import logreader
from pm.errors import PMError
from pm.web.bridge import Bridge

#: How often an open dashboard gets fresh figures (cpu, memory, uptime) without any event.
REFRESH_S = 1.0
#: Events arriving within this window are folded into one refresh.
COALESCE_S = 0.03
#: Feed items kept for streams that are behind (a stream further behind reloads history).
FEED_LIMIT = 512


def summarize(entries: list[dict[str, Any]], now_ms: int) -> list[dict[str, Any]]:
    """The dashboard's row for each jlist entry: only what the table shows."""
    rows = []
    for entry in entries:
        env = entry.get("pm2_env") or {}
        online = env.get("status") == "online"
        started = int(env.get("pm_uptime") or 0)
        rows.append(
            {
                "id": entry["pm_id"],
                "name": entry["name"],
                "namespace": env.get("namespace", "default"),
                "status": env.get("status", "unknown"),
                "pid": entry.get("pid") or 0,
                "uptime_ms": max(0, now_ms - started) if online and started else 0,
                "restarts": int(env.get("restart_time") or 0),
                "unstable_restarts": int(env.get("unstable_restarts") or 0),
                "cpu": (entry.get("monit") or {}).get("cpu", 0),
                "memory": (entry.get("monit") or {}).get("memory", 0),
                "exec_mode": env.get("exec_mode", "fork_mode"),
                "exit_code": env.get("exit_code"),
                "health": env.get("health"),
            }
        )
    return rows


class Hub:
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.snapshot: dict[str, Any] = {"daemon": {"up": False}, "apps": []}
        self.version = 0
        self.closing = asyncio.Event()
        #: (seq, kind, data) pushed by the recorder, for the event streams
        self.feed: deque[tuple[int, str, Any]] = deque(maxlen=FEED_LIMIT)
        self.feed_seq = 0
        #: called in the event loop with each raw daemon message
        self.on_message: Callable[[dict[str, Any]], None] | None = None
        self._pulse = asyncio.Event()  # set (and replaced) on every new snapshot or feed item
        self._wake = asyncio.Event()
        self._watchers = 0
        self._has_watchers = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._refresh_loop())
        loop = asyncio.get_running_loop()
        threading.Thread(
            target=self._follow_events, args=(loop,), name="pm-web-events", daemon=True
        ).start()

    async def stop(self) -> None:
        self.closing.set()
        self._notify()
        await cancel(self._task)

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Count a dashboard as watching while the block runs (refreshes run only then)."""
        self._watchers += 1
        self._has_watchers.set()
        self._wake.set()
        try:
            yield
        finally:
            self._watchers -= 1
            if not self._watchers:
                self._has_watchers.clear()

    def _notify(self) -> None:
        pulse, self._pulse = self._pulse, asyncio.Event()
        pulse.set()

    def push(self, kind: str, data: Any) -> None:
        """Send an item to every open event stream (called in the event loop)."""
        self.feed_seq += 1
        self.feed.append((self.feed_seq, kind, data))
        self._notify()

    def feed_after(self, seq: int) -> list[tuple[int, str, Any]]:
        return [item for item in self.feed if item[0] > seq]

    async def next_change(self, seen_version: int, seen_feed: int, timeout: float) -> None:
        """Wait until a newer snapshot or feed item exists, the hub closes, or timeout."""
        if self.version > seen_version or self.feed_seq > seen_feed or self.closing.is_set():
            return
        try:
            await asyncio.wait_for(self._pulse.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    async def take(self) -> dict[str, Any]:
        """A fresh snapshot straight from the daemon."""
        try:
            hello, entries = await self.bridge.call("hello"), await self.bridge.list_apps()
        except PMError as exc:
            return {
                "daemon": {"up": False, "error": exc.message},
                "apps": [],
                "at": int(time.time() * 1000),
            }
        now_ms = int(time.time() * 1000)
        daemon = {
            "up": True,
            "pid": hello.get("pid"),
            "version": hello.get("version"),
            "home": hello.get("home"),
        }
        return {"daemon": daemon, "apps": summarize(entries, now_ms), "at": now_ms}

    async def _refresh_loop(self) -> None:
        while not self.closing.is_set():
            await self._has_watchers.wait()
            try:
                await asyncio.wait_for(self._wake.wait(), REFRESH_S)
                await asyncio.sleep(COALESCE_S)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            self.snapshot = await self.take()
            self.version += 1
            self._notify()

    def _on_daemon_message(self, message: dict[str, Any]) -> None:
        self._wake.set()
        if self.on_message is not None:
            self.on_message(message)

    def _follow_events(self, loop: asyncio.AbstractEventLoop) -> None:
        """Thread: wake the refresh loop on every daemon event; reconnect when it goes away."""
        while not self.closing.is_set():
            try:
                for message in self.bridge.client().subscribe():
                    loop.call_soon_threadsafe(self._on_daemon_message, message)
            except RuntimeError:
                return  # the loop is closed: the server is gone
            except (PMError, OSError):
                pass
            try:
                loop.call_soon_threadsafe(self._wake.set)  # daemon gone or back: show it
            except RuntimeError:
                return
            time.sleep(REFRESH_S)


# ------------------------------------------------------------------ log files

#: The most a tail reads from the end of a file.
MAX_READ = 256 * 1024
#: The most lines one follow step sends a page; more than that are skipped, and said so.
MAX_LINES_SENT = 5000


def log_paths(entry: dict[str, Any]) -> tuple[str | None, str | None]:
    """The out and err log files of a jlist entry (None for none or /dev/null)."""
    env = entry.get("pm2_env") or {}
    out, err = env.get("pm_out_log_path"), env.get("pm_err_log_path")
    return (
        out if out and out != "/dev/null" else None,
        err if err and err != "/dev/null" else None,
    )


def last_lines(path: str, count: int) -> tuple[list[str], int]:
    """The last `count` lines of a file and the offset where following should continue."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            start = max(0, size - MAX_READ)
            handle.seek(start)
            data = handle.read(size - start)
    except OSError:
        return [], 0
    complete = data[: data.rfind(b"\n") + 1]
    lines = complete.decode("utf-8", "replace").splitlines()
    if start > 0 and lines:
        lines = lines[1:]  # the first one is probably cut
    return lines[-count:] if count > 0 else [], start + len(complete)


class Follower:
    """Follows one log file as `pm logs` does (pm.client.logreader.Follower: no line lost or
    shown twice across rotation, `pm flush` or a replaced file), from the end of the last
    complete line when it was opened. A poll hands a page at most MAX_LINES_SENT lines and
    counts the rest as skipped (a flood would otherwise freeze the tab)."""

    def __init__(self, path: str) -> None:
        self.file = logreader.Follower(path, from_end=True)
        handle = self.file.handle
        if handle is not None:  # start after the last newline: a half-written line comes whole
            end = handle.tell()
            size = min(end, MAX_READ)
            data = os.pread(handle.fileno(), size, end - size)
            cut = data.rfind(b"\n") + 1
            if cut or size == end:  # else a line longer than MAX_READ is under way: from the end
                handle.seek(end - size + cut)
                self.file.recent = data[:cut][-logreader.SIGNATURE :]  # to find our place again

    def backlog(self, count: int) -> list[str]:
        """The last `count` whole lines before where following starts (read from the same
        open file, so no line falls between the two)."""
        handle = self.file.handle
        if handle is None or count <= 0:
            return []
        end = handle.tell()
        start = max(0, end - MAX_READ)
        lines = (
            os.pread(handle.fileno(), end - start, start).decode("utf-8", "replace").splitlines()
        )
        if start > 0 and lines:
            lines = lines[1:]  # the first one is probably cut
        return lines[-count:]

    def poll(self) -> tuple[list[str], int]:
        """New whole lines since the last poll, and how many more were not shown."""
        new = self.file.poll()
        skipped = max(0, len(new) - MAX_LINES_SENT)
        return [line.decode("utf-8", "replace") for line in new[skipped:]], skipped

    def close(self) -> None:
        self.file.close()


async def cancel(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task and wait until it has ended."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
