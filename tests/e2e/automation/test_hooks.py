"""Hooks run on process events, in order per app, and never hold up the lifecycle."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from helpers.home import APPS, PM, wait_for


def _eco(pm: PM, apps: list[dict]) -> Path:
    path = pm.workdir / "eco.json"
    path.write_text(json.dumps({"apps": apps}))
    return path


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_crash_loop_sequence_ends_in_errored(pm: PM) -> None:
    record = pm.workdir / "events.txt"
    hook = f'echo "$PM_EVENT $PM_APP_NAME $PM_EXIT_CODE $PM_APP_STATUS" >> {record}'
    eco = _eco(
        pm,
        [
            {
                "name": "crasher",
                "script": str(APPS / "crash.py"),
                "args": ["3"],
                "interpreter": sys.executable,
                "max_restarts": 3,
                "min_uptime": 5000,
                "hooks": {
                    event: hook
                    for event in ("start", "online", "exit", "restart", "errored", "stop")
                },
            }
        ],
    )
    pm.run("start", str(eco))
    pm.wait_status("crasher", "errored")
    lines = wait_for(
        lambda: (l := _lines(record)) and l[-1].startswith("errored") and l,
        15,
        message="errored hook",
    )
    events = [line.split()[0] for line in lines]
    # first launch, then each crash is followed by a relaunch until the third unstable exit
    assert events == [
        "start",
        "online",
        "exit",
        "start",
        "online",
        "restart",
        "exit",
        "start",
        "online",
        "restart",
        "exit",
        "errored",
    ], lines
    # as PM2 reports them: down ("stopped") while restarts go on, "errored" on the last one
    assert [line for line in lines if line.startswith("exit")] == [
        "exit crasher 3 stopped",
        "exit crasher 3 stopped",
        "exit crasher 3 errored",
    ]


def test_stdin_json_and_env(pm: PM) -> None:
    out = pm.workdir / "payload.json"
    eco = _eco(
        pm,
        [
            {
                "name": "quick",
                "script": str(APPS / "crash.py"),
                "args": ["0"],
                "interpreter": sys.executable,
                "autorestart": False,
                "hooks": {
                    "stop": f'cat > {out}.tmp; echo "$PM_APP_ID $PM_APP_STATUS" >> {out}.tmp; '
                    f"mv {out}.tmp {out}"
                },
            }
        ],
    )
    pm.run("start", str(eco))
    wait_for(out.exists, 15, message="stop hook output")
    first, second = out.read_text().splitlines()
    payload = json.loads(first)
    assert payload["event"] == "stop" and payload["name"] == "quick"
    assert payload["pm_id"] == 0 and isinstance(payload["at"], int)
    assert second == "0 stopped"


def test_hanging_hook_does_not_delay_restarts(pm: PM) -> None:
    env = dict(pm.env, PM_HOOK_TIMEOUT="1")
    eco = _eco(
        pm,
        [
            {
                "name": "loop",
                "script": str(APPS / "crash.py"),
                "interpreter": sys.executable,
                "min_uptime": 0,
                "restart_delay": 50,
                "hooks": {"exit": "sleep 1000", "restart": "exec sleep 1000"},
            }
        ],
    )
    started = time.monotonic()
    pm.run("start", str(eco), env=env)
    wait_for(
        lambda: pm.app("loop")["pm2_env"]["restart_time"] >= 5,
        20,
        0.05,
        "five restarts despite hanging hooks",
    )
    assert time.monotonic() - started < 15
    log = pm.home / "pm.log"
    wait_for(lambda: "timed out after 1s" in log.read_text(), 15, message="hook timeout in log")
    pm.run("delete", "all")


def test_global_hooks_file_and_output_to_daemon_log(pm: PM) -> None:
    pm.home.mkdir(parents=True, exist_ok=True)
    (pm.home / "hooks.json").write_text(
        json.dumps({"online": 'echo "hello from hook $PM_APP_NAME"; exit 4'})
    )
    pm.run("start", str(APPS / "ticker.py"), "--name", "tick")
    log = pm.home / "pm.log"
    wait_for(lambda: "hello from hook tick" in log.read_text(), 15, message="hook output")
    wait_for(lambda: "exited with code 4" in log.read_text(), 15, message="hook failure logged")
    assert pm.status("tick") == "online"  # a failing hook changes nothing


def test_runner_in_process_memory_event_and_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner on a real bus and real hook processes, without a daemon."""
    import asyncio
    from types import SimpleNamespace

    from pm.daemon.automation.hooks import HookRunner
    from pm.daemon.core.events import EventBus

    record = tmp_path / "record.txt"
    spec = SimpleNamespace(
        hooks={
            "memory": f'echo "$PM_EVENT $PM_APP_NAME $PM_REASON" >> {record}',
            "exit": "sleep 60",
        }
    )
    sup = SimpleNamespace(
        apps={0: SimpleNamespace(name="big", spec=spec)},
        home=SimpleNamespace(root=tmp_path),
        bus=EventBus(),
    )

    async def scenario() -> float:
        runner = HookRunner(sup)
        runner.start()
        loop = asyncio.get_running_loop()
        began = loop.time()
        sup.bus.publish("process", {"event": "exit", "pm_id": 0, "name": "big", "exit_code": 1})
        sup.bus.publish("memory", {"pm_id": 0, "reason": "rss above 10M"})
        while not record.exists() and loop.time() - began < 10:
            await asyncio.sleep(0.02)
        await runner.close(grace=0.2)  # kills the sleeping exit hook
        return loop.time() - began

    monkeypatch.setenv("PM_HOOK_TIMEOUT", "0.5")
    elapsed = asyncio.run(scenario())
    # the memory hook waited for the app's earlier exit hook to time out (per-app order)
    assert record.read_text() == "memory big rss above 10M\n"
    assert 0.4 < elapsed < 10


def test_stop_hook_runs_on_delete(pm: PM) -> None:
    record = pm.workdir / "deleted.txt"
    eco = _eco(
        pm,
        [
            {
                "name": "gone",
                "script": str(APPS / "ticker.py"),
                "interpreter": sys.executable,
                "hooks": {"stop": f'echo "$PM_EVENT $PM_APP_NAME" >> {record}'},
            }
        ],
    )
    pm.run("start", str(eco))
    pm.run("delete", "gone")
    assert wait_for(lambda: _lines(record), 15, message="stop hook after delete") == ["stop gone"]
