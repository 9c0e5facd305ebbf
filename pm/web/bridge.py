"""The web server's only way to the daemon: `pm.client.connection.Client`, run in worker threads.

The client is synchronous (one socket per request, as the CLI uses it); `call` runs it in a
thread so the event loop keeps serving. The bridge never starts a daemon: a dashboard must not
resurrect a daemon the user just killed, so a missing daemon is reported as unavailable.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pm.client.connection import Client
from pm.errors import BadRequest, NotFound, PMError
from pm.paths import Home

#: Largest step one scale request may take: a typo must not fork a thousand processes.
MAX_SCALE_STEP = 32


class Bridge:
    def __init__(self, home: Home) -> None:
        self.home = home

    def client(self) -> Client:
        return Client(self.home, autostart=False)

    async def call(self, cmd: str, **args: Any) -> Any:
        return await asyncio.to_thread(self.client().call, cmd, **args)

    async def list_apps(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = await self.call("list")
        return entries

    async def scale(self, name: str, delta: int) -> list[dict[str, Any]]:
        """Add or remove `delta` instances of the app called `name`, through the daemon's
        `scale` (the one implementation `pm scale` uses too: removals take the lowest ids, as
        PM2). Returns the entries added or removed. The dashboard never scales an app to none:
        that is a delete."""
        if delta == 0 or abs(delta) > MAX_SCALE_STEP:
            raise BadRequest(
                f"scale step must be between -{MAX_SCALE_STEP} and "
                f"{MAX_SCALE_STEP}, and not 0; got {delta}"
            )
        count = sum(1 for entry in await self.list_apps() if entry["name"] == name)
        if not count:
            raise NotFound(f"no app named {name!r}")
        if count + delta < 1:
            raise BadRequest(
                f"app {name!r} has {count} instance(s); scaling by {delta} "
                "would leave none: use delete to remove the app"
            )
        result = await self.call("scale", name=name, count=f"{delta:+d}")
        changed: list[dict[str, Any]] = result["added"] if delta > 0 else result["removed"]
        return changed


def http_status(error: PMError) -> int:
    """The HTTP status for a daemon error code."""
    return {
        "bad_request": 400,
        "config": 400,
        "not_found": 404,
        "conflict": 409,
        "spawn": 422,
        "daemon_unavailable": 503,
        "version_mismatch": 503,
    }.get(error.code, 500)
