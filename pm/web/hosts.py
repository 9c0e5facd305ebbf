"""Other hosts on the dashboard: each host's process list, polled over ssh (the host's own pm
answers `pm jlist`, as `pm list --all-hosts` asks it), and actions sent the same way.

Every host is polled in its own thread on every round, so a dead one delays only itself (ssh's
ConnectTimeout, then the query cut); its card says since when it has not answered, and why,
and keeps the apps it last showed, marked as stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from pm.client import remote
from pm.client.remote import HostReply, RemoteHost
from pm.errors import BadRequest, NotFound
from pm.web.api import check_target, handles_errors, json_body, json_response

#: Seconds between two polls of every host.
POLL_S = 5.0
#: What the dashboard may ask a host's pm to do.
HOST_ACTIONS = ("restart", "stop", "start", "reload")


@dataclass
class HostState:
    """What the dashboard knows of one host."""

    host: RemoteHost
    state: str = "connecting"  # connecting | ok | unreachable
    problem: str | None = None
    checked_ms: float | None = None  # the last poll's end
    answered_ms: float | None = None  # the last poll that answered
    seconds: float | None = None  # how long that answer took
    apps: list[dict[str, Any]] = field(default_factory=list)

    def update(self, reply: HostReply) -> None:
        self.checked_ms = time.time() * 1000
        self.problem = reply.problem
        if self.problem is None:
            self.state, self.answered_ms, self.seconds = "ok", self.checked_ms, reply.seconds
            self.apps = [app_row(entry) for entry in reply.entries]
        else:
            self.state = "unreachable"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.host.label,
            "state": self.state,
            "problem": self.problem,
            "checked_ms": self.checked_ms,
            "answered_ms": self.answered_ms,
            "seconds": self.seconds,
            "apps": self.apps,
        }


def app_row(entry: dict[str, Any]) -> dict[str, Any]:
    """The few fields a host's card shows of one app (jlist carries far more)."""
    env = entry.get("pm2_env") or {}
    monit = entry.get("monit") or {}
    return {
        "pm_id": entry.get("pm_id"),
        "name": entry.get("name"),
        "status": env.get("status"),
        "pid": entry.get("pid"),
        "restarts": env.get("restart_time", 0),
        "uptime_ms": env.get("pm_uptime"),
        "cpu": monit.get("cpu", 0),
        "memory": monit.get("memory", 0),
    }


class HostsPanel:
    """Polls every host until stopped; the states are what GET /api/hosts returns."""

    def __init__(self, hosts: list[RemoteHost], poll_s: float = POLL_S) -> None:
        self.states = {host.label: HostState(host) for host in hosts}
        self.poll_s = poll_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.states:
            self._task = asyncio.create_task(self._poll_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.gather(*(self.poll(state) for state in self.states.values()))
            await asyncio.sleep(self.poll_s)

    async def poll(self, state: HostState) -> None:
        state.update(await asyncio.to_thread(remote.process_list, state.host))

    def to_json(self) -> dict[str, Any]:
        return {
            "poll_s": self.poll_s,
            "hosts": [state.to_json() for state in self.states.values()],
        }


PANEL = web.AppKey("hosts", HostsPanel)


@handles_errors
async def list_hosts(request: web.Request) -> web.Response:
    return json_response(request.app[PANEL].to_json())


@handles_errors
async def host_action(request: web.Request) -> web.Response:
    """POST {"host", "cmd", "target"}: `pm <cmd> <target>` run by that host's pm; the host is
    polled again at once, so its card shows the result. A host that fails answers 502."""
    panel = request.app[PANEL]
    body = await json_body(request)
    state = panel.states.get(str(body.get("host")))
    if state is None:
        raise NotFound(f"no host {str(body.get('host'))[:100]!r} on this dashboard")
    cmd = body.get("cmd")
    if cmd not in HOST_ACTIONS:
        raise BadRequest(f"'cmd' must be one of {', '.join(HOST_ACTIONS)}")
    target = check_target(body.get("target"))
    if target.startswith("-"):  # an option for the host's pm, not a target
        raise BadRequest("'target' must be an id, a name, a namespace, 'all' or /regex/")
    reply = await asyncio.to_thread(remote.run, state.host, [cmd, target, "--silent"])
    await panel.poll(state)
    if reply.problem is not None:
        return json_response(
            {"error": {"code": "host_failed", "message": f"{state.host.label}: {reply.problem}"}},
            502,
        )
    return json_response({"host": state.host.label, "output": reply.stdout})
