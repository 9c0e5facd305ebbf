"""Event hooks: shell commands run when an app starts, exits, restarts, errors, stops, or hits
its memory limit.

The runner reads `supervisor.bus` and never touches the lifecycle: a hook runs in its own session
as ``/bin/sh -c <command>`` with the event in ``PM_*`` environment variables and as one JSON
object on stdin; its output goes to the daemon log line by line. Hooks of one app run in order
(so a file they append to shows the real sequence); apps do not wait for each other. A hook that
outlives its timeout has its whole process group killed. Nothing a hook does can delay a restart:
the supervisor has already acted when the event reaches us.

Per-app hooks come from the ecosystem attribute ``hooks`` (``{"errored": "notify-send ..."}``);
global hooks, run for every app, from ``PM_HOME/hooks.json`` (same shape) or the ``hooks``
section of ``PM_HOME/module_conf.json``. Both run when both are set (app hook first).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

from pm.daemon.core.events import EventBus

log = logging.getLogger("pm")

#: Hook event names (what users write in `hooks`).
EVENTS = ("start", "online", "exit", "restart", "errored", "stop", "memory")

#: Bus event -> hook events it fires. `online` fires `start` first: the process was spawned.
BUS_TO_HOOKS: dict[str, tuple[str, ...]] = {
    "online": ("start", "online"),
    "exit": ("exit",),
    "restart": ("restart",),
    "restart overlimit": ("errored",),
    "errored": ("errored",),
    "stop": ("stop",),
    "memory": ("memory",),
}

DEFAULT_TIMEOUT = 30.0
#: At most this many hook processes at once, whatever a crash loop of many apps produces.
MAX_RUNNING = 8


def hook_timeout() -> float:
    """Seconds a hook may run before its process group is killed (env PM_HOOK_TIMEOUT)."""
    try:
        return max(0.1, float(os.environ.get("PM_HOOK_TIMEOUT", DEFAULT_TIMEOUT)))
    except ValueError:
        return DEFAULT_TIMEOUT


def global_hooks(home: Path) -> dict[str, str]:
    """Hooks for every app: PM_HOME/hooks.json, then module_conf.json's `hooks` section."""
    found: dict[str, str] = {}
    for path, section in ((home / "module_conf.json", "hooks"), (home / "hooks.json", None)):
        found.update(_hooks_in(path, section))
    return found


#: path -> ((mtime_ns, size), hooks): a crash loop asks for the hooks at every event, and a
#: stat is far cheaper than reading and parsing the files each time.
_FILE_CACHE: dict[Path, tuple[tuple[int, int], dict[str, str]]] = {}


def _hooks_in(path: Path, section: str | None) -> dict[str, str]:
    try:
        info = path.stat()
    except OSError:
        return {}
    stamp = (info.st_mtime_ns, info.st_size)
    cached = _FILE_CACHE.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = None
    if section is not None:
        data = data.get(section) if isinstance(data, dict) else None
    hooks = (
        {str(k): str(v) for k, v in data.items() if isinstance(v, str)}
        if isinstance(data, dict)
        else {}
    )
    _FILE_CACHE[path] = (stamp, hooks)
    return hooks


def hook_env(event: str, data: dict[str, Any]) -> dict[str, str]:
    """The PM_* variables describing one event."""
    code = data.get("exit_code")
    env = {
        "PM_EVENT": event,
        "PM_APP_NAME": str(data.get("name", "")),
        "PM_APP_ID": str(data.get("pm_id", "")),
        "PM_APP_NAMESPACE": str(data.get("namespace", "")),
        "PM_APP_STATUS": str(data.get("status", "")),
        "PM_PID": str(data.get("pid") or ""),
        "PM_REASON": str(data.get("reason", "")),
    }
    if event == "exit":
        env["PM_EXIT_CODE"] = "" if code is None or code < 0 else str(code)
        env["PM_EXIT_SIGNAL"] = _signal_name(-code) if isinstance(code, int) and code < 0 else ""
    return env


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


class HookRunner:
    """Subscribe to the bus and run the hooks each process event calls for."""

    def __init__(self, supervisor: Any, bus: EventBus | None = None) -> None:
        self.supervisor = supervisor
        self.bus: EventBus = bus or supervisor.bus
        self._queue: asyncio.Queue[dict[str, Any]] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._per_app: dict[int, asyncio.Queue[tuple[str, str, dict[str, Any]]]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(MAX_RUNNING)
        self._known: dict[int, tuple[str, dict[str, str]]] = {}

    def start(self) -> None:
        self._queue = self.bus.subscribe()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def close(self, grace: float = 1.0) -> None:
        """Let queued hooks finish for up to `grace` seconds, then kill what still runs."""
        if self._queue is not None:
            self.bus.unsubscribe(self._queue)
        if self._reader is not None:
            self._reader.cancel()
        workers = list(self._workers.values())
        if workers:
            idle = [asyncio.ensure_future(q.join()) for q in self._per_app.values()]
            await asyncio.wait(idle, timeout=grace)
            for waiter in idle:
                waiter.cancel()
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _read(self) -> None:
        assert self._queue is not None
        while True:
            message = await self._queue.get()
            try:
                self._dispatch(message)
            except Exception:  # a bad event must not end hook processing
                log.exception("hook dispatch failed")

    def _dispatch(self, message: dict[str, Any]) -> None:
        data = message.get("data") or {}
        if not isinstance(data, dict) or "pm_id" not in data:
            return
        # process events name themselves in data; another kind (e.g. "memory") is its own name
        kind = data.get("event") if message.get("event") == "process" else message.get("event")
        events = BUS_TO_HOOKS.get(str(kind), ())
        if not events and kind != "delete":
            return
        commands = self._commands_for(int(data["pm_id"]))
        if data.get("event") == "delete":
            self._known.pop(int(data["pm_id"]), None)
        for event in events:
            for command in commands.get(event, []):
                payload = {**data, "event": event, "at": message.get("at")}
                payload.setdefault("name", self._known.get(int(data["pm_id"]), ("",))[0])
                self._enqueue(int(data["pm_id"]), event, command, payload)

    def _commands_for(self, pm_id: int) -> dict[str, list[str]]:
        commands: dict[str, list[str]] = {}
        app = self.supervisor.apps.get(pm_id)
        if app is not None:  # remembered: `delete` drops the app before its `stop` reaches us
            self._known[pm_id] = (app.name, dict(app.spec.hooks or {}))
        hooks = self._known.get(pm_id, ("", {}))[1]
        if hooks:
            for event, command in hooks.items():
                commands.setdefault(event, []).append(command)
        for event, command in global_hooks(self.supervisor.home.root).items():
            commands.setdefault(event, []).append(command)
        return commands

    def _enqueue(self, pm_id: int, event: str, command: str, payload: dict[str, Any]) -> None:
        queue = self._per_app.get(pm_id)
        if queue is None:
            queue = self._per_app[pm_id] = asyncio.Queue()
            self._workers[pm_id] = asyncio.get_running_loop().create_task(self._work(queue))
        queue.put_nowait((event, command, payload))

    async def _work(self, queue: asyncio.Queue[tuple[str, str, dict[str, Any]]]) -> None:
        while True:
            event, command, payload = await queue.get()
            try:
                async with self._slots:
                    await run_hook(command, event, payload, hook_timeout())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hook %r for %s failed", command, event)
            finally:
                queue.task_done()


async def run_hook(command: str, event: str, payload: dict[str, Any], timeout: float) -> int | None:
    """Run one hook to completion or timeout; return its exit code (None when killed)."""
    label = f"[{payload.get('name')}:{payload.get('pm_id')}] {event}"
    env = {**os.environ, **hook_env(event, payload)}
    # asyncio reaps this child with a watcher for its own pid only (never waitpid(-1)), so the
    # supervisor's pidfd-based reaping of app processes is undisturbed.
    proc = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        env=env,
    )
    try:
        await asyncio.wait_for(_converse(proc, payload, label), timeout)
    except asyncio.TimeoutError:
        log.error("hook %s timed out after %gs: killing %r", label, timeout, command)
        _kill_group(proc.pid)
        await _finish(proc)
        return None
    except asyncio.CancelledError:
        _kill_group(proc.pid)
        await _finish(proc)
        raise
    code = proc.returncode
    if code:
        log.error("hook %s exited with code %s: %r", label, code, command)
    return code


async def _converse(proc: asyncio.subprocess.Process, payload: dict[str, Any], label: str) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(json.dumps(payload, default=str).encode() + b"\n")
        await proc.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        proc.stdin.close()
    pending = b""
    while True:
        chunk = await proc.stdout.read(65536)  # chunks, not readline: lines may exceed 64 KiB
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            log.info("hook %s: %s", label, line.decode(errors="replace"))
    if pending:
        log.info("hook %s: %s", label, pending.decode(errors="replace"))
    await proc.wait()


async def _finish(proc: asyncio.subprocess.Process) -> None:
    """Read the killed hook's pipe to EOF and reap it, so no transport is left open."""
    if proc.stdout is not None:
        while await proc.stdout.read(65536):
            pass
    await proc.wait()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
