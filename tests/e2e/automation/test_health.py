"""Health checks against a real daemon: an app that stops answering its health URL is restarted
within interval x retries, the change shows in jlist, list, describe and `pm events`; a check
with action 'report' only reports; tcp and cmd checks pass on a healthy app."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from helpers.home import APPS, PM, pid_alive, wait_for
from helpers.load import free_port


def start_checked(pm: PM, check: dict[str, Any], **extra: Any) -> int:
    port = free_port()
    app = {
        "name": "api",
        "script": str(APPS / "ready_http.py"),
        "listen": f"127.0.0.1:{port}",
        "env": {"HANG_FILE": str(pm.workdir / "hang")},
        "kill_timeout": 500,
        "health_check": {
            **check,
            **({"http": f"http://127.0.0.1:{port}/health"} if check.get("http") == "PORT" else {}),
        },
        **extra,
    }
    (pm.workdir / "eco.json").write_text(json.dumps({"apps": [app]}))
    pm.run("start", str(pm.workdir / "eco.json"))
    return port


def health(pm: PM) -> str | None:
    return pm.app("api")["pm2_env"].get("health")


def test_hung_app_is_restarted_within_interval_times_retries(pm: PM) -> None:
    start_checked(pm, {"http": "PORT", "interval": "300ms", "timeout": "300ms", "retries": 2})
    wait_for(lambda: health(pm) == "healthy", 10, message="the app to be healthy")
    assert "online (healthy)" in pm.run("list").stdout
    events = subprocess.Popen(
        [sys.executable, "-m", "pm", "events", "--json"],
        env=pm.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        old = pm.app("api")["pid"]
        (pm.workdir / "hang").write_text("")  # /health stops answering; the process lives on
        hung_at = time.monotonic()
        restarted = wait_for(
            lambda: pm.app("api")["pid"] not in (0, old) and pm.app("api"),
            10,
            message="the hung app to be restarted",
        )
        elapsed = time.monotonic() - hung_at
        # 2 failures x (300 ms interval + 300 ms timeout) = 1.2 s, plus the stop and start; the
        # bound is loose for a busy machine: it tells a health restart from none at all.
        assert elapsed < 8, elapsed
        assert restarted["pm2_env"]["restart_time"] == 1 and not pid_alive(old)
    finally:
        events.terminate()
        lines, _ = events.communicate(timeout=10)
    seen = [json.loads(line) for line in lines.splitlines() if line.strip()]
    unhealthy = [e for e in seen if e.get("event") == "health" and e.get("health") == "unhealthy"]
    assert unhealthy and "no answer within 0.3s" in unhealthy[0]["detail"]
    assert any(e.get("event") == "restart" for e in seen)
    log = (pm.home / "pm.log").read_text()
    assert "[api:0] is unhealthy after 2 failed checks" in log


def test_report_only_check_marks_unhealthy_without_restarting(pm: PM) -> None:
    (Path(pm.workdir) / "ok").write_text("")
    start_checked(
        pm,
        {
            "cmd": f"test -e {pm.workdir / 'ok'}",
            "interval": "200ms",
            "retries": 1,
            "action": "report",
        },
    )
    wait_for(lambda: health(pm) == "healthy", 10, message="the app to be healthy")
    pid = pm.app("api")["pid"]
    (pm.workdir / "ok").unlink()
    wait_for(lambda: health(pm) == "unhealthy", 10, message="the app to be unhealthy")
    entry = pm.app("api")
    assert entry["pid"] == pid and entry["pm2_env"]["restart_time"] == 0
    assert "exited with 1" in entry["pm2_env"]["health_output"]
    described = pm.run("describe", "api").stdout
    # failures go on counting every 200 ms while it stays unhealthy
    assert re.search(r"unhealthy, \d+ failed in a row: `test -e", described), described
    assert "cmd test -e" in described
    (pm.workdir / "ok").write_text("")
    wait_for(lambda: health(pm) == "healthy", 10, message="the app to recover")


def test_tcp_check_and_failures_inside_start_period(pm: PM) -> None:
    """The app listens at once (the handed-over socket), so the tcp check passes."""
    port = free_port()
    start_checked(
        pm,
        {"tcp": f"127.0.0.1:{port}", "interval": "200ms", "retries": 1, "start_period": "5s"},
        listen=f"127.0.0.1:{port}",
    )
    wait_for(lambda: health(pm) == "healthy", 10, message="the tcp check to pass")


def test_bad_health_check_is_refused_naming_file_app_and_field(pm: PM) -> None:
    (pm.workdir / "eco.json").write_text(
        json.dumps(
            {
                "apps": [
                    {
                        "name": "api",
                        "script": str(APPS / "ticker.py"),
                        "health_check": {"http": "http://x/", "tcp": "127.0.0.1:1"},
                    }
                ]
            }
        )
    )
    result = pm.run("start", str(pm.workdir / "eco.json"), check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    # pm's form for a file's errors: a header, then one line per error (here one).
    header, error = [line for line in result.stderr.splitlines() if line.strip()]
    assert header.endswith("eco.json: 1 error, nothing started:")
    assert error == (
        f"{pm.workdir / 'eco.json'}: app #0 (api): field 'health_check': give "
        "exactly one of http, tcp or cmd"
    )
    assert pm.jlist() == []
