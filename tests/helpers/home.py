"""A pm home for one test and the helpers to drive it: run the CLI, read jlist, poll to a
deadline, clean up every process by PID.

Tests drive the real `pm` CLI in a subprocess (what a user sees: output, exit code) and read
state through `jlist`. Everything started is ended by PID or via `pm kill`, never by name.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import APPS  # noqa: F401  (re-exported: most tests take it from here)


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str = "condition",
) -> Any:
    """Poll predicate until it returns a truthy value; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] not in (b"Z", b"X")


@dataclass
class PM:
    """A pm home for one test, with helpers to run the CLI against it."""

    home: Path
    workdir: Path

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PM_HOME"] = str(self.home)
        env["COLUMNS"] = "200"  # the whole table, whatever terminal (or xdist worker) runs this
        env.pop("PM2_KILL_SIGNAL", None)
        env.pop("PM_KILL_SIGNAL", None)
        return env

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 60,
        env: dict[str, str] | None = None,
        input: str | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "pm", *args],
            cwd=cwd or self.workdir,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"pm {' '.join(args)} exited {result.returncode}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result

    def jlist(self) -> list[dict[str, Any]]:
        return json.loads(self.run("jlist").stdout)  # type: ignore[no-any-return]

    def app(self, name_or_id: str | int) -> dict[str, Any]:
        for entry in self.jlist():
            if str(name_or_id) in (entry["name"], str(entry["pm_id"])):
                return entry
        raise AssertionError(f"no app {name_or_id} in jlist")

    def status(self, name_or_id: str | int) -> str:
        return str(self.app(name_or_id)["pm2_env"]["status"])

    def wait_status(
        self, name_or_id: str | int, status: str, timeout: float = 10
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            entry = self.app(name_or_id)
            return entry if entry["pm2_env"]["status"] == status else None

        return wait_for(check, timeout, 0.05, f"{name_or_id} to be {status}")  # type: ignore[no-any-return]

    def daemon_pid(self) -> int | None:
        try:
            pid = int((self.home / "pm.pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def wait_state_saved(self) -> None:
        """Until state.json (written coalesced, <= 100 ms after a change) lists every live pid:
        a daemon SIGKILLed before that leaves newer apps for recovery's unmanaged clean-up."""
        live = {entry["pid"] for entry in self.jlist() if entry["pid"]}

        def saved() -> bool:
            try:
                state = json.loads((self.home / "state.json").read_text())
            except (OSError, ValueError):
                return False
            return live <= {app.get("pid") for app in state.get("apps", [])}

        wait_for(saved, 10, message="state.json to list the live pids")

    def write_app(self, name: str, body: str) -> Path:
        path = self.workdir / name
        path.write_text(body)
        path.chmod(0o755)
        return path

    def cleanup(self) -> None:
        """End the daemon and every app it ran, whatever state the test left them in."""
        pids: list[int] = []
        daemon = self.daemon_pid() or _daemon_by_title(self.home)  # a moved pid file too
        if daemon:
            try:
                pids = [e["pid"] for e in self.jlist() if e["pid"]]
            except Exception:
                pass
            pids += _tree(daemon)
            subprocess.run(
                [sys.executable, "-m", "pm", "kill"], env=self.env, capture_output=True, timeout=60
            )
        pids += _pids_in_files(self.home / "pids")
        for pid in pids + ([daemon] if daemon else []):
            if pid and pid_alive(pid):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


def _daemon_by_title(home: Path) -> int | None:
    """The daemon of this home found by its process title, for tests that move its pid file."""
    title = f"pm: God Daemon ({home})".encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if handle.read().startswith(title) and pid_alive(int(entry)):
                        return int(entry)
            except OSError:
                continue
    return None


def _tree(pid: int) -> list[int]:
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def _pids_in_files(folder: Path) -> list[int]:
    pids = []
    for path in folder.glob("*.pid") if folder.is_dir() else []:
        try:
            pids.append(int(path.read_text()))
        except (OSError, ValueError):
            pass
    return pids


#: Where daemons such as sshd live: often not on a user's PATH.
SYSTEM_BIN = "/usr/local/sbin:/usr/sbin:/sbin"


def find_program(name: str) -> str | None:
    """A program on PATH, in this Python's own bin folder (what pip installed with pytest, such
    as the servers of the test extra), or in the system's sbin folders."""
    here = str(Path(sys.executable).parent)
    return shutil.which(name) or shutil.which(name, path=f"{here}:{SYSTEM_BIN}")
