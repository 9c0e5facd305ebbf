"""Readiness (`wait_ready`, `listen_timeout`) and `shutdown_with_message`, with real apps in
Python, shell and Node, against a real daemon: an app stays `launching` until it says it is ready,
`pm start` answers once it is online, and one that never says so goes online at listen_timeout,
as under PM2."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers.home import APPS, PM, wait_for


def _eco(pm: PM, **app: object) -> Path:
    path = pm.workdir / "eco.json"
    path.write_text(json.dumps({"apps": [app]}))
    return path


def _statuses_while(pm: PM, command: subprocess.Popen[str]) -> list[tuple[float, str]]:
    """(seconds since start, status of app 0) seen while command runs, and once after."""
    seen: list[tuple[float, str]] = []
    started = time.monotonic()
    while command.poll() is None:
        try:
            entries = pm.jlist()
        except (AssertionError, ValueError):
            continue  # the daemon is still starting
        if entries:
            seen.append((time.monotonic() - started, entries[0]["pm2_env"]["status"]))
    seen.append((time.monotonic() - started, pm.jlist()[0]["pm2_env"]["status"]))
    return seen


def test_python_app_is_launching_until_ready_and_start_waits_for_it(pm: PM) -> None:
    eco = _eco(
        pm,
        name="api",
        script=str(APPS / "ready_http.py"),
        wait_ready=True,
        listen_timeout=10_000,
        env={"READY_DELAY": "2", "PORT": "0"},
    )
    command = subprocess.Popen(
        [sys.executable, "-m", "pm", "start", str(eco)],
        env=pm.env,
        cwd=pm.workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = _statuses_while(pm, command)
    out, err = command.communicate(timeout=30)
    assert command.returncode == 0, err
    launching = [at for at, status in seen if status == "launching"]
    online = [at for at, status in seen if status == "online"]
    assert launching and online, seen
    assert max(launching) >= 1.5, f"launching for only {max(launching):.2f}s: {seen}"
    assert min(online) > max(launching)
    assert seen[-1][1] == "online"  # `pm start` returned only once the app was ready
    log = (pm.home / "pm.log").read_text()
    assert "is ready (READY=1 on NOTIFY_SOCKET)" in log


def test_app_that_never_signals_goes_online_at_listen_timeout(pm: PM) -> None:
    eco = _eco(
        pm,
        name="mute",
        script=str(APPS / "ready_http.py"),
        wait_ready=True,
        listen_timeout=1000,
        env={"NO_READY": "1", "PORT": "0"},
    )
    started = time.monotonic()
    pm.run("start", str(eco))
    elapsed = time.monotonic() - started
    assert pm.status("mute") == "online"
    assert 0.9 <= elapsed < 8, elapsed
    log = (pm.home / "pm.log").read_text()
    assert "[mute:0] sent no ready signal within listen_timeout (1000ms)" in log


@pytest.mark.needs("systemd-notify")
def test_shell_app_says_ready_with_systemd_notify(pm: PM) -> None:
    script = pm.write_app(
        "ready.sh", "#!/bin/sh\nsleep 1\nsystemd-notify --ready\necho told pm\nexec sleep 600\n"
    )
    command = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pm",
            "start",
            str(script),
            "--name",
            "sh",
            "--wait-ready",
            "--listen-timeout",
            "10000",
        ],
        env=pm.env,
        cwd=pm.workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = _statuses_while(pm, command)
    out, err = command.communicate(timeout=30)
    assert command.returncode == 0, err
    assert "launching" in [status for _, status in seen] and seen[-1][1] == "online", seen
    assert "[sh:0] is ready (READY=1 on NOTIFY_SOCKET)" in (pm.home / "pm.log").read_text()


NODE_APP = """
const started = Date.now();
setTimeout(() => { process.send('ready'); console.log('sent ready'); }, 1000);
process.on('message', (msg) => {
  if (msg === 'shutdown') { console.log('got shutdown'); process.exit(0); }
});
process.on('SIGINT', () => { console.log('got SIGINT'); process.exit(0); });
setInterval(() => {}, 1000);
"""


@pytest.mark.needs("node")
def test_node_process_send_ready_and_shutdown_message(pm: PM) -> None:
    script = pm.write_app("ready.js", NODE_APP)
    eco = _eco(
        pm,
        name="node",
        script=str(script),
        wait_ready=True,
        listen_timeout=10_000,
        shutdown_with_message=True,
    )
    started = time.monotonic()
    pm.run("start", str(eco))
    assert time.monotonic() - started >= 0.9
    assert pm.status("node") == "online"
    assert "[node:0] is ready (process.send('ready'))" in (pm.home / "pm.log").read_text()
    pm.run("stop", "node")
    out = pm.home / "logs" / "node-out.log"
    wait_for(lambda: "got shutdown" in out.read_text(), 5, message="the app's shutdown line")
    assert "got SIGINT" not in out.read_text()


@pytest.mark.needs("node")
def test_node_app_without_wait_ready_can_call_process_send(pm: PM) -> None:
    """PM2 gives every fork-mode Node app an IPC channel: process.send must not throw."""
    script = pm.write_app(
        "send.js",
        "process.send({hello: 1}); console.log('sent ok');\nsetInterval(() => {}, 1000);\n",
    )
    pm.run("start", str(script), "--name", "sender")
    out = pm.home / "logs" / "sender-out.log"
    wait_for(lambda: out.exists() and "sent ok" in out.read_text(), 10, message="'sent ok'")
    assert pm.status("sender") == "online"


def test_stop_during_launching_ends_the_wait(pm: PM) -> None:
    eco = _eco(
        pm,
        name="slow",
        script=str(APPS / "ready_http.py"),
        wait_ready=True,
        listen_timeout=30_000,
        env={"NO_READY": "1", "PORT": "0"},
    )
    result: list[subprocess.CompletedProcess[str]] = []
    starter = threading.Thread(target=lambda: result.append(pm.run("start", str(eco))))
    starter.start()
    wait_for(
        lambda: (
            (pm.home / "pm.log").exists()
            and "[slow:0] launching" in (pm.home / "pm.log").read_text()
        ),
        20,
        message="the app to launch",
    )
    pm.run("stop", "slow")
    starter.join(20)
    assert not starter.is_alive(), "pm start still waits for an app that was stopped"
    assert pm.status("slow") == "stopped"
