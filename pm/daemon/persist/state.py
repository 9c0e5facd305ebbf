"""The daemon's live state in `PM_HOME/state.json`, kept current for crash recovery.

After any change of the process table the supervisor calls its `on_change` listeners; the
`StateKeeper` coalesces those calls into at most one atomic write per `min_interval` (a write of
1,000 apps costs milliseconds, so a crash loop of every app cannot turn into a write storm).
Quiet tables get their change on disk at the end of the current event-loop turn.

A change a command acknowledges is on disk before its reply: the server writes the state after
every command that is not read-only (handlers.READ_ONLY), so `pm start` followed at once by the
daemon's death leaves the new app in the file. Only churn nobody was told about (restarts of a
crash loop, counters) waits for the coalesced write.

The state stays valid if the daemon dies at any instant (temp, rename). That churn may lag the
truth by up to `min_interval`; recovery covers that window by finding the daemon's children by
their environment (see recovery.py), so a stale file never causes a duplicate.

Format (version 1): `{"format", "written_at", "daemon_pid", "specs": {key: spec}, "envs":
{key: shell env}, "apps": [record]}`. Instances of one spec share it, and equal shell envs are
stored once. Each record has `extra`: per-app data that other modules save and
restore, listed in `EXTRAS` (the inodes of the app's output pipes, pipe_recovery.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from pm.config.spec import AppSpec
from pm.daemon.core.app import App
from pm.daemon.core.supervisor import Supervisor
from pm.daemon.persist import pipe_recovery
from pm.paths import Home, write_private

log = logging.getLogger("pm")

STATE_FORMAT = 1

#: name -> (save(app) -> JSON-able value or None, restore(app, value)), for each record's
#: `extra`: a fixed table, so what state.json holds does not depend on who ran first.
EXTRAS: dict[str, tuple[Callable[[App], Any], Callable[[App, Any], None]]] = {
    "pipes": (pipe_recovery.saved, pipe_recovery.restore),
}


def record(app: App, spec_key: str, env_key: str) -> dict[str, Any]:
    proc = app.proc if app.proc is not None and not app.proc.exited else None
    extra = {}
    for name, (save, _) in EXTRAS.items():
        value = save(app)
        if value is not None:
            extra[name] = value
    return {
        "pm_id": app.pm_id,
        "instance": app.instance,
        "status": str(app.status),
        "pid": proc.pid if proc else 0,
        "create_time": proc.create_time if proc else 0.0,
        "unique_id": app.unique_id,
        "exit_code": app.exit_code,
        "counters": dict(vars(app.counters)),  # flat dataclasses: vars() is 10x asdict()
        "spec": spec_key,
        "shell_env": env_key,
        "command": {
            "argv": app.command.argv,
            "exec_path": app.command.exec_path,
            "interpreter": app.command.interpreter,
        },
        "paths": dict(vars(app.paths)),
        "extra": extra,
    }


class SpecDicts:
    """Each spec's dict, made once per spec object. Specs are replaced, never changed in place,
    so identity is a safe key; converting every spec on every write was the costliest part."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[AppSpec, dict[str, Any]]] = {}

    def get(self, spec: AppSpec) -> dict[str, Any]:
        cached = self._by_id.get(id(spec))
        if cached is None or cached[0] is not spec:
            cached = self._by_id[id(spec)] = (spec, spec.to_dict())
        return cached[1]

    def keep_only(self, specs: list[AppSpec]) -> None:
        live = {id(spec) for spec in specs}
        for key in [key for key in self._by_id if key not in live]:
            del self._by_id[key]


def snapshot(supervisor: Supervisor, spec_dicts: SpecDicts | None = None) -> dict[str, Any]:
    """The whole table as JSON-able data, specs and envs shared by identity."""
    spec_dicts = spec_dicts or SpecDicts()
    specs: dict[str, Any] = {}
    envs: dict[str, Any] = {}
    spec_keys: dict[int, str] = {}
    env_keys: dict[int, str] = {}
    apps = []
    for pm_id in sorted(supervisor.apps):
        app = supervisor.apps[pm_id]
        spec_key = spec_keys.get(id(app.spec))
        if spec_key is None:
            spec_key = spec_keys[id(app.spec)] = f"s{len(specs)}"
            specs[spec_key] = spec_dicts.get(app.spec)
        env_key = env_keys.get(id(app.shell_env))
        if env_key is None:
            # Apps started from one shell hold equal but distinct dicts: store the env once.
            env_key = next((key for key, env in envs.items() if env == app.shell_env), None)
            if env_key is None:
                env_key = f"e{len(envs)}"
                envs[env_key] = app.shell_env
            env_keys[id(app.shell_env)] = env_key
        apps.append(record(app, spec_key, env_key))
    spec_dicts.keep_only([app.spec for app in supervisor.apps.values()])
    return {
        "format": STATE_FORMAT,
        "written_at": time.time(),
        "daemon_pid": os.getpid(),
        "specs": specs,
        "envs": envs,
        "apps": apps,
    }


def write(home: Home, supervisor: Supervisor, spec_dicts: SpecDicts | None = None) -> None:
    data = snapshot(supervisor, spec_dicts)
    # No fsync: this file outlives the daemon's death (the page cache keeps it), and after a
    # power cut none of the processes it lists is running anyway (reboots go through `dump`).
    # A crash loop rewrites it every 0.1 s; each fsync (~0.8 ms here) forces a journal commit
    # that other writers to the same disk may have to wait for.
    write_private(home.state, json.dumps(data, separators=(",", ":")).encode(), durable=False)


def read(home: Home) -> dict[str, Any] | None:
    """The state a previous daemon left; None when there is none. An unreadable one is moved
    aside (said in pm.log) and read as a state of no apps, so recovery still looks for the
    processes a previous daemon left running and adopts them from their environment."""
    try:
        data = json.loads(home.state.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.error(
            "cannot read %s (%s); moved aside, apps still running are adopted from their "
            "environment",
            home.state,
            exc,
        )
        move_aside(home)
        return _empty_state()
    if (
        not isinstance(data, dict)
        or data.get("format") != STATE_FORMAT
        or not isinstance(data.get("apps"), list)
    ):
        log.error(
            "%s has an unknown format; moved aside, apps still running are adopted from "
            "their environment",
            home.state,
        )
        move_aside(home)
        return _empty_state()
    return data


def _empty_state() -> dict[str, Any]:
    """What an unreadable state file counts as: no app records."""
    return {"format": STATE_FORMAT, "apps": [], "specs": {}, "envs": {}}


def move_aside(home: Home) -> None:
    try:
        os.replace(home.state, home.state.with_name("state.json.unreadable"))
    except OSError:
        pass


class StateKeeper:
    """Writes state.json after changes, coalesced; the daemon's `on_change` listener."""

    def __init__(self, home: Home, supervisor: Supervisor, min_interval: float = 0.1) -> None:
        self.home = home
        self.supervisor = supervisor
        self.min_interval = min_interval
        self._handle: asyncio.Handle | None = None
        self._last_write = 0.0
        self._last_cost = 0.0
        self._closed = False
        self._spec_dicts = SpecDicts()
        self.writes = 0

    def start(self) -> None:
        """Listen to the supervisor and write the current table now."""
        self.supervisor.on_change(self.notify)
        self.flush()

    def notify(self) -> None:
        if self._handle is not None or self._closed:
            return
        loop = asyncio.get_running_loop()
        # Writing costs time; keep it under ~10% of the daemon's time whatever the churn.
        gap = max(self.min_interval, 10 * self._last_cost)
        wait = self._last_write + gap - time.monotonic()
        if wait <= 0:
            self._handle = loop.call_soon(self.flush)
        else:
            self._handle = loop.call_later(wait, self.flush)

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._closed:
            return
        started = time.monotonic()
        try:
            write(self.home, self.supervisor, self._spec_dicts)
        except (OSError, TypeError, ValueError) as exc:
            log.error("cannot write %s: %s", self.home.state, exc)
        self._last_write = time.monotonic()
        self._last_cost = self._last_write - started
        self.writes += 1

    def close(self, keep: bool) -> None:
        """Stop writing; keep the file (apps left running) or remove it (apps stopped)."""
        if keep:
            self.flush()
        self._closed = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if not keep:
            try:
                self.home.state.unlink()
            except FileNotFoundError:
                pass
