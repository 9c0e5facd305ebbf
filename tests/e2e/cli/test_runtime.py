"""pm-runtime: foreground apps, PM2-prefixed output, exit status, SIGTERM, --lock, --no-daemon."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.home import APPS, PM, pid_alive, wait_for

import pm as pm_api
from pm.errors import PMError


@pytest.fixture
def workdir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="pmr", dir="/tmp"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def runtime(*args: str, cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PM_HOME"}
    return subprocess.run(
        [sys.executable, "-m", "pm.cli.runtime", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


def eco(workdir: Path, apps: list[dict[str, Any]]) -> str:
    path = workdir / "eco.json"
    path.write_text(json.dumps({"apps": apps}))
    return str(path)


def job(name: str, code: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "script": str(APPS / "crash.py"),
        "args": [str(code)],
        "interpreter": sys.executable,
        "autorestart": False,
        **extra,
    }


def test_exits_zero_when_all_apps_finish_normally(workdir: Path) -> None:
    shell = {"name": "sh", "script": "echo hello; echo oops >&2", "autorestart": False}
    result = runtime(
        "start", eco(workdir, [job("a", 0), job("b", 7, stop_exit_codes=[7]), shell]), cwd=workdir
    )
    assert result.returncode == 0, result.stderr
    assert "2|sh       | hello" in result.stdout.splitlines()
    assert "2|sh       | oops" in result.stderr.splitlines()


def test_exit_status_of_a_failed_app(workdir: Path) -> None:
    result = runtime(eco(workdir, [job("ok", 0), job("bad", 5)]), cwd=workdir)
    assert result.returncode == 5


def test_errored_app_is_a_failure(workdir: Path) -> None:
    """Exits 0 each time, too fast (min_uptime): errored; an errored app with no failing exit
    code of its own makes the runtime exit 1."""
    result = runtime(
        eco(workdir, [job("loop", 0, autorestart=True, max_restarts=2, min_uptime=5000)]),
        cwd=workdir,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        f'PM log: Script {APPS / "crash.py"} had too many unstable restarts (2). Stopped. "errored"'
    ) in result.stdout


def test_bad_ecosystem_names_the_problem(workdir: Path) -> None:
    result = runtime(
        eco(workdir, [{"name": "x", "script": str(APPS / "ticker.py"), "depends_on": ["missing"]}]),
        cwd=workdir,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "[PM][ERROR] app 'x' depends_on 'missing', which pm does not manage"
        in result.stderr.splitlines()
    )


class Background:
    """A pm-runtime run in the background with its output in files."""

    def __init__(self, workdir: Path, *args: str) -> None:
        self.out = workdir / f"out{len(list(workdir.glob('out*')))}.txt"
        self.home = Path(tempfile.mkdtemp(prefix="pmh", dir="/tmp"))
        env = {k: v for k, v in os.environ.items() if k != "PM_HOME"}
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pm.cli.runtime", *args, "--home", str(self.home)],
                cwd=workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def jlist(self) -> list[dict[str, Any]]:
        """The runtime's apps; never starts a daemon (that would race the runtime for its home)."""
        try:
            return [info.raw for info in pm_api.connect(self.home, autostart=False).list()]
        except PMError:
            return []

    def text(self) -> str:
        return self.out.read_text()

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        pids = self.home / "pids"
        for path in pids.glob("*.pid"):
            try:
                os.killpg(int(path.read_text()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        shutil.rmtree(self.home, ignore_errors=True)


def test_sigterm_stops_everything_gracefully(workdir: Path) -> None:
    run = Background(
        workdir,
        "start",
        eco(
            workdir,
            [{"name": "tick", "script": str(APPS / "ticker.py"), "interpreter": sys.executable}],
        ),
    )
    try:
        wait_for(lambda: "0|tick     | tick 1" in run.text(), 20, message="prefixed ticks")
        pid = wait_for(
            lambda: [e["pid"] for e in run.jlist() if e["pid"]], 20, message="the app in jlist"
        )[0]
        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(20) == 0, run.text()
        assert not pid_alive(pid)
    finally:
        run.end()


def test_lock_refuses_second_instance_and_no_auto_exit(workdir: Path) -> None:
    lock = str(workdir / "job.lock")
    first = Background(workdir, "--lock", lock, "--no-auto-exit", eco(workdir, [job("j", 0)]))
    try:
        wait_for(
            lambda: any(e["pm2_env"]["status"] == "stopped" for e in first.jlist()),
            20,
            message="the job to finish",
        )
        # --no-auto-exit: still up with every app stopped. Without the flag the runtime stops
        # on the change itself (its loop polls every 50 ms): 1 s is a wide margin
        with pytest.raises(subprocess.TimeoutExpired):
            first.proc.wait(1.0)
        second = runtime("--lock", lock, eco(workdir, [job("j", 0)]), cwd=workdir)
        assert second.returncode == 3, second.stdout + second.stderr
        assert (
            f"[PM][ERROR] another instance holds the lock {lock}; not starting"
            in second.stderr.splitlines()
        )
        first.proc.send_signal(signal.SIGTERM)
        assert first.proc.wait(20) == 0
    finally:
        first.end()
    assert runtime("--lock", lock, eco(workdir, [job("j", 0)]), cwd=workdir).returncode == 0


def test_pm_start_no_daemon(pm: PM) -> None:
    result = pm.run(
        "start",
        str(APPS / "crash.py"),
        "--name",
        "once",
        "--no-autorestart",
        "--no-daemon",
        "--",
        "4",
        check=False,
    )
    assert result.returncode == 4, result.stdout + result.stderr
    assert pm.daemon_pid() is None  # no daemon was started for it
