"""The Python API end to end against a real daemon in the test's PM_HOME."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from helpers.home import APPS, PM, wait_for

import pm as pm_package
from pm.errors import NotFound


@pytest.fixture
def conn(pm: PM) -> Iterator[pm_package.Connection]:
    yield pm_package.connect(pm.home)


def test_import_pm_is_light() -> None:
    code = "import sys, pm; print('pm.client.api' in sys.modules, 'pm.client.connection' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_start_list_describe_restart_stop_delete(pm: PM, conn: pm_package.Connection) -> None:
    started = conn.start(
        {
            "name": "tick",
            "script": str(APPS / "ticker.py"),
            "interpreter": sys.executable,
            "instances": 2,
        }
    )
    assert [(p.name, p.pm_id, p.status) for p in started] == [
        ("tick", 0, "online"),
        ("tick", 1, "online"),
    ]
    listed = conn.list()
    assert all(isinstance(p, pm_package.ProcessInfo) and p.pid > 0 for p in listed)
    assert [p.pm_id for p in listed] == [0, 1]
    assert listed[0].raw == pm.jlist()[0] | {"monit": listed[0].raw["monit"]}  # same jlist shape
    first_pid = conn.get(0).pid
    restarted = conn.restart(0)
    assert restarted[0].restart_time == 1 and restarted[0].pid != first_pid
    stopped = conn.stop("tick")
    assert {p.status for p in stopped} == {"stopped"} and {p.pid for p in stopped} == {0}
    assert pm.status(1) == "stopped"  # the CLI sees what the API did
    conn.delete("all")
    assert conn.list() == []
    with pytest.raises(NotFound, match="nope"):
        conn.describe("nope")


def test_start_from_file_logs_and_env(pm: PM, conn: pm_package.Connection) -> None:
    eco = pm.workdir / "eco.json"
    eco.write_text(
        json.dumps(
            {
                "apps": [
                    {
                        "name": "hello",
                        "script": "echo out-line; echo err-line >&2; sleep 30",
                        "env": {"GREETING": "hi"},
                    },
                    {"name": "skipped", "script": str(APPS / "ticker.py")},
                ]
            }
        )
    )
    started = conn.start(str(eco), only=["hello"])
    assert [p.name for p in started] == ["hello"]
    lines = wait_for(
        lambda: (got := conn.logs("hello")) and len(got) == 2 and got, 10, message="both log lines"
    )
    assert {(line.stream, line.text) for line in lines} == {
        ("out", "out-line"),
        ("err", "err-line"),
    }
    assert conn.env("hello")["GREETING"] == "hi"


def test_events_stream(pm: PM, conn: pm_package.Connection) -> None:
    seen: list[pm_package.Event] = []
    with conn.events(timeout=15) as events:
        conn.start(
            {
                "name": "once",
                "script": str(APPS / "crash.py"),
                "args": ["2"],
                "interpreter": sys.executable,
                "autorestart": False,
            }
        )
        for event in events:
            seen.append(event)
            if event.event == "stop":
                break
    kinds = [(e.event, e.name) for e in seen]
    assert ("online", "once") in kinds and ("stop", "once") in kinds
    exit_event = next(e for e in seen if e.event == "exit")
    assert exit_event.exit_code == 2 and exit_event.manually is False


@pytest.mark.parametrize("as_json", [True, False])
def test_pm_events_command(pm: PM, as_json: bool) -> None:
    pm.run("ping")
    out_path = pm.workdir / "events.out"
    with open(out_path, "w") as out:
        watcher = subprocess.Popen(
            [sys.executable, "-m", "pm", "events", *(["--json"] if as_json else [])],
            env=pm.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # the subscription is live once an event started after it shows up: retry until it does
        def started() -> bool:
            pm.run(
                "start",
                str(APPS / "crash.py"),
                "--name",
                "ev",
                "--no-autorestart",
                "-f",
                "-s",
                "--",
                "6",
            )
            return "ev" in out_path.read_text()

        wait_for(started, 20, 0.3, "events printed")
        text = wait_for(
            lambda: (t := out_path.read_text()) and "stop" in t and t, 15, message="the stop event"
        )
    finally:
        watcher.terminate()
        watcher.wait(10)
    lines = text.splitlines()
    if as_json:
        records = [json.loads(line) for line in lines]
        exits = [r for r in records if r["event"] == "exit"]
        assert exits[0]["exit_code"] == 6 and exits[0]["name"] == "ev"
        assert all(isinstance(r["at"], int) for r in records)
    else:
        assert any("[ev:" in line and "] exit" in line and "code=6" in line for line in lines), (
            lines
        )


def test_a_file_started_again_restarts_its_apps_with_the_files_settings(
    pm: PM, conn: pm_package.Connection
) -> None:
    """The API follows PM2's rule for files, as `pm start file` does: a running app of the file
    is restarted with the file's env instead of being refused as already running."""
    eco = pm.workdir / "eco.json"

    def write(greeting: str) -> None:
        eco.write_text(
            json.dumps(
                {
                    "apps": [
                        {
                            "name": "ticker",
                            "script": str(APPS / "ticker.py"),
                            "interpreter": sys.executable,
                            "env": {"GREETING": greeting},
                        }
                    ]
                }
            )
        )

    write("first")
    first = conn.start(str(eco))
    write("second")
    again = conn.start(str(eco))
    assert [(p.pm_id, p.restart_time) for p in again] == [(first[0].pm_id, 1)]
    assert again[0].pid != first[0].pid
    assert conn.env("ticker")["GREETING"] == "second"
    assert [p.pm_id for p in conn.list()] == [first[0].pm_id]
