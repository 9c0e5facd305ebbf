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
from pm.config.spec import AppSpec

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
        """Add or remove `delta` instances of the app called `name`.

        The daemon has no `scale` command on this branch, so this composes the existing ones:
        +N starts N copies of the app's spec (`start` with force), -N deletes the N highest ids.
        It is the one place to switch to a daemon-side `scale` when that exists.
        """
        if delta == 0 or abs(delta) > MAX_SCALE_STEP:
            raise BadRequest(f"scale step must be between -{MAX_SCALE_STEP} and "
                             f"{MAX_SCALE_STEP}, and not 0; got {delta}")
        same = sorted((entry for entry in await self.list_apps() if entry["name"] == name),
                      key=lambda entry: entry["pm_id"])
        if not same:
            raise NotFound(f"no app named {name!r}")
        if delta > 0:
            spec = copy_spec(same[-1]["pm2_env"])
            started: list[dict[str, Any]] = []
            for _ in range(delta):
                started += (await self.call("start", apps=[spec], force=True))["entries"]
            return started
        if len(same) + delta < 1:
            raise BadRequest(f"app {name!r} has {len(same)} instance(s); scaling by {delta} "
                             "would leave none: use delete to remove the app")
        removed: list[dict[str, Any]] = []
        for entry in reversed(same[delta:]):
            removed += await self.call("delete", targets=[str(entry["pm_id"])])
        return removed


def copy_spec(pm2_env: dict[str, Any]) -> dict[str, Any]:
    """One more instance of the app described by a jlist `pm2_env`, as a `start` spec.

    jlist carries every AppSpec field; `env` there is the shell env merged with the app's env,
    which is exactly what the copy's process should see.
    """
    spec = {key: pm2_env[key] for key in AppSpec.field_names() if key in pm2_env}
    spec["env"] = {str(k): str(v) for k, v in (pm2_env.get("env") or {}).items()}
    if spec.get("merge_logs") is None:
        spec["merge_logs"] = False  # the copy writes <name>-out-<id>.log, its own file
    spec["instances"] = 1
    return spec


def http_status(error: PMError) -> int:
    """The HTTP status for a daemon error code."""
    return {
        "bad_request": 400, "config": 400, "not_found": 404, "conflict": 409, "spawn": 422,
        "daemon_unavailable": 503, "version_mismatch": 503,
    }.get(error.code, 500)
