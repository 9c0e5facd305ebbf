"""Start order (priority, depends_on), reverse stop order, and restart groups."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers.home import APPS, PM, wait_for

from pm.daemon.core.groups import levels, start_order
from pm.errors import ConfigError


def spec(name: str, priority: int = 0, depends_on: tuple[str, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(name=name, priority=priority, depends_on=list(depends_on))


def names(items: list[SimpleNamespace]) -> list[str]:
    return [item.name for item in items]


def test_priority_then_dependencies() -> None:
    specs = [
        spec("web", depends_on=("db", "cache")),
        spec("db", priority=5),
        spec("cache"),
        spec("worker", priority=-1),
    ]
    assert names(start_order(specs)) == ["worker", "cache", "db", "web"]


def test_no_attributes_is_one_level() -> None:
    assert [names(level) for level in levels([spec("a"), spec("b")], lambda s: s)] == [["a", "b"]]


def test_cycle_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="a -> b -> a"):
        start_order([spec("a", depends_on=("b",)), spec("b", depends_on=("a",))])


def _marker_app(name: str, marks: Path, **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "script": str(APPS / "marker.py"),
        "interpreter": sys.executable,
        "env": {"MARKER_FILE": str(marks)},
        **extra,
    }


def _marks(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    return [tuple(line.split()[:2]) for line in path.read_text().splitlines()]  # type: ignore[misc]


def test_depends_on_start_order_and_reverse_stop(pm: PM) -> None:
    marks = pm.workdir / "marks.txt"
    eco = pm.workdir / "eco.json"
    eco.write_text(
        json.dumps(
            {
                "apps": [
                    _marker_app("web", marks, depends_on=["api"]),
                    _marker_app("api", marks, depends_on=["db"]),
                    _marker_app("db", marks),
                ]
            }
        )
    )
    pm.run("start", str(eco))
    assert [entry["name"] for entry in sorted(pm.jlist(), key=lambda e: e["pm_id"])] == [
        "db",
        "api",
        "web",
    ]
    wait_for(lambda: len(_marks(marks)) == 3, 15, message="three starts")
    pm.run("stop", "all")
    stops = wait_for(
        lambda: [n for n, e in _marks(marks) if e == "stop"] if len(_marks(marks)) == 6 else None,
        15,
        message="three stops",
    )
    assert stops == ["web", "api", "db"]
    marks.unlink()
    pm.run("restart", "all")  # known apps restart in start order too
    starts = wait_for(
        lambda: [n for n, e in _marks(marks) if e == "start"] if len(_marks(marks)) == 3 else None,
        15,
        message="three restarts",
    )
    assert starts == ["db", "api", "web"]


def test_restart_group_restarts_members_together(pm: PM) -> None:
    marks = pm.workdir / "marks.txt"
    eco = pm.workdir / "eco.json"
    eco.write_text(
        json.dumps(
            {
                "apps": [
                    _marker_app("g1", marks, namespace="grp", restart_group=True),
                    _marker_app("g2", marks, namespace="grp", restart_group=True),
                    _marker_app("solo", marks, namespace="grp"),
                    _marker_app("other", marks, namespace="elsewhere", restart_group=True),
                ]
            }
        )
    )
    pm.run("start", str(eco))
    before = {entry["name"]: entry["pid"] for entry in pm.jlist()}
    os.kill(before["g1"], signal.SIGKILL)

    def restarted() -> dict[str, dict] | None:
        now = {entry["name"]: entry for entry in pm.jlist()}
        done = all(
            now[n]["pid"] not in (0, before[n]) and now[n]["pm2_env"]["status"] == "online"
            for n in ("g1", "g2")
        )
        return now if done else None

    now = wait_for(restarted, 15, 0.05, "g1 and g2 back with new pids")
    assert now["g2"]["pm2_env"]["restart_time"] == 1
    assert now["solo"]["pid"] == before["solo"] and now["other"]["pid"] == before["other"]
    # a requested stop of a member is not a failure: the others keep running. A group
    # restart follows the exit event at once (no restart_delay here): 1 s is past it.
    pm.run("stop", "g1")
    time.sleep(1.0)
    after = {entry["name"]: entry for entry in pm.jlist()}
    assert after["g1"]["pm2_env"]["status"] == "stopped"
    assert {
        name: (after[name]["pid"], after[name]["pm2_env"]["restart_time"])
        for name in ("g2", "solo", "other")
    } == {
        name: (now[name]["pid"], now[name]["pm2_env"]["restart_time"])
        for name in ("g2", "solo", "other")
    }
    assert after["g2"]["pm2_env"]["status"] == "online"
