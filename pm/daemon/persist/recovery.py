"""Re-adoption at daemon start: take back the apps a previous daemon left running.

A daemon that dies (even by SIGKILL) leaves its children running: they live in their own
sessions with their output on files. The next daemon reads state.json and, before it serves any
request, rebuilds every app with its id, counters, spec and log paths:

* its process is alive with the same pid AND the same create time -> adopted (a reused pid
  has another create time and is never adopted);
* otherwise a process of ours is looked for by its environment (`PM_HOME` and the app's
  `unique_id`, which every child gets): a session leader running the app's command. That
  covers a restart that happened after the last state write;
* otherwise the app died meanwhile: what is left of its tree is killed and PM2's restart policy
  decides (exit code unknown), as if the exit had just been seen.

Session leaders of this home that belong to no app in the state (started in the instant
before the crash, after the last write) are the user's apps: they are adopted from what their
environment says (strays.py), never killed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from dataclasses import dataclass, fields
from typing import Any

from pm.config.command import Command
from pm.config.spec import AppSpec
from pm.daemon.core import process
from pm.daemon.core.app import App
from pm.daemon.core.clock import now_ms
from pm.daemon.core.policy import Counters, after_exit
from pm.daemon.core.supervisor import Supervisor
from pm.daemon.output.logfiles import LogPaths
from pm.daemon.persist import pipe_recovery, state, strays
from pm.errors import PMError
from pm.protocol import Status

log = logging.getLogger("pm")

#: Stops of half-stopped apps still running (a reference keeps each task alive).
_PENDING: set[asyncio.Task[None]] = set()

RUNNING = {Status.ONLINE, Status.LAUNCHING, Status.STOPPING, Status.WAITING_RESTART}


@dataclass
class Found:
    """A process whose environment says a daemon of this home started it."""

    pid: int
    unique_id: str
    session_leader: bool
    cmdline: list[str]
    env: dict[str, str]  # its environment: pm's marker names its app (strays.py)


@dataclass
class Report:
    adopted: int = 0
    restarted: int = 0
    down: int = 0
    strays_adopted: int = 0
    failed: int = 0


def scan(home_root: str) -> dict[str, list[Found]]:
    """Processes carrying PM_HOME=<home> and a unique_id in their environment, by unique_id."""
    needle = f"PM_HOME={home_root}".encode()
    found: dict[str, list[Found]] = {}
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                environ = handle.read()
            if needle not in environ:
                continue
            with open(f"/proc/{pid}/stat", "rb") as handle:
                stat = handle.read()
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = [
                    part.decode(errors="replace") for part in handle.read().split(b"\0")[:-1]
                ]
        except OSError:
            continue
        variables = dict(
            item.decode(errors="replace").split("=", 1)
            for item in environ.split(b"\0")
            if b"=" in item
        )
        unique_id = variables.get("unique_id")
        if variables.get("PM_HOME") != home_root or not unique_id:
            continue
        after = stat[stat.rfind(b")") + 2 :].split()
        if after[0] in (b"Z", b"X"):
            continue
        leader = int(after[3]) == pid  # field 6, the session id
        found.setdefault(unique_id, []).append(Found(pid, unique_id, leader, cmdline, variables))
    return found


def rebuild(raw: dict[str, Any], data: dict[str, Any]) -> App:
    """An App from its state record (spec and env are shared tables in the state)."""
    spec_raw = data.get("specs", {}).get(raw["spec"])
    if not isinstance(spec_raw, dict):
        raise ValueError(f"spec {raw.get('spec')!r} missing")
    spec = AppSpec.from_dict(spec_raw, where=f"state.json app {raw.get('pm_id')}")
    shell_env = data.get("envs", {}).get(raw["shell_env"], {})
    command = raw["command"]
    counters = Counters(**{f.name: int(raw["counters"].get(f.name, 0)) for f in fields(Counters)})
    app = App(
        pm_id=int(raw["pm_id"]),
        spec=spec,
        command=Command(
            list(command["argv"]), str(command["exec_path"]), str(command["interpreter"])
        ),
        paths=LogPaths(**raw["paths"]),
        shell_env={str(k): str(v) for k, v in shell_env.items()},
        instance=int(raw.get("instance", 0)),
        counters=counters,
        exit_code=raw.get("exit_code"),
        unique_id=str(raw["unique_id"]),
    )
    app.status = Status(raw.get("status", "stopped"))
    for name, value in raw.get("extra", {}).items():
        if name in state.EXTRAS:
            state.EXTRAS[name][1](app, value)
    return app


def recover(supervisor: Supervisor) -> Report:
    """Rebuild the table from state.json; call before serving requests (needs a running loop).

    Never raises: a daemon that cannot start because of its state file would lock the user out.
    """
    try:
        report = _recover(supervisor)
    except Exception:
        log.exception("crash recovery failed; %s moved aside", supervisor.home.state)
        state.move_aside(supervisor.home)
        report = Report(failed=1)
    try:
        pipe_recovery.resume(supervisor)  # read the re-adopted apps' output pipes again
    except Exception:
        log.exception("could not resume reading the apps' output pipes")
    return report


def _recover(supervisor: Supervisor) -> Report:
    report = Report()
    data = state.read(supervisor.home)
    if data is None:
        return report
    started = time.monotonic()
    found = scan(str(supervisor.home.root))
    known: set[str] = set()
    for raw in sorted(data["apps"], key=lambda item: int(item.get("pm_id", 0))):
        try:
            app = rebuild(raw, data)
        except (KeyError, TypeError, ValueError, PMError) as exc:  # one bad record, not all
            log.error("state.json: cannot rebuild app %s: %s", raw.get("pm_id"), exc)
            report.failed += 1
            continue
        known.add(app.unique_id)
        _recover_one(supervisor, app, raw, found.get(app.unique_id, []), report)
    for unique_id, processes in found.items():
        if unique_id not in known:
            for item in processes:
                if item.session_leader:
                    _adopt_stray(supervisor, item, report)
    log.info(
        "recovered %d apps from %s in %.0f ms: %d re-adopted, %d restarted, %d down, "
        "%d adopted from their environment",
        len(data["apps"]),
        supervisor.home.state,
        (time.monotonic() - started) * 1000,
        report.adopted,
        report.restarted,
        report.down,
        report.strays_adopted,
    )
    return report


def _recover_one(
    supervisor: Supervisor, app: App, raw: dict[str, Any], processes: list[Found], report: Report
) -> None:
    was = app.status
    proc = _find_process(app, raw, processes) if was in RUNNING or raw.get("pid") else None
    if proc is not None:
        supervisor.adopt(app, proc)
        report.adopted += 1
        if was == Status.STOPPING:  # the user asked for a stop the old daemon did not finish
            task = supervisor.loop.create_task(supervisor.stop(app))
            _PENDING.add(task)
            task.add_done_callback(_PENDING.discard)
        return
    supervisor.apps[app.pm_id] = app
    if was not in RUNNING:
        report.down += 1
        return
    # It died while no daemon watched: clear its leftovers, then PM2's policy decides.
    if app.spec.treekill:
        for item in processes:
            process.send_signal(item.pid, signal.SIGKILL)
    _remove(app.paths.pid)
    if was == Status.STOPPING:
        app.status = Status.STOPPED
        report.down += 1
        return
    app.exit_code = None
    if was == Status.WAITING_RESTART:
        decision_action, delay = "restart", 0
    else:
        decision = after_exit(app.policy, app.counters, None, now_ms())
        decision_action, delay = decision.action, decision.delay_ms
    log.info("App %s died while no daemon was running", app.label())
    if decision_action == "restart":
        app.status = Status.WAITING_RESTART if delay else Status.STOPPED
        # The supervisor's own relaunch: counts the restart, spawns, publishes the change;
        # kept as the app's restart timer so a `pm stop` meanwhile cancels it.
        app.restart_timer = supervisor.loop.call_later(delay / 1000, supervisor._relaunch, app)
        report.restarted += 1
    else:
        app.status = Status.ERRORED if decision_action == "errored" else Status.STOPPED
        report.down += 1


def _find_process(
    app: App, raw: dict[str, Any], processes: list[Found]
) -> process.OSProcess | None:
    pid = int(raw.get("pid") or 0)
    if pid and process.alive(pid):
        adopted = process.OSProcess.adopt(pid, float(raw.get("create_time") or 0))
        if adopted is not None:
            return adopted
    for item in processes:
        if item.session_leader and _runs(item.cmdline, app.command.argv):
            create_time = process.process_create_time(item.pid)
            if create_time is not None:
                log.info("App %s: found its process %d by environment", app.label(), item.pid)
                return process.OSProcess.adopt(item.pid, create_time)
    return None


def _runs(cmdline: list[str], argv: list[str]) -> bool:
    """Whether a process's cmdline is the app's command. The program may differ (a wrapper such
    as a pyenv shim execs the real interpreter) so the arguments decide when there are any."""
    if cmdline == argv:
        return True
    if len(argv) > 1:
        return cmdline[-(len(argv) - 1) :] == argv[1:]
    return bool(cmdline) and os.path.basename(cmdline[0]) == os.path.basename(argv[0])


def _adopt_stray(supervisor: Supervisor, item: Found, report: Report) -> None:
    """A process of this home no state record names: adopt it; never kill what may be the
    user's app."""
    if strays.adopt_stray(supervisor, item.pid, item.cmdline, item.env) is not None:
        report.strays_adopted += 1
        return
    log.warning(
        "process %d (%s) was started by a previous daemon of this home and cannot be "
        "listed again (its environment is incomplete); left running, unmanaged",
        item.pid,
        " ".join(item.cmdline),
    )


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
