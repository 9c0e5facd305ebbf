"""state.json: a faithful round trip of the table, and coalesced writes under a change storm."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.home import APPS

from pm.config.spec import AppSpec
from pm.daemon.core.supervisor import Supervisor
from pm.daemon.persist import recovery, state
from pm.paths import Home
from pm.protocol import Status

TICKER = str(APPS / "ticker.py")


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pms", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _supervisor(root: Path, apps: int, instances: int) -> Supervisor:
    home = Home(root / "h")
    home.ensure()
    sup = Supervisor(home)
    for index in range(apps):
        spec = AppSpec(
            script=TICKER,
            name=f"app{index}",
            cwd="/tmp",
            instances=instances,
            env={"LEVEL": str(index)},
        )
        for app in sup.prepare(spec, {"PATH": os.environ["PATH"], "SHELL_VAR": "x"}):
            sup.apps[app.pm_id] = app
    return sup


def test_state_round_trips_every_field_recovery_needs(root: Path) -> None:
    sup = _supervisor(root, 3, 2)
    app = sup.apps[4]
    app.counters.restart_time = 7
    app.counters.unstable_restarts = 2
    app.status = Status.ERRORED
    app.exit_code = 3
    state.EXTRAS["test"] = (
        lambda a: {"fd": a.pm_id} if a.pm_id == 4 else None,
        lambda a, value: setattr(a, "exit_code", value["fd"] * 10),
    )
    try:
        state.write(sup.home, sup)
        data = state.read(sup.home)
        assert data is not None
        assert len(data["specs"]) == 3 and len(data["envs"]) == 1  # shared, not per app
        rebuilt = recovery.rebuild(data["apps"][4], data)
    finally:
        del state.EXTRAS["test"]
    assert (rebuilt.pm_id, rebuilt.name, rebuilt.instance) == (4, "app2", app.instance)
    assert rebuilt.spec == app.spec and rebuilt.command == app.command
    assert rebuilt.paths == app.paths and rebuilt.shell_env == app.shell_env
    assert rebuilt.counters == app.counters and rebuilt.unique_id == app.unique_id
    assert rebuilt.status == Status.ERRORED
    assert rebuilt.exit_code == 40  # restored by the extra hook, after the record's own value
    assert oct(os.stat(sup.home.state).st_mode & 0o777) == "0o600"


def test_unreadable_state_is_moved_aside_not_fatal(root: Path) -> None:
    sup = _supervisor(root, 0, 1)
    sup.home.state.write_text('{"format": 1, "apps": [')
    assert state.read(sup.home)["apps"] == []  # type: ignore[index]
    assert (sup.home.root / "state.json.unreadable").exists()
    assert not sup.home.state.exists()


def test_a_storm_of_changes_is_coalesced_into_few_writes(root: Path) -> None:
    sup = _supervisor(root, 100, 10)  # 1,000 apps

    async def storm() -> state.StateKeeper:
        keeper = state.StateKeeper(sup.home, sup, min_interval=0.1)
        keeper.start()
        loop = asyncio.get_running_loop()
        end = loop.time() + 1.0
        while loop.time() < end:
            for _ in range(200):
                keeper.notify()
            await asyncio.sleep(0.001)
        keeper.close(keep=True)
        return keeper

    keeper = asyncio.run(storm())
    assert 2 <= keeper.writes <= 12  # at most one write per 100 ms (or per 10x its cost)
    assert len(json.loads(sup.home.state.read_text())["apps"]) == 1000
