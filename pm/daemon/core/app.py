"""`App`: one managed app instance as the daemon holds it, and how it looks to the outside.

The supervisor owns the lifecycle; this module holds the record, the environment its process is
given (PM2.md 3.5) and its PM2-shaped `jlist` entry (PM2.md 3.10).
"""

from __future__ import annotations

import asyncio
import getpass
import os
from dataclasses import dataclass, field
from typing import Any

from pm.config.command import Command, is_python
from pm.config.package import package_version
from pm.config.spec import AppSpec
from pm.daemon.core.clock import Timer
from pm.daemon.core.policy import Counters, Policy
from pm.daemon.core.process import AppProcess
from pm.daemon.core.readiness import Channels
from pm.daemon.output.logfiles import LogPaths
from pm.protocol import Status


def uuid4_text() -> str:
    """A random (version 4) UUID as text, PM2's `unique_id`. Not the uuid module: it imports
    platform and libuuid, ~0.3 MB of the daemon's memory, for 16 random bytes."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@dataclass
class App:
    pm_id: int
    spec: AppSpec
    command: Command
    paths: LogPaths
    shell_env: dict[str, str]
    instance: int = 0
    status: Status = Status.STOPPED
    proc: AppProcess | None = None
    counters: Counters = field(default_factory=Counters)
    exit_code: int | None = None
    unique_id: str = field(default_factory=lambda: uuid4_text())
    stop_requested: bool = False
    restart_timer: Timer | None = None
    #: wait_ready: ends launching after listen_timeout when no ready signal came first.
    ready_timer: Timer | None = None
    #: The current process's ways to talk to pm (readiness.py).
    channels: Channels | None = None
    #: Set whenever the app is not launching: requests that start apps wait on it.
    launched: asyncio.Event = field(default_factory=asyncio.Event)
    #: health_check results (automation/health.py): status, failures, output, checked_at.
    health: dict[str, Any] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Per-app data other modules keep in state.json (see state.EXTRAS), restored after a crash.
    extras: dict[str, Any] = field(default_factory=dict)
    #: The policy of `_policy_spec`: built again only when the spec is replaced.
    _policy: Policy | None = field(default=None, init=False, repr=False, compare=False)
    _policy_spec: AppSpec | None = field(default=None, init=False, repr=False, compare=False)
    #: (pid, version) of the package.json above the script, read again for each new process.
    _package: tuple[int, str | None] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None and not self.proc.exited else 0

    @property
    def policy(self) -> Policy:
        """The restart policy of the current spec, built once per spec.

        Handlers change an app's settings by assigning a new spec (`app.spec = replace(...)`),
        never by editing it in place, so a spec that is still the same object still has the
        same policy."""
        if self._policy is None or self._policy_spec is not self.spec:
            self._policy = policy_of(self.spec)
            self._policy_spec = self.spec
        return self._policy

    def version(self) -> str:
        """jlist's version: the app's `version` attribute, else its package.json's (PM2 reads
        that one at each launch, and shows nothing else), else N/A."""
        if self.spec.version:
            return self.spec.version
        if self._package is None or self._package[0] != self.pid:
            found = package_version(self.command.exec_path, self.spec.cwd)
            self._package = (self.pid, found)
        return self._package[1] or "N/A"

    def label(self) -> str:
        """PM2's `[name:id]` used in daemon log lines."""
        return f"[{self.name}:{self.pm_id}]"

    def pm_fields(self, home: str) -> dict[str, Any]:
        """PM2's runtime fields, shared by the child env and jlist's pm2_env."""
        return {
            "name": self.name,
            "namespace": self.spec.namespace,
            "pm_id": self.pm_id,
            self.spec.instance_var: self.instance,
            "PM_HOME": home,
            "status": str(self.status),
            "pm_uptime": self.counters.pm_uptime,
            "created_at": self.counters.created_at,
            "restart_time": self.counters.restart_time,
            "unstable_restarts": self.counters.unstable_restarts,
            "exec_mode": self.spec.exec_mode,
            "exec_interpreter": self.command.interpreter,
            "pm_exec_path": self.command.exec_path,
            "pm_cwd": self.spec.cwd,
            "pm_out_log_path": self.paths.out,
            "pm_err_log_path": self.paths.err,
            "pm_pid_path": self.paths.pid,
            "unique_id": self.unique_id,
            "instances": self.spec.instances,
            "autorestart": self.spec.autorestart,
            "username": _username(),
        }

    def child_env(self, home: str) -> dict[str, str]:
        """Environment for the next launch: shell env < app env < PM2 fields."""
        env = dict(self.shell_env)
        env.update(self.spec.env)
        for key, value in self.pm_fields(home).items():
            env[key] = _env_value(value)
        if self.spec.port is not None:
            env["PORT"] = str(self.spec.port)
        if self.spec.increment_var:
            base = int(self.spec.env.get(self.spec.increment_var, 0) or 0)
            env[self.spec.increment_var] = str(base + self.instance)
        if is_python(self.command.interpreter) or is_python(self.command.exec_path):
            env["PYTHONUNBUFFERED"] = "1"
        return env

    def jlist_entry(self, home: str, cpu: float = 0.0, memory: int = 0) -> dict[str, Any]:
        """The app as `pm2 jlist` shows it: {pid, name, pm2_env, pm_id, monit}."""
        pm2_env: dict[str, Any] = dict(self.spec.env)
        pm2_env.update(_spec_fields(self.spec))
        pm2_env.update(self.pm_fields(home))
        pm2_env["env"] = {**self.shell_env, **self.spec.env}
        pm2_env["pm_log_path"] = self.paths.combined
        pm2_env["exit_code"] = self.exit_code
        pm2_env["prev_restart_delay"] = self.counters.prev_restart_delay
        pm2_env["node_args"] = self.spec.interpreter_args  # PM2's name for the same list
        pm2_env["version"] = self.version()
        pm2_env["watching"] = bool(self.spec.watch)
        pm2_env["axm_actions"] = []
        pm2_env["axm_monitor"] = {}
        pm2_env["axm_options"] = {}
        pm2_env["axm_dynamic"] = {}
        if self.health is not None:
            pm2_env["health"] = self.health["status"]
            pm2_env["health_failures"] = self.health["failures"]
            pm2_env["health_output"] = self.health["output"]
        online = self.status == Status.ONLINE
        return {
            "pid": self.pid,
            "name": self.name,
            "pm2_env": pm2_env,
            "pm_id": self.pm_id,
            "monit": {"memory": memory if online else 0, "cpu": cpu if online else 0},
        }


def policy_of(spec: AppSpec) -> Policy:
    """The restart-policy settings of a spec."""
    return Policy(
        autorestart=spec.autorestart,
        stop_exit_codes=tuple(spec.stop_exit_codes),
        min_uptime=spec.min_uptime,
        max_restarts=spec.max_restarts,
        restart_delay=spec.restart_delay,
        exp_backoff_restart_delay=spec.exp_backoff_restart_delay,
    )


def filter_shell_env(env: dict[str, str], filter_env: bool | list[str]) -> dict[str, str]:
    """PM2's filter_env: true drops the whole shell env; strings drop keys starting with them."""
    if filter_env is True:
        return {}
    if not filter_env:
        return dict(env)
    prefixes = list(filter_env)
    return {
        key: value
        for key, value in env.items()
        if not any(key.startswith(prefix) for prefix in prefixes)
    }


def _spec_fields(spec: AppSpec) -> dict[str, Any]:
    """The spec's fields as a shallow dict: jlist only serialises them, so the deep copy that
    `dataclasses.asdict` makes (a third of a 1,000-app `jlist`) is not needed."""
    return {name: getattr(spec, name) for name in _SPEC_FIELDS}


_SPEC_FIELDS = tuple(AppSpec.field_names())


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_USER: list[str] = []


def _username() -> str:
    if not _USER:
        try:
            _USER.append(getpass.getuser())
        except (KeyError, OSError):
            _USER.append("unknown")
    return _USER[0]
