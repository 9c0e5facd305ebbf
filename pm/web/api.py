"""The JSON API and the two event streams. Each handler turns HTTP into one Bridge call.

Every route here sits behind the token check in `server.py`. Actions are POST with a JSON body
(`{"targets": [...]}` as in the socket protocol); a form post from another site cannot send
`application/json`, so together with the SameSite cookie that closes the CSRF door.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from pm.errors import BadRequest, PMError
from pm.web.bridge import Bridge, http_status
from pm.web.live import Follower, Hub, last_lines, log_paths

ACTIONS = ("start", "stop", "restart", "delete", "reset")
MAX_TARGETS = 100
MAX_TARGET_LENGTH = 200
MAX_LINES = 1000
DEFAULT_LINES = 50
#: How often a log stream looks at its files; and the keep-alive comment period of streams.
LOG_POLL_S = 0.2
KEEPALIVE_S = 15.0

BRIDGE = web.AppKey("bridge", Bridge)
HUB = web.AppKey("hub", Hub)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda obj: json.dumps(obj, default=str))


def error_response(status: int, code: str, message: str) -> web.Response:
    return json_response({"error": {"code": code, "message": message}}, status)


def from_pm_error(error: PMError) -> web.Response:
    return error_response(http_status(error), error.code, error.message)


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise _Reject(415, "unsupported_media_type", "send the body as application/json")
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise _Reject(400, "bad_request", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _Reject(400, "bad_request", "the body must be a JSON object")
    return body


class _Reject(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = error_response(status, code, message)


def check_target(value: Any, field: str = "target") -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TARGET_LENGTH:
        raise BadRequest(
            f"'{field}' must be a non-empty string of at most {MAX_TARGET_LENGTH} "
            "characters (an id, name, namespace, 'all' or /regex/)"
        )
    return value


def check_targets(body: dict[str, Any]) -> list[str]:
    targets = body.get("targets")
    if not isinstance(targets, list) or not 1 <= len(targets) <= MAX_TARGETS:
        raise BadRequest(f"'targets' must be a list of 1 to {MAX_TARGETS} strings")
    return [check_target(target, "targets[]") for target in targets]


def query_lines(request: web.Request) -> int:
    raw = request.query.get("lines", str(DEFAULT_LINES))
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_LINES:
        raise BadRequest(f"'lines' must be a whole number from 0 to {MAX_LINES}")
    return int(raw)


def handles_errors(func: Any) -> Any:
    """Turn PMErrors and rejections into JSON error replies with the right status."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await func(request)
            return response
        except _Reject as reject:
            return reject.response
        except PMError as exc:
            return from_pm_error(exc)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


# ------------------------------------------------------------------ reading


@handles_errors
async def list_apps(request: web.Request) -> web.Response:
    return json_response(await request.app[BRIDGE].list_apps())


@handles_errors
async def describe(request: web.Request) -> web.Response:
    target = check_target(request.query.get("target"))
    return json_response(await request.app[BRIDGE].call("describe", targets=[target]))


@handles_errors
async def daemon_info(request: web.Request) -> web.Response:
    hello = await request.app[BRIDGE].call("hello")
    return json_response({"up": True, **hello})


@handles_errors
async def logs(request: web.Request) -> web.Response:
    target = check_target(request.query.get("target"))
    count = query_lines(request)
    entries = await request.app[BRIDGE].call("describe", targets=[target])
    result = []
    for entry in entries:
        out_path, err_path = log_paths(entry)
        result.append(
            {
                "pm_id": entry["pm_id"],
                "name": entry["name"],
                "out_path": out_path,
                "err_path": err_path,
                "out": last_lines(out_path, count)[0] if out_path else [],
                "err": last_lines(err_path, count)[0] if err_path and err_path != out_path else [],
            }
        )
    return json_response(result)


# ------------------------------------------------------------------ actions


def action(cmd: str) -> Any:
    @handles_errors
    async def run(request: web.Request) -> web.Response:
        targets = check_targets(await json_body(request))
        result = await request.app[BRIDGE].call(cmd, targets=targets)
        if cmd == "start":  # the daemon also says what it started; the API answers entries
            result = result["entries"]
        return json_response(result)

    run.__name__ = f"action_{cmd}"
    return run


@handles_errors
async def scale(request: web.Request) -> web.Response:
    body = await json_body(request)
    name = check_target(body.get("name"), "name")
    delta = body.get("delta")
    if not isinstance(delta, int) or isinstance(delta, bool):
        raise BadRequest("'delta' must be a whole number such as 1 or -1")
    return json_response(await request.app[BRIDGE].scale(name, delta))


# ------------------------------------------------------------------ server-sent events


async def open_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    await response.write(b"retry: 1500\n\n")
    return response


async def send_event(response: web.StreamResponse, kind: str, data: Any) -> None:
    payload = json.dumps(data, default=str, separators=(",", ":"))
    await response.write(f"event: {kind}\ndata: {payload}\n\n".encode())


async def events(request: web.Request) -> web.StreamResponse:
    """The process list (`snapshot`), sent at once and again on every change (about once a
    second); and what the history recorder takes in: each `sample` of cpu and memory and each
    daemon `event`, as it comes."""
    hub = request.app[HUB]
    response = await open_stream(request)
    with hub.watching():
        try:
            await send_event(response, "snapshot", await hub.take())
            seen, fed = hub.version, hub.feed_seq
            while not hub.closing.is_set():
                await hub.next_change(seen, fed, KEEPALIVE_S)
                if hub.closing.is_set():
                    break
                items = hub.feed_after(fed)
                if not items and hub.version == seen:
                    await response.write(b": keep-alive\n\n")
                    continue
                for _seq, kind, data in items:
                    await send_event(response, kind, data)
                fed = items[-1][0] if items else fed
                if hub.version != seen:
                    seen = hub.version
                    await send_event(response, "snapshot", hub.snapshot)
        except (ConnectionError, asyncio.CancelledError):
            pass
    return response


@handles_errors
async def log_stream(request: web.Request) -> web.StreamResponse:
    """The last lines of the apps' logs, then every new line as it is written."""
    target = check_target(request.query.get("target"))
    count = query_lines(request)
    entries = await request.app[BRIDGE].call("describe", targets=[target])
    hub = request.app[HUB]
    response = await open_stream(request)
    followers: list[tuple[dict[str, Any], Follower]] = []
    backlog = []
    for entry in entries:
        out_path, err_path = log_paths(entry)
        who = {"id": entry["pm_id"], "name": entry["name"]}
        for stream, path in (("out", out_path), ("err", err_path)):
            if path is None or (stream == "err" and path == out_path):
                continue
            follower = Follower(path)
            backlog += [{**who, "stream": stream, "text": line} for line in follower.backlog(count)]
            followers.append(({**who, "stream": stream}, follower))
    try:
        await send_event(response, "lines", {"lines": backlog, "backlog": True})
        await _follow(response, followers, hub)
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        for _, follower in followers:
            follower.close()
    return response


async def _follow(
    response: web.StreamResponse, followers: list[tuple[dict[str, Any], Follower]], hub: Hub
) -> None:
    idle = 0.0
    while not hub.closing.is_set():
        lines: list[dict[str, Any]] = []
        for who, follower in followers:
            new, skipped = follower.poll()
            if skipped:
                lines.append(
                    {
                        **who,
                        "skipped": skipped,
                        "text": f"… {skipped} lines not shown (see the log file)",
                    }
                )
            lines += [{**who, "text": line} for line in new]
        if lines:
            await send_event(response, "lines", {"lines": lines})
            idle = 0.0
        elif idle >= KEEPALIVE_S:
            await response.write(b": keep-alive\n\n")
            idle = 0.0
        try:
            await asyncio.wait_for(hub.closing.wait(), LOG_POLL_S)
        except asyncio.TimeoutError:
            idle += LOG_POLL_S
