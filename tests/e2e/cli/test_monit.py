"""`pm monit` driven in a real terminal (tmux), and `pm list --watch`."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import uuid

import pytest
from helpers.home import APPS, wait_for

from pm.cli.commands.monit import details, tail_lines

needs_tmux = pytest.mark.needs("tmux")


class Tmux:
    """A private tmux server (its own socket name) running one command in a 160x40 pane."""

    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.socket = f"pmtest-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        subprocess.run(
            [
                "tmux",
                "-L",
                self.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "160",
                "-y",
                "40",
                f"env {exports} bash -c {shlex.quote(command)}",
            ],
            check=True,
        )
        subprocess.run(
            ["tmux", "-L", self.socket, "resize-window", "-x", "160", "-y", "40"], check=False
        )

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, "capture-pane", "-p"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "-L", self.socket, "send-keys", *keys], check=True)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)


def _monit(pm) -> Tmux:
    env = {"PM_HOME": str(pm.home), "TERM": "xterm-256color", "PATH": os.environ["PATH"]}
    command = f"{shlex.quote(sys.executable)} -m pm monit; echo MONIT-EXITED $?; sleep 60"
    return Tmux(command, env)


def _row(screen: str, name: str) -> re.Match[str] | None:
    return re.search(rf"^\s*\d+ {name}\s+(\S+)\s+([\d.]+)%\s+([\d.]+)(mb|kb)", screen, re.M)


@needs_tmux
def test_monit_shows_live_numbers_and_restarts_on_key(pm) -> None:
    pm.run("start", str(APPS / "ticker.py"), "--name", "calm")
    pm.run("start", str(APPS / "busy.py"), "--name", "spin")
    tmux = _monit(pm)
    try:
        # live: spin's cpu is sampled above zero, memory in mb, calm's log tail shows ticks
        def live() -> str | None:
            screen = tmux.screen()
            row = _row(screen, "spin")
            return screen if row and float(row.group(2)) > 10 else None

        try:
            screen = wait_for(live, timeout=20, message="live cpu")
        except AssertionError:
            raise AssertionError(f"no live cpu on screen:\n{tmux.screen()}") from None
        assert _row(screen, "calm") and "online" in screen
        assert re.search(r"tick \d+", screen), screen
        tmux.keys("Down")  # select spin, then restart it with r
        wait_for(lambda: re.search(r"name\s+spin \(id 1\)", tmux.screen()), message="selection")
        tmux.keys("r")
        wait_for(
            lambda: pm.app("spin")["pm2_env"]["restart_time"] == 1,
            timeout=15,
            message="restart from monit",
        )
        assert pm.app("calm")["pm2_env"]["restart_time"] == 0
        wait_for(lambda: "spin (1) restarted" in tmux.screen(), message="status line")
        tmux.keys("s")
        pm.wait_status("spin", "stopped", timeout=15)
        tmux.keys("q")
        screen = wait_for(
            lambda: (s := tmux.screen()) and "MONIT-EXITED 0" in s and s, message="monit to quit"
        )
        assert "pm monit" not in screen  # the normal screen is back
    finally:
        tmux.close()


@needs_tmux
def test_monit_ctrl_c_restores_the_terminal(pm) -> None:
    pm.run("start", str(APPS / "ticker.py"), "--name", "calm")
    tmux = _monit(pm)
    try:
        wait_for(lambda: _row(tmux.screen(), "calm"), timeout=20, message="dashboard")
        tmux.keys("C-c")
        screen = wait_for(
            lambda: (s := tmux.screen()) and "MONIT-EXITED" in s and s,
            message="monit to exit on Ctrl-C",
        )
        assert "pm monit" not in screen and "Traceback" not in screen
    finally:
        tmux.close()


def test_list_watch_refreshes_until_ctrl_c(pm) -> None:
    pm.run("start", str(APPS / "ticker.py"), "--name", "calm")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pm", "list", "--watch"],
        env=pm.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        output = b""
        assert proc.stdout is not None
        while output.count(b"refreshing every") < 3:
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, "list --watch ended early"
            output += chunk
        assert output.count(b"\x1b[H\x1b[2J") >= 3 and b"calm" in output
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert b"Traceback" not in err


def test_tail_lines_reads_only_the_end(tmp_path) -> None:
    log = tmp_path / "out.log"
    log.write_text("".join(f"line {index}\n" for index in range(50_000)))
    assert tail_lines(str(log), 3) == ["line 49997", "line 49998", "line 49999"]
    assert tail_lines(str(tmp_path / "missing.log"), 3) == []
    facts = dict(
        details(
            {
                "name": "a",
                "pm_id": 0,
                "pid": 0,
                "monit": {"cpu": 1.5, "memory": 2048},
                "pm2_env": {"status": "stopped", "max_memory_restart": 1 << 20},
            }
        )
    )
    assert facts["cpu"] == "1.5%" and facts["memory"] == "2.0kb" and facts["max memory"] == "1.0mb"
