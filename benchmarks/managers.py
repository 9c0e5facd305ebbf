"""One adapter per process manager: start its daemon in a private home, start apps from one
config file, read statuses, stop everything, and end the daemon with its own kill command and
then by PID.

Each adapter is used for one measurement and closed after it (`with manager:`), so no state
leaks from one workload or repetition into the next.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import procs

PYTHON = sys.executable


@dataclass
class AppDef:
    """One app as every manager is told to run it."""

    name: str
    script: str
    args: list[str] = field(default_factory=list)
    interpreter: str = PYTHON  # "none" = execute the script itself
    autorestart: bool = True
    #: Restart without limit and without an unstable-restart cut-off (the crash workload).
    endless: bool = False
    #: More ecosystem attributes, for pm and PM2 only (the reload workload's instances,
    #: listen, wait_ready).
    extra: dict[str, Any] = field(default_factory=dict)

    def argv(self) -> list[str]:
        head = [self.script] if self.interpreter == "none" else [self.interpreter, self.script]
        return head + self.args


def base_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PM_HOME", "PM2_HOME", "PM_KILL_SIGNAL", "PM2_KILL_SIGNAL")
    }
    return env


class Manager:
    name = "?"
    #: Command that lists statuses, for the round-trip workload.
    status_argv: list[str]

    def __init__(self, workdir: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"b{self.name[:3]}", dir="/tmp"))
        self.workdir = workdir
        self.env = base_env()
        self._closed = False
        procs.on_cleanup(self.close)

    @classmethod
    def available(cls) -> bool:
        return True

    # -- to implement -------------------------------------------------------------------
    def start_daemon(self) -> None: ...
    def start_argv(self, apps: list[AppDef]) -> list[str]: ...
    def statuses(self) -> dict[str, str]: ...
    def stop_all_argv(self) -> list[str]: ...
    def daemon_pid(self) -> int: ...
    def out_log(self, app: AppDef) -> Path: ...
    def _shutdown(self) -> None: ...

    online_word = "online"

    # -- shared -------------------------------------------------------------------------
    def run(self, argv: list[str], timeout: float = 300.0) -> float:
        elapsed, result = procs.run(argv, self.env, timeout, cwd=str(self.workdir))
        procs.check(result, self.ok_codes)
        return elapsed

    ok_codes: tuple[int, ...] = (0,)

    def start(self, apps: list[AppDef]) -> float:
        """Start apps with one command; return the seconds that command took."""
        return self.run(self.start_argv(apps))

    def stop_all(self) -> float:
        return self.run(self.stop_all_argv())

    def all_online(self, apps: list[AppDef]) -> bool:
        states = self.statuses()
        return all(states.get(app.name) == self.online_word for app in apps)

    def close(self) -> None:
        """End the daemon with its own command, then by PID; remove the home. Idempotent."""
        if self._closed:
            return
        self._closed = True
        pid = self._pid_or_none()
        try:
            self._shutdown()
        except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
            print(f"{self.name}: shutdown command failed ({exc}); killing by pid", file=sys.stderr)
        if pid is not None and not procs.wait_gone([pid], 15):
            procs.track(pid)
            procs.kill_tracked()
        shutil.rmtree(self.root, ignore_errors=True)

    def _pid_or_none(self) -> int | None:
        try:
            return self.daemon_pid()
        except (OSError, ValueError):
            return None

    def __enter__(self) -> Manager:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ------------------------------------------------------------------------------ pm


class Pm(Manager):
    name = "pm"

    def __init__(self, workdir: Path, console_script: bool = False) -> None:
        super().__init__(workdir)
        self.home = self.root / "h"
        self.env["PM_HOME"] = str(self.home)
        script = Path(PYTHON).parent / "pm"
        self.cli = [str(script)] if console_script else [PYTHON, "-m", "pm"]
        self.status_argv = self.cli + ["jlist"]

    def start_daemon(self) -> None:
        self.run(self.cli + ["ping"])
        procs.track(self.daemon_pid())

    def daemon_pid(self) -> int:
        return int((self.home / "pm.pid").read_text())

    def start_argv(self, apps: list[AppDef]) -> list[str]:
        config = self.root / "ecosystem.json"
        config.write_text(json.dumps({"apps": [_pm2_style(app, self.workdir) for app in apps]}))
        return self.cli + ["start", str(config)]

    def statuses(self) -> dict[str, str]:
        _, result = procs.run(self.cli + ["jlist"], self.env)
        procs.check(result)
        return {entry["name"]: entry["pm2_env"]["status"] for entry in json.loads(result.stdout)}

    def stop_all_argv(self) -> list[str]:
        return self.cli + ["delete", "all"]

    def out_log(self, app: AppDef) -> Path:
        return self.home / "logs" / f"{app.name}-out.log"

    def _shutdown(self) -> None:
        if (self.home / "rpc.sock").exists():
            procs.run(self.cli + ["kill"], self.env, timeout=60)


def _pm2_style(app: AppDef, cwd: Path) -> dict[str, Any]:
    """The ecosystem entry pm and PM2 both read."""
    entry: dict[str, Any] = {
        "name": app.name,
        "script": app.script,
        "args": app.args,
        "interpreter": app.interpreter,
        "cwd": str(cwd),
        "autorestart": app.autorestart,
    }
    if app.endless:
        entry["max_restarts"] = 1_000_000
    entry.update(app.extra)
    return entry


# ------------------------------------------------------------------------------ PM2


class Pm2(Manager):
    name = "pm2"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.env["PM2_HOME"] = str(self.root)
        self.cli = [shutil.which("pm2") or "pm2"]
        self.status_argv = self.cli + ["jlist"]

    @classmethod
    def available(cls) -> bool:
        return shutil.which("pm2") is not None

    def start_daemon(self) -> None:
        self.run(self.cli + ["ping"])
        procs.track(self.daemon_pid())

    def daemon_pid(self) -> int:
        return int((self.root / "pm2.pid").read_text())

    def start_argv(self, apps: list[AppDef]) -> list[str]:
        config = self.root / "ecosystem.config.js"
        body = json.dumps({"apps": [_pm2_style(app, self.workdir) for app in apps]})
        config.write_text(f"module.exports = {body};\n")
        return self.cli + ["start", str(config)]

    def statuses(self) -> dict[str, str]:
        _, result = procs.run(self.cli + ["jlist"], self.env)
        procs.check(result)
        text = result.stdout
        entries = json.loads(text[text.index("[") :])
        return {entry["name"]: entry["pm2_env"]["status"] for entry in entries}

    def stop_all_argv(self) -> list[str]:
        return self.cli + ["delete", "all"]

    def out_log(self, app: AppDef) -> Path:
        return self.root / "logs" / f"{app.name}-out.log"

    def _shutdown(self) -> None:
        if (self.root / "pm2.pid").exists():
            procs.run(self.cli + ["kill"], self.env, timeout=60)


# ------------------------------------------------------------------------------ supervisord

_SUPERVISORD_CONF = """\
[unix_http_server]
file={root}/s.sock

[supervisord]
logfile={root}/supervisord.log
pidfile={root}/supervisord.pid
childlogdir={root}/logs
minfds=8192
minprocs=4096

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{root}/s.sock

[include]
files = {root}/conf.d/*.conf
"""


class Supervisord(Manager):
    """supervisord 4: programs in an include file, added and started by `supervisorctl update`.

    startsecs=0 so RUNNING means spawned, as `online` does for pm and PM2; logs never rotate
    (maxbytes=0) so no line is dropped by rotation in the output workload.
    """

    name = "supervisord"
    online_word = "RUNNING"
    ok_codes = (0, 3)  # supervisorctl status exits 3 when some program is not running

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        (self.root / "conf.d").mkdir()
        (self.root / "logs").mkdir()
        self.conf = self.root / "supervisord.conf"
        self.conf.write_text(_SUPERVISORD_CONF.format(root=self.root))
        bindir = Path(PYTHON).parent
        self.ctl = [str(bindir / "supervisorctl"), "-c", str(self.conf)]
        self.daemon = [str(bindir / "supervisord"), "-c", str(self.conf)]
        self.status_argv = self.ctl + ["status"]

    @classmethod
    def available(cls) -> bool:
        return (Path(PYTHON).parent / "supervisord").exists()

    def start_daemon(self) -> None:
        self.run(self.daemon)
        procs.wait_until(
            lambda: _read_pid(self.root / "supervisord.pid") and (self.root / "s.sock").exists(),
            30,
            what="supervisord socket",
        )
        procs.track(self.daemon_pid())
        procs.wait_until(
            lambda: procs.run(self.ctl + ["pid"], self.env)[1].returncode == 0,
            30,
            interval=0.02,
            what="supervisord to answer",
        )

    def daemon_pid(self) -> int:
        return int((self.root / "supervisord.pid").read_text())

    def start_argv(self, apps: list[AppDef]) -> list[str]:
        sections = [self._section(app) for app in apps]
        (self.root / "conf.d" / "apps.conf").write_text("\n".join(sections))
        return self.ctl + ["update"]

    def _section(self, app: AppDef) -> str:
        return (
            f"[program:{app.name}]\n"
            f"command={' '.join(app.argv())}\n"
            f"directory={self.workdir}\n"
            "autostart=true\n"
            f"autorestart={'true' if app.autorestart else 'false'}\n"
            "startsecs=0\n"
            f"stdout_logfile={self.root}/logs/{app.name}-out.log\n"
            "stdout_logfile_maxbytes=0\n"
            f"stderr_logfile={self.root}/logs/{app.name}-err.log\n"
            "stderr_logfile_maxbytes=0\n"
        )

    def statuses(self) -> dict[str, str]:
        _, result = procs.run(self.ctl + ["status"], self.env)
        procs.check(result, (0, 3))
        states = {}
        for line in result.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2:
                states[parts[0]] = parts[1]
        return states

    def stop_all_argv(self) -> list[str]:
        return self.ctl + ["stop", "all"]

    def out_log(self, app: AppDef) -> Path:
        return self.root / "logs" / f"{app.name}-out.log"

    def _shutdown(self) -> None:
        if (self.root / "supervisord.pid").exists():
            procs.run(self.ctl + ["shutdown"], self.env, timeout=60)


# ------------------------------------------------------------------------------ circus

_CIRCUS_CONF = """\
[circus]
endpoint = ipc://{root}/endpoint
pubsub_endpoint = ipc://{root}/pubsub
stats_endpoint = ipc://{root}/stats
statsd = False
check_delay = 5
pidfile = {root}/circusd.pid
logoutput = {root}/circusd.log
include = {root}/conf.d/*.ini
"""


class Circus(Manager):
    """circus 0.19 (optional): watchers in an included file, loaded by `circusctl reloadconfig`."""

    name = "circus"
    online_word = "active"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        (self.root / "conf.d").mkdir()
        (self.root / "logs").mkdir()
        self.conf = self.root / "circus.ini"
        self.conf.write_text(_CIRCUS_CONF.format(root=self.root))
        bindir = Path(PYTHON).parent
        self.ctl = [str(bindir / "circusctl"), "--endpoint", f"ipc://{self.root}/endpoint"]
        self.daemon = [str(bindir / "circusd"), "--daemon", str(self.conf)]
        self.status_argv = self.ctl + ["status"]

    @classmethod
    def available(cls) -> bool:
        return (Path(PYTHON).parent / "circusd").exists()

    def start_daemon(self) -> None:
        self.run(self.daemon)
        procs.wait_until(lambda: _read_pid(self.root / "circusd.pid"), 30, what="circusd pid")
        procs.track(self.daemon_pid())
        procs.wait_until(
            lambda: procs.run(self.ctl + ["list"], self.env)[1].returncode == 0,
            30,
            interval=0.05,
            what="circusd to answer",
        )

    def daemon_pid(self) -> int:
        return int((self.root / "circusd.pid").read_text())

    def start_argv(self, apps: list[AppDef]) -> list[str]:
        sections = [self._section(app) for app in apps]
        (self.root / "conf.d" / "apps.ini").write_text("\n".join(sections))
        return self.ctl + ["reloadconfig"]

    def _section(self, app: AppDef) -> str:
        argv = app.argv()
        return (
            f"[watcher:{app.name}]\n"
            f"cmd = {argv[0]}\n"
            f"args = {' '.join(argv[1:])}\n"
            f"working_dir = {self.workdir}\n"
            "numprocesses = 1\n"
            "autostart = true\n"
            "copy_env = true\n"
            f"respawn = {'true' if app.autorestart else 'false'}\n"
            "stdout_stream.class = FileStream\n"
            f"stdout_stream.filename = {self.root}/logs/{app.name}-out.log\n"
            "stderr_stream.class = FileStream\n"
            f"stderr_stream.filename = {self.root}/logs/{app.name}-err.log\n"
        )

    def statuses(self) -> dict[str, str]:
        _, result = procs.run(self.ctl + ["status"], self.env)
        procs.check(result)
        states = {}
        for line in result.stdout.splitlines():
            name, _, state = line.partition(":")
            states[name.strip()] = state.strip()
        return states

    def stop_all_argv(self) -> list[str]:
        return self.ctl + ["stop"]

    def out_log(self, app: AppDef) -> Path:
        return self.root / "logs" / f"{app.name}-out.log"

    def _shutdown(self) -> None:
        if (self.root / "circusd.pid").exists():
            procs.run(self.ctl + ["quit"], self.env, timeout=60)


def _read_pid(path: Path) -> int | None:
    """The pid in a pid file, or None while it is missing or still being written."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


MANAGERS: dict[str, type[Manager]] = {
    "pm": Pm,
    "pm2": Pm2,
    "supervisord": Supervisord,
    "circus": Circus,
}


def wait_markers(paths: list[Path], timeout: float) -> list[int]:
    """Wait until every marker file exists; track and return the pids written in them."""
    remaining = list(paths)
    deadline = time.monotonic() + timeout
    while remaining:
        remaining = [path for path in remaining if not path.exists()]
        if not remaining:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{len(remaining)} of {len(paths)} apps did not start "
                f"within {timeout:.0f}s (e.g. {remaining[0].name})"
            )
        time.sleep(0.002)
    pids = []
    for path in paths:
        pid = int(path.read_text().strip())
        procs.track(pid)
        pids.append(pid)
    return pids
