"""The wire protocol shared by the CLI and the daemon.

Newline-delimited JSON over a Unix stream socket. A request is
``{"id": n, "cmd": "...", "args": {...}}``; a reply is ``{"id": n, "ok": true, "result": ...}``
or ``{"id": n, "ok": false, "error": {"code": "...", "message": "..."}}``. A subscription turns
the connection into a stream of ``{"event": ...}`` frames.

This module imports nothing of pm so both sides (and tests) can use it freely.
"""

from __future__ import annotations

import enum
import json
from typing import Any

PROTOCOL_VERSION = 2

#: A frame larger than this is refused: nothing legitimate comes close, and a bound keeps a
#: broken or hostile client from making the daemon buffer without limit.
MAX_FRAME_BYTES = 16 * 1024 * 1024


class Status(str, enum.Enum):
    """PM2's process statuses, spelled exactly as PM2 prints them."""

    LAUNCHING = "launching"
    ONLINE = "online"
    STOPPING = "stopping"
    STOPPED = "stopped"
    ERRORED = "errored"
    WAITING_RESTART = "waiting restart"
    ONE_LAUNCH = "one-launch-status"

    def __str__(self) -> str:
        return self.value


#: Statuses in which the app has (or is about to have) a live OS process.
RUNNING_STATUSES = frozenset({Status.LAUNCHING, Status.ONLINE, Status.STOPPING})
#: Statuses from which `pm start <name>` relaunches the app.
DOWN_STATUSES = frozenset({Status.STOPPED, Status.ERRORED})


class FrameError(ValueError):
    """A frame that is not valid JSON or not a JSON object."""


def encode(message: dict[str, Any]) -> bytes:
    """One message as one line of compact JSON."""
    return json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """Parse one line into a message dict, or raise FrameError saying why not."""
    try:
        message = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrameError(f"malformed frame: {exc}") from None
    except RecursionError:  # e.g. 100,000 nested '[': json recurses once per level
        raise FrameError("malformed frame: nested too deeply") from None
    if not isinstance(message, dict):
        raise FrameError("malformed frame: expected a JSON object")
    return message


def request(request_id: int, cmd: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": request_id, "cmd": cmd, "args": args or {}}


def reply_ok(request_id: Any, result: Any) -> dict[str, Any]:
    return {"id": request_id, "ok": True, "result": result}


def reply_error(request_id: Any, code: str, message: str) -> dict[str, Any]:
    return {"id": request_id, "ok": False, "error": {"code": code, "message": message}}


def event(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"event": kind, "data": data}
