"""The OpenAPI 3 description of the HTTP API, served at /openapi.json.

Kept next to the handlers it describes; `tests/web` runs a schema-driven fuzzer against it.
"""

from __future__ import annotations

from typing import Any

from pm.version import __version__
from pm.web.api import ACTIONS, DEFAULT_LINES, MAX_LINES, MAX_TARGET_LENGTH, MAX_TARGETS
from pm.web.api_history import DEFAULT_EVENTS, MAX_EVENTS, MAX_NUMBER, MAX_POINTS
from pm.web.bridge import MAX_SCALE_STEP

_TARGET = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_TARGET_LENGTH,
    "description": "An id, name, namespace, 'all' or /regex/ (as on the command line).",
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "Entry": {
        "type": "object",
        "description": "One app as `pm jlist` shows it (PM2's shape).",
        "required": ["pid", "name", "pm_id", "pm2_env", "monit"],
        "properties": {
            "pid": {"type": "integer"},
            "name": {"type": "string"},
            "pm_id": {"type": "integer"},
            "pm2_env": {"type": "object", "additionalProperties": True},
            "monit": {
                "type": "object",
                "required": ["cpu", "memory"],
                "properties": {"cpu": {"type": "number"}, "memory": {"type": "integer"}},
            },
        },
    },
    "Entries": {"type": "array", "items": {"$ref": "#/components/schemas/Entry"}},
    "Targets": {
        "type": "object",
        "required": ["targets"],
        "properties": {
            "targets": {"type": "array", "minItems": 1, "maxItems": MAX_TARGETS, "items": _TARGET}
        },
    },
    "Scale": {
        "type": "object",
        "required": ["name", "delta"],
        "properties": {
            "name": {**_TARGET, "description": "The app's name."},
            "delta": {
                "type": "integer",
                "minimum": -MAX_SCALE_STEP,
                "maximum": MAX_SCALE_STEP,
                "description": "Instances to add (positive) or remove (negative; the "
                "lowest ids go first, as PM2). 0 is refused.",
            },
        },
    },
    "Daemon": {
        "type": "object",
        "required": ["up"],
        "properties": {
            "up": {"type": "boolean"},
            "pid": {"type": "integer"},
            "version": {"type": "string"},
            "protocol": {"type": "integer"},
            "home": {"type": "string"},
        },
    },
    "AppLogs": {
        "type": "object",
        "required": ["pm_id", "name", "out", "err"],
        "properties": {
            "pm_id": {"type": "integer"},
            "name": {"type": "string"},
            "out_path": {"type": "string", "nullable": True},
            "err_path": {"type": "string", "nullable": True},
            "out": {"type": "array", "items": {"type": "string"}},
            "err": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Series": {
        "type": "object",
        "required": ["t", "cpu", "memory"],
        "description": "Samples oldest first: times (ms since the epoch), cpu percent, "
        "resident memory in bytes (of the process tree).",
        "properties": {
            "t": {"type": "array", "items": {"type": "integer"}},
            "cpu": {"type": "array", "items": {"type": "number"}},
            "memory": {"type": "array", "items": {"type": "integer"}},
        },
    },
    "History": {
        "type": "object",
        "required": ["now", "interval_ms", "retention_ms", "apps"],
        "properties": {
            "now": {"type": "integer"},
            "interval_ms": {"type": "integer"},
            "retention_ms": {"type": "integer"},
            "apps": {
                "type": "array",
                "items": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Series"},
                        {
                            "type": "object",
                            "required": ["name", "ids"],
                            "properties": {
                                "name": {"type": "string"},
                                "ids": {"type": "array", "items": {"type": "integer"}},
                                "instances": {
                                    "type": "array",
                                    "description": "With `name` or `instances=1`.",
                                    "items": {
                                        "allOf": [
                                            {"$ref": "#/components/schemas/Series"},
                                            {
                                                "type": "object",
                                                "required": ["id"],
                                                "properties": {"id": {"type": "integer"}},
                                            },
                                        ]
                                    },
                                },
                            },
                        },
                    ]
                },
            },
        },
    },
    "Event": {
        "type": "object",
        "required": ["seq", "at", "kind", "id", "name"],
        "description": "A daemon event. kind: online, exit, restart, stop, stopping, errored, "
        "restart overlimit, waiting restart, delete, reset, memory, cron, watch, "
        "health. An exit has `code` (null when killed by a signal), `signal` "
        "(SIGKILL...), `manually`, and soon after `tail` (the last lines of "
        "out and err); memory has `memory` and `limit` (bytes); health has "
        "`health`, `detail`, `failures`.",
        "properties": {
            "seq": {"type": "integer"},
            "at": {"type": "integer"},
            "kind": {"type": "string"},
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "status": {"type": "string"},
            "pid": {"type": "integer"},
            "reason": {"type": "string"},
            "code": {"type": "integer", "nullable": True},
            "signal": {"type": "string"},
            "manually": {"type": "boolean"},
            "tail": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
    "Events": {
        "type": "object",
        "required": ["seq", "marks", "events"],
        "properties": {
            "seq": {"type": "integer", "description": "The newest sequence number."},
            "marks": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The kinds the dashboard draws on its time axis.",
            },
            "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
        },
    },
    "AppSettings": {
        "type": "object",
        "required": ["pm_id", "name", "settings"],
        "properties": {
            "pm_id": {"type": "integer"},
            "name": {"type": "string"},
            "settings": {
                "type": "array",
                "description": "(label, value) as `pm describe`.",
                "items": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 2,
                    "maxItems": 2,
                },
            },
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_COMMON = {
    "401": _error("Missing or wrong token; nothing was done."),
    "503": _error("The pm daemon is not running."),
}
_TARGET_QUERY = {"name": "target", "in": "query", "required": True, "schema": _TARGET}
_LINES_QUERY = {
    "name": "lines",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_LINES, "default": DEFAULT_LINES},
}


def _get(
    summary: str,
    ok: dict[str, Any],
    params: list[dict[str, Any]] | None = None,
    errors: tuple[str, ...] = (),
) -> dict[str, Any]:
    responses = {"200": ok, **_COMMON}
    responses.update({code: _error(text) for code, text in _ERROR_TEXT.items() if code in errors})
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if params:
        operation["parameters"] = params
    return {"get": operation}


def _post(summary: str, body: str, errors: tuple[str, ...]) -> dict[str, Any]:
    responses = {"200": _json("The apps acted on, after the action.", "Entries"), **_COMMON}
    responses.update({code: _error(text) for code, text in _ERROR_TEXT.items() if code in errors})
    return {
        "post": {
            "summary": summary,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}
                },
            },
            "responses": responses,
        }
    }


_ERROR_TEXT = {
    "400": "Invalid arguments.",
    "404": "No app matches.",
    "409": "Conflict with the app's state.",
    "415": "The body is not application/json.",
    "422": "The app's process could not be started.",
    "500": "An internal error of the daemon (a bug: please report it).",
}
_ACTION_ERRORS = ("400", "404", "409", "415", "422")

_ACTION_SUMMARY = {
    "start": "Start stopped or errored apps again.",
    "stop": "Stop apps (their kill signal, then SIGKILL after kill_timeout).",
    "restart": "Restart apps (stop, then start with the same id).",
    "delete": "Stop apps and remove them from the list.",
    "reset": "Reset the restart counters of apps.",
}

_SCHEMAS["Hosts"] = {
    "type": "object",
    "required": ["poll_s", "hosts"],
    "properties": {"poll_s": {"type": "number"}, "hosts": {"type": "array"}},
}
_SCHEMAS["HostAction"] = {
    "type": "object",
    "required": ["host", "cmd", "target"],
    "properties": {
        "host": {"type": "string"},
        "cmd": {"type": "string", "enum": ["restart", "stop", "start", "reload"]},
        "target": _TARGET,
    },
}
_HOST_ACTION = {
    "post": {
        "summary": "Run `pm <cmd> <target>` by another host's pm, over ssh.",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/HostAction"}}
            },
        },
        "responses": {
            "200": {"description": "What the host's pm printed."},
            "502": _error("The host could not be reached, or its pm failed."),
            **_COMMON,
            **{code: _error(_ERROR_TEXT[code]) for code in ("400", "404", "415")},
        },
    }
}

_EVENT_STREAM = {"text/event-stream": {"schema": {"type": "string"}}}
_NAME_QUERY = {
    "name": "name",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_TARGET_LENGTH},
    "description": "One app's name (default: every app).",
}


def _number_query(name: str, description: str, maximum: int, default: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "integer", "minimum": 0, "maximum": maximum, "default": default},
    }


_HISTORY_QUERIES = [
    _NAME_QUERY,
    _number_query("since", "Only samples after this time (ms since the epoch).", MAX_NUMBER),
    _number_query(
        "points",
        "At most this many points per series (0: all); each keeps the "
        "highest values of the samples it stands for.",
        MAX_POINTS,
    ),
    _number_query("instances", "1: each app's instances too (always with `name`).", 1),
]
_EVENT_QUERIES = [
    _NAME_QUERY,
    _number_query("after", "Only events with a larger `seq`.", MAX_NUMBER),
    _number_query("since", "Only events at or after this time (ms since the epoch).", MAX_NUMBER),
    _number_query("limit", "The newest this many.", MAX_EVENTS, DEFAULT_EVENTS),
]


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/api/list": _get("The process list (`pm jlist`).", _json("The apps.", "Entries")),
        "/api/describe": _get(
            "The apps matching a target (`pm describe`).",
            _json("The matching apps.", "Entries"),
            [_TARGET_QUERY],
            ("400", "404"),
        ),
        "/api/daemon": _get("The daemon's version, pid and home.", _json("The daemon.", "Daemon")),
        "/api/logs": _get(
            "The last lines of the apps' out and err logs.",
            {
                "description": "One entry per matching app.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/AppLogs"},
                        }
                    }
                },
            },
            [_TARGET_QUERY, _LINES_QUERY],
            ("400", "404"),
        ),
        "/api/logs/stream": _get(
            "Server-sent events: `lines` events with the last lines, then each new line "
            "({id, name, stream: out|err, text}).",
            {"description": "An endless event stream.", "content": _EVENT_STREAM},
            [_TARGET_QUERY, _LINES_QUERY],
            ("400", "404"),
        ),
        "/api/events": _get(
            "Server-sent events: a `snapshot` event with the daemon and the process table, "
            "sent at once and on every change (about once a second); a `sample` event with "
            "each history sample ({t, apps: {name: [cpu, memory]}, instances: {id: [name, "
            "cpu, memory]}}); an `event` event with each daemon event (an Event; sent again, "
            "same seq, when an exit gets its `tail`).",
            {"description": "An endless event stream.", "content": _EVENT_STREAM},
        ),
        "/api/history": _get(
            "cpu and memory of each app (summed over its instances) and, for one app, of each "
            "instance, sampled by this web process since it started (up to retention_ms).",
            _json("The series.", "History"),
            _HISTORY_QUERIES,
            ("400",),
        ),
        "/api/history/events": _get(
            "The daemon events this web process kept (the last 1000 per app), oldest first.",
            _json("The events.", "Events"),
            _EVENT_QUERIES,
            ("400",),
        ),
        "/api/settings": _get(
            "What `pm describe` prints, as (label, value) pairs, for each matching app.",
            {
                "description": "One entry per matching app.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/AppSettings"},
                        }
                    }
                },
            },
            [_TARGET_QUERY],
            ("400", "404"),
        ),
        "/metrics": _get(
            "Prometheus metrics (text format 0.0.4).",
            {
                "description": "The exposition.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
        ),
        "/api/scale": _post("Add or remove instances of an app.", "Scale", _ACTION_ERRORS),
        "/api/hosts": _get(
            "The other hosts shown (pm web --remote, --all-hosts), each polled over ssh: its "
            "state (connecting, ok, unreachable), why, when it last answered, its apps.",
            _json("The hosts.", "Hosts"),
        ),
        "/api/hosts/action": _HOST_ACTION,
    }
    for cmd in ACTIONS:
        paths[f"/api/{cmd}"] = _post(_ACTION_SUMMARY[cmd], "Targets", _ACTION_ERRORS)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "pm web API",
            "version": __version__,
            "description": "Control a pm daemon over HTTP. Every request needs the token "
            "from PM_HOME/web.token (Bearer) or the dashboard's cookie.",
        },
        "security": [{"bearer": []}, {"cookie": []}],
        "paths": paths,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "pm_token"},
            },
        },
    }
