"""Adopting a process of this home that state.json does not list (crash recovery).

A daemon killed in the instant after it started an app, before any state write, leaves a
process recovery cannot match. It is the user's app, started on their word: pm never kills
it. Its environment carries pm's marker (PM_HOME, the app's name, pm_id and unique_id, script
and folder), enough to list it again as an app that can be stopped, restarted and saved; its
output pipes are read again as any re-adopted app's. Settings the environment does not carry
(restart policy, watch, cron...) take their defaults, and pm.log says so.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from pm.config.command import Command
from pm.config.spec import AppSpec
from pm.daemon.core import process
from pm.daemon.core.app import App
from pm.daemon.core.supervisor import Supervisor
from pm.daemon.output import logfiles as logs
from pm.daemon.output.pipes import KINDS

log = logging.getLogger("pm")

#: Variables pm puts in every child's environment: the marker, not the app's own settings.
PM_VARIABLES = frozenset(
    {
        "name",
        "namespace",
        "pm_id",
        "PM_HOME",
        "status",
        "pm_uptime",
        "created_at",
        "restart_time",
        "unstable_restarts",
        "exec_mode",
        "exec_interpreter",
        "pm_exec_path",
        "pm_cwd",
        "pm_out_log_path",
        "pm_err_log_path",
        "pm_pid_path",
        "unique_id",
        "instances",
        "autorestart",
        "username",
        "NOTIFY_SOCKET",
        "LISTEN_FDS",
        "LISTEN_PID",
        "NODE_CHANNEL_FD",
        "NODE_CHANNEL_SERIALIZATION_MODE",
        "NODE_UNIQUE_ID",
    }
)


def adopt_stray(
    supervisor: Supervisor, pid: int, cmdline: list[str], env: dict[str, str]
) -> App | None:
    """List the process as the app its environment (env, as recovery's scan read it) names,
    running; None if it cannot be."""
    create_time = process.process_create_time(pid)
    if not env.get("name") or not env.get("pm_exec_path") or create_time is None:
        return None
    app = _rebuild(supervisor, env, cmdline)
    proc = process.OSProcess.adopt(pid, create_time)
    if proc is None:
        return None
    supervisor.adopt(app, proc)
    app.extras["pipes"] = _output_pipes(pid)  # read again by pipe_recovery.resume
    log.warning(
        "App %s: process %d was started by the previous daemon after its last state "
        "write; adopted it from its environment (restart policy, watch and cron settings "
        "are the defaults until the app is started again from its file)",
        app.label(),
        pid,
    )
    return app


def _rebuild(supervisor: Supervisor, env: dict[str, str], cmdline: list[str]) -> App:
    interpreter = env.get("exec_interpreter") or "none"
    spec = AppSpec(
        script=env["pm_exec_path"],
        name=env["name"],
        namespace=env.get("namespace") or "default",
        cwd=env.get("pm_cwd") or os.path.dirname(env["pm_exec_path"]),
        interpreter=None if interpreter == "none" else interpreter,
        autorestart=env.get("autorestart", "true") != "false",
    )
    wanted = _int(env.get("pm_id"), -1)
    pm_id = wanted if wanted >= 0 and wanted not in supervisor.apps else supervisor.next_id()
    shell_env = {key: value for key, value in env.items() if key not in PM_VARIABLES}
    command = Command(list(cmdline), env["pm_exec_path"], interpreter)
    paths = logs.resolve_paths(supervisor.home, spec, pm_id)
    return App(pm_id, spec, command, paths, shell_env, unique_id=env["unique_id"])


def _output_pipes(pid: int) -> list[list[Any]]:
    """[[kind, pipe inode], ...] of the process's stdout and stderr when they are pipes."""
    pipes = []
    for kind, fd in zip(KINDS, (1, 2), strict=True):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("pipe:["):
            pipes.append([kind, int(target[6:-1])])
    return pipes


def _int(text: str | None, default: int) -> int:
    try:
        return int(text or "")
    except ValueError:
        return default
