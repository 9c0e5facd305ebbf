"""Persistence under faults: a save killed mid-write, a truncated or corrupt dump or state file,
a full disk. Nothing good is overwritten, errors are clear, the daemon stays up.

Needs the persistence work (pm/daemon/persist/recovery.py, `pm save`, `pm resurrect`).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.home import PM, pid_alive, wait_for
from helpers.reliability import record, sleeper, soak, write_ecosystem

from pm.daemon.persist import recovery  # noqa: F401 (under test: a missing module must fail)

__all__ = ["soak"]


@pytest.fixture
def saved(pm: PM) -> PM:
    """Three apps running and saved twice (so dump and dump.bak are both good)."""
    pm.run("start", str(write_ecosystem(pm.workdir, [sleeper(f"p{i}") for i in range(3)])))
    pm.run("save")
    pm.run("save")
    return pm


def _names_in(path: Path) -> list[str]:
    """App names a dump lists; fails the test when it is not a readable dump."""
    data = json.loads(path.read_text())
    assert isinstance(data, list), f"{path} is not a list of apps"
    return sorted(str(entry.get("name") or entry.get("spec", {}).get("name")) for entry in data)


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr


def test_save_killed_mid_write_never_leaves_a_broken_dump(saved: PM, soak: bool) -> None:
    pm = saved
    expected = _names_in(pm.home / "dump")
    rounds = 60 if soak else 15
    rng = random.Random(10)
    for _ in range(rounds):
        daemon = pm.daemon_pid()
        assert daemon
        save = subprocess.Popen(
            [sys.executable, "-m", "pm", "save"],
            env=pm.env,
            cwd=pm.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # SIGKILL at a random moment: before, during or after the daemon writes the dump
        wait_for(lambda: rng.random() < 0.2, 1, 0.002)
        os.kill(daemon, signal.SIGKILL)
        save.wait(30)
        wait_for(lambda daemon=daemon: not pid_alive(daemon), 10, message="daemon gone")
        copies = [path for path in (pm.home / "dump", pm.home / "dump.bak") if path.exists()]
        assert copies, "the kill left neither dump nor dump.bak"
        for path in copies:  # whatever exists is a whole, good list: never half a file
            assert _names_in(path) == expected
        assert sorted(e["name"] for e in pm.jlist()) == expected  # the next command recovers
    record("persistence_saves_killed", rounds)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_dump_gives_a_clear_error_and_keeps_the_backup(saved: PM, damage: str) -> None:
    pm = saved
    backup = (pm.home / "dump.bak").read_bytes()
    good = (pm.home / "dump").read_bytes()
    damaged = {"truncated": good[: len(good) // 2], "garbage": os.urandom(300), "empty": b""}
    (pm.home / "dump").write_bytes(damaged[damage])
    pm.run("kill")
    result = pm.run("resurrect", check=False)
    _no_traceback(result)
    # pm's promise (dump.load, docs/reliability.md): an unusable dump is named with the reason,
    # and the apps come back from dump.bak
    assert result.returncode == 0, result.stdout + result.stderr
    dump, bak = pm.home / "dump", pm.home / "dump.bak"
    assert f"{dump}: not valid JSON" in result.stderr, result.stderr
    assert f"using the previous list {bak}" in result.stderr, result.stderr
    assert sorted(e["name"] for e in pm.jlist()) == ["p0", "p1", "p2"]
    assert bak.read_bytes() == backup, "the good backup was overwritten"
    assert pm.run("ping").returncode == 0


def test_saving_over_a_corrupt_dump_keeps_the_good_backup(saved: PM) -> None:
    pm = saved
    backup = (pm.home / "dump.bak").read_bytes()
    (pm.home / "dump").write_bytes(b'[{"pm_id": 0, "na')
    pm.run("save")
    assert _names_in(pm.home / "dump") == ["p0", "p1", "p2"]
    assert (pm.home / "dump.bak").read_bytes() == backup, "a corrupt dump replaced dump.bak"


@pytest.mark.parametrize("damage", [b"", b"{not json", b'{"apps": 5}', b"\x00\xff" * 50])
def test_corrupt_state_file_after_a_crash_does_not_stop_the_daemon(
    saved: PM, damage: bytes
) -> None:
    pm = saved
    daemon = pm.daemon_pid()
    assert daemon
    os.kill(daemon, signal.SIGKILL)
    wait_for(lambda: not pid_alive(daemon), 10, message="daemon gone")
    (pm.home / "state.json").write_bytes(damage)
    result = pm.run("jlist", check=False)
    _no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert pm.daemon_pid() not in (None, daemon)
    assert pm.run("ping").returncode == 0


NOISY = """
import sys, time
line = "x" * 1000 + "\\n"
while True:
    try:
        sys.stdout.write(line * 64)
        sys.stdout.flush()
    except OSError:
        time.sleep(0.01)
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("mount") is None, reason="needs root to mount a small tmpfs"
)
def test_disk_full_while_logging_and_saving(pm: PM) -> None:
    mount = pm.workdir / "full"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)], check=True
    )
    small = PM(mount / "h", pm.workdir)
    try:
        small.run("start", str(write_ecosystem(pm.workdir, [sleeper("keep")], "k.json")))
        small.run("save")
        good = (small.home / "dump").read_bytes()
        small.write_app("noisy.py", NOISY)
        small.run("start", str(pm.workdir / "noisy.py"), "--name", "noisy")
        # full: not one free block, so any new file (the dump's temp copy) gets ENOSPC
        wait_for(lambda: shutil.disk_usage(mount).free == 0, 30, 0.05, "the disk to be full")
        result = small.run("save", check=False)
        _no_traceback(result)
        # pm's promise: a save that cannot be written fails, says why, and leaves the dump whole
        assert result.returncode == 1, result.stdout + result.stderr
        assert "No space left on device" in result.stderr, result.stderr
        assert (small.home / "dump").read_bytes() == good, "a failed save damaged the dump"
        assert small.run("ping").returncode == 0
        assert small.status("keep") == "online"
        small.run("stop", "noisy")
        (small.home / "logs" / "noisy-out.log").unlink()  # free space: pm works again
        assert small.run("save").returncode == 0
        assert "noisy" in (small.home / "dump").read_text()
    finally:
        small.cleanup()
        subprocess.run(["umount", "-l", str(mount)], check=False)
