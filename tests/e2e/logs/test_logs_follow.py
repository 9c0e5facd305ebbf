"""`pm logs` follows an app's output without skipping or repeating a line across `pm flush`,
`pm reloadLogs`, a forced rotation, app restarts and a daemon restart.

An app prints a numbered line every 10 ms and keeps its counter in a file, so a restarted app
carries on where it stopped (it stops only between two lines). `pm logs app --raw --lines 0`
runs in a subprocess while the test acts on the logs; at the end the numbers the follower
printed must be one unbroken run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers.home import PM, pid_alive, wait_for

from pm.client.connection import Client
from pm.paths import Home

COUNTER = """\
import os, signal, sys, time
state = {state!r}
try:
    n = int(open(state).read())
except (OSError, ValueError):
    n = 0
stop = False

def on_signal(*_):
    global stop
    stop = True

signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGTERM, on_signal)
while not stop:
    sys.stdout.write("n %d\\n" % n)
    sys.stdout.flush()
    n += 1
    with open(state + ".tmp", "w") as handle:
        handle.write(str(n))
    os.replace(state + ".tmp", state)
    time.sleep(0.01)
"""

#: Seconds between two actions, so that each finds lines written since the one before.
PACE = 0.3


class Follower:
    """`pm logs app --raw --lines 0` in a subprocess, its stdout collected by a thread."""

    def __init__(self, pm: PM) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pm", "logs", "app", "--raw", "--lines", "0"],
            env=pm.env,
            cwd=pm.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.data = b""
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._collect, daemon=True)
        self.thread.start()

    def _collect(self) -> None:
        assert self.proc.stdout is not None
        while chunk := os.read(self.proc.stdout.fileno(), 65536):
            with self.lock:
                self.data += chunk

    def numbers(self) -> list[int]:
        with self.lock:
            data = self.data
        lines = data[: data.rfind(b"\n") + 1].decode().splitlines()
        bad = [line for line in lines if not line.startswith("n ")]
        assert not bad, bad[:5]
        return [int(line[2:]) for line in lines]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.thread.join(10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def _start(pm: PM) -> Path:
    state = pm.workdir / "counter.txt"
    pm.run("start", str(pm.write_app("counter.py", COUNTER.format(state=str(state)))), "-n", "app")
    pm.wait_status("app", "online")
    return state


def _written(state: Path) -> int:
    """How many lines the app has printed so far (it saves the count after each line)."""
    try:
        return int(state.read_text())
    except (OSError, ValueError):
        return 0


def _check(follower: Follower, pm: PM, state: Path, minimum: int) -> list[int]:
    """Stop the app, wait until the follower showed its last line, and check the run."""
    pm.run("stop", "app")
    last = _written(state) - 1
    wait_for(lambda: last in follower.numbers(), 15, message=f"the follower to show n {last}")
    numbers = follower.numbers()
    expected = list(range(numbers[0], last + 1))
    seen = set(numbers)
    missing = [n for n in expected if n not in seen]
    repeated = len(numbers) - len(seen)
    assert not missing and not repeated and numbers == expected, (
        f"{len(missing)} lines never shown ({missing[:10]}...), {repeated} shown twice, "
        f"of {len(expected)} from n {numbers[0]} to n {last}"
    )
    assert len(numbers) >= minimum, numbers
    return numbers


def _follow_through(pm: PM, action: str) -> None:
    state = _start(pm)
    follower = Follower(pm)
    try:
        wait_for(lambda: follower.numbers(), 15, message="the follower's first line")
        for _ in range(5):
            time.sleep(PACE)  # pacing only: lines pile up between two actions
            if action == "rotate":
                Client(Home(pm.home)).call("rotateLogs", force=True)
            else:
                pm.run(action, *(["app"] if action in ("flush", "restart") else []))
        time.sleep(PACE)
        _check(follower, pm, state, minimum=5 * int(PACE / 0.02))
    finally:
        follower.close()


@pytest.mark.parametrize("action", ["flush", "reloadLogs", "rotate", "restart"])
def test_follow_loses_and_repeats_nothing(pm: PM, action: str) -> None:
    _follow_through(pm, action)


def test_follow_across_a_daemon_restart(pm: PM) -> None:
    """A daemon killed outright: the app runs on, the next daemon re-adopts it and writes what
    piled up in the pipe meanwhile; the follower keeps its files open and shows it all."""
    state = _start(pm)
    follower = Follower(pm)
    try:
        wait_for(lambda: follower.numbers(), 15, message="the follower's first line")
        pm.wait_state_saved()
        daemon = pm.daemon_pid()
        assert daemon
        os.kill(daemon, signal.SIGKILL)
        wait_for(lambda: not pid_alive(daemon), message="the daemon's death")
        time.sleep(PACE)  # pacing only: the app writes into its pipe with no daemon reading
        pm.run("ping")  # a new daemon, which re-adopts the app
        pm.wait_status("app", "online")
        before = _written(state)
        wait_for(lambda: before in follower.numbers(), 15, message="lines after the restart")
        pm.run("flush", "app")  # and the new daemon's flush is lossless too
        time.sleep(PACE)
        _check(follower, pm, state, minimum=int(PACE / 0.02))
    finally:
        follower.close()


def test_follower_finishes_a_replaced_file_even_when_written_after_the_new_one_appears(
    tmp_path: Path,
) -> None:
    """The daemon renames a file, opens the path again, and only then swaps its fd: a last
    write can reach the old file after the new one exists. The follower keeps the old file
    until the new one shows bytes, and hands out the old bytes first."""
    from pm.client.logreader import Follower as FileFollower

    path = tmp_path / "app-out.log"
    old = open(path, "ab", buffering=0)
    old.write(b"n 0\n")
    follower = FileFollower(str(path), from_end=False)
    assert follower.poll() == [b"n 0"]
    old.write(b"n 1\n")
    os.rename(path, tmp_path / ".aside")
    new = open(path, "ab", buffering=0)
    assert follower.poll() == [b"n 1"]
    old.write(b"n 2\n")  # ...but one write still goes to the old file
    os.unlink(tmp_path / ".aside")  # as `pm flush` does: the open file stays readable
    old.close()
    assert follower.poll() == [b"n 2"]
    new.write(b"n 3\n")
    assert follower.poll() == [b"n 3"]
    assert follower.retired == []  # the new file has bytes: the old one is done and closed
    new.write(b"n 4\n")
    assert follower.poll() == [b"n 4"]
    new.close()
    follower.close()
