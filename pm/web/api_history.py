"""The endpoints a page reads its past from: cpu/memory history, kept events, an app's settings.

History and events live in this web process (see history.py, eventlog.py, recorder.py), so a
reloaded page gets back everything since `pm web` started, up to the retention.
"""

from __future__ import annotations

import time

from aiohttp import web

from pm.client.describe import describe_pairs
from pm.errors import BadRequest
from pm.web.api import BRIDGE, MAX_TARGET_LENGTH, check_target, handles_errors, json_response
from pm.web.eventlog import MARK_KINDS, EventLog
from pm.web.history import History

HISTORY = web.AppKey("history", History)
EVENTS = web.AppKey("events", EventLog)
MAX_POINTS = 2000
MAX_EVENTS = 5000
DEFAULT_EVENTS = 500
#: The largest number a query may carry (a time in ms, a sequence number).
MAX_NUMBER = 2**53


def query_int(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) > maximum:
        raise BadRequest(f"'{name}' must be a whole number from 0 to {maximum}")
    return int(raw)


def query_name(request: web.Request) -> str | None:
    name = request.query.get("name")
    if name is not None and (not name or len(name) > MAX_TARGET_LENGTH):
        raise BadRequest(f"'name' must be an app name of 1 to {MAX_TARGET_LENGTH} characters")
    return name


@handles_errors
async def history(request: web.Request) -> web.Response:
    """cpu and memory per app (and per instance for one app, or when `instances=1`)."""
    store = request.app[HISTORY]
    name = query_name(request)
    since = query_int(request, "since", 0, MAX_NUMBER)
    points = query_int(request, "points", 0, MAX_POINTS)
    instances = query_int(request, "instances", 0, 1) == 1
    apps = store.query(name, since, points, instances)
    return json_response(
        {
            "now": int(time.time() * 1000),
            "interval_ms": int(store.interval_s * 1000),
            "retention_ms": int(store.retention_s * 1000),
            "apps": apps,
        }
    )


@handles_errors
async def events(request: web.Request) -> web.Response:
    """Kept daemon events, oldest first: all, or one app's; `after` a sequence number."""
    log = request.app[EVENTS]
    name = query_name(request)
    after = query_int(request, "after", 0, MAX_NUMBER)
    since = query_int(request, "since", 0, MAX_NUMBER)
    limit = query_int(request, "limit", DEFAULT_EVENTS, MAX_EVENTS)
    return json_response(
        {
            "seq": log.seq,
            "marks": sorted(MARK_KINDS),
            "events": log.query(name, after, since, limit),
        }
    )


@handles_errors
async def settings(request: web.Request) -> web.Response:
    """What `pm describe` prints, for each app matching the target."""
    target = check_target(request.query.get("target"))
    entries = await request.app[BRIDGE].call("describe", targets=[target])
    return json_response(
        [
            {
                "pm_id": entry["pm_id"],
                "name": entry["name"],
                "settings": [list(pair) for pair in describe_pairs(entry)],
            }
            for entry in entries
        ]
    )
