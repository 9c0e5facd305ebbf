"""watch: what counts as a change, debounce of bursts, and restarts driven by real file events."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from helpers.home import APPS, wait_for

from pm.daemon.automation.watch import MAX_WAIT_S, SETTLE_S, Debounce, config_for, watch_roots

#: How long a change that did restart the app would have taken: the quiet time, and a margin.
RESTART_WINDOW = SETTLE_S + 0.75


def _config(tmp_path: Path, ignore: list[str] | None = None, own: tuple[str, ...] = ()):
    return config_for(True, ignore or [], str(tmp_path), own, [str(tmp_path / "home")])


def test_roots(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    assert watch_roots(True, str(tmp_path)) == (str(tmp_path.resolve()),)
    assert watch_roots("src", str(tmp_path)) == (str((tmp_path / "src").resolve()),)
    assert watch_roots(["src", "/etc"], str(tmp_path)) == (
        str((tmp_path / "src").resolve()),
        "/etc",
    )
    assert watch_roots(False, str(tmp_path)) == ()


def test_default_ignores(tmp_path: Path) -> None:
    config = _config(tmp_path)
    root = tmp_path.resolve()
    for path in (
        ".git/index",
        ".env",
        "src/.hidden.swp",
        "node_modules/x/index.js",
        "pkg/__pycache__/m.cpython-312.pyc",
        "a.pyc",
        ".venv/lib/x.py",
        "venv/bin/python",
        "notes.txt~",
        "home/pm.log",
        "home/logs/app-out.log",
    ):
        assert config.ignored(str(root / path)), path
    for path in ("app.py", "src/module.py", "config/settings.json", "envs/prod.env"):
        assert not config.ignored(str(root / path)), path


def test_virtualenv_under_any_name_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "myenv").mkdir()
    (tmp_path / "myenv" / "pyvenv.cfg").write_text("home = /usr\n")
    config = _config(tmp_path)
    assert config.ignored(str(tmp_path.resolve() / "myenv" / "lib" / "site.py"))
    assert not config.ignored(str(tmp_path.resolve() / "app.py"))


def test_user_globs_and_own_files(tmp_path: Path) -> None:
    own = str(tmp_path / "out.log")
    config = _config(tmp_path, ["./logs", "*.tmp", "data/*.db", str(tmp_path / "cache")], (own,))
    root = tmp_path.resolve()
    assert config.ignored(str(root / "logs" / "a.txt"))
    assert config.ignored(str(root / "deep" / "x.tmp"))
    assert config.ignored(str(root / "data" / "app.db"))
    assert config.ignored(str(root / "cache" / "blob"))
    assert config.ignored(own)
    assert not config.ignored(str(root / "data" / "schema.sql"))
    assert not config.ignored(str(root / "other.log"))


def test_debounce_collapses_a_burst() -> None:
    settle = 0.1

    async def until(condition: Callable[[], bool], message: str) -> None:
        deadline = time.monotonic() + 5
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {message}"
            await asyncio.sleep(0.005)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        fired: list[str] = []
        debounce = Debounce(loop, settle, fired.append)
        for index in range(20):  # changes 5 ms apart: never quiet for `settle`
            debounce.change(f"f{index}")
            await asyncio.sleep(0.005)
        assert fired == []  # not during the burst
        await until(lambda: bool(fired), "the burst's call")
        await asyncio.sleep(settle + 0.1)  # one call per burst: no second one after it
        assert fired == ["f0"]  # the first path of the burst names it
        debounce.change("later")
        await until(lambda: len(fired) > 1, "the next change's call")
        await asyncio.sleep(settle + 0.1)
        assert fired == ["f0", "later"]

    asyncio.run(scenario())


def _restarts(pm, name: str) -> int:
    return int(pm.app(name)["pm2_env"]["restart_time"])


def _watched_app(pm, name: str) -> Path:
    """A ticker in its own folder, writing its logs and pid file *inside* the watched tree."""
    folder = pm.workdir / f"{name}-dir"
    folder.mkdir()
    script = folder / "app.py"
    script.write_text((APPS / "ticker.py").read_text().replace("0.2)", "0.02)"))
    config = {
        "apps": [
            {
                "name": name,
                "script": "app.py",
                "cwd": str(folder),
                "watch": True,
                "out_file": "out.log",
                "error_file": "err.log",
                "pid_file": "app.pid",
                "log_file": "combined.log",
            }
        ]
    }
    (folder / "eco.json").write_text(json.dumps(config))
    pm.run("start", str(folder / "eco.json"), cwd=folder)
    pm.wait_status(name, "online")
    return folder


def test_own_logs_never_trigger_and_a_burst_restarts_once(pm) -> None:
    folder = _watched_app(pm, "w")
    online = time.monotonic()
    entry = pm.app("w")
    assert entry["pm2_env"]["watching"] is True
    assert "enabled" in pm.run("list").stdout
    wait_for(lambda: b"tick 1\n" in (folder / "out.log").read_bytes(), message="log writes")
    # 50 log lines a second into the watched tree, never quiet for SETTLE_S: were they
    # changes, the watch would restart the app MAX_WAIT_S after the first one.
    time.sleep(max(0.0, online + MAX_WAIT_S + 1.0 - time.monotonic()))
    assert _restarts(pm, "w") == 0
    for index in range(15):  # one save burst: several files, rewritten
        (folder / f"mod{index % 5}.py").write_text(f"x = {index}\n")
    wait_for(lambda: _restarts(pm, "w") == 1, timeout=10, message="one restart")
    time.sleep(RESTART_WINDOW)  # a second restart for the same burst would be in by now
    assert _restarts(pm, "w") == 1
    log = (pm.home / "pm.log").read_text()
    assert re.search(
        rf"Change detected on path {re.escape(str(folder.resolve()))}/mod\d\.py "
        r"for app w - restarting",
        log,
    ), log
    assert log.count("Change detected") == 1


def test_watch_delay_and_restart_toggle(pm) -> None:
    folder = _watched_app(pm, "t")
    pm.run("restart", "t", "--watch")  # toggles watching off
    assert pm.app("t")["pm2_env"]["watching"] is False
    before = _restarts(pm, "t")
    (folder / "change.py").write_text("y = 1\n")
    time.sleep(RESTART_WINDOW)
    assert _restarts(pm, "t") == before
    pm.run("restart", "t", "--watch")  # and on again
    assert pm.app("t")["pm2_env"]["watching"] is True
    before = _restarts(pm, "t")
    wait_for(
        lambda: "Start watching t" in (pm.home / "pm.log").read_text().split("Stop watching t")[-1],
        message="watch re-armed",
    )
    (folder / "change.py").write_text("y = 2\n")
    wait_for(lambda: _restarts(pm, "t") == before + 1, timeout=10, message="restart on change")


def test_stopped_app_is_not_restarted_and_stop_watch_turns_it_off(pm) -> None:
    folder = _watched_app(pm, "s")
    pm.run("stop", "s")  # PM2 7: any stop ends the watching too
    assert pm.app("s")["pm2_env"]["watching"] is False
    (folder / "change.py").write_text("z = 1\n")
    time.sleep(RESTART_WINDOW)
    entry = pm.app("s")
    assert (entry["pm2_env"]["status"], entry["pm2_env"]["restart_time"]) == ("stopped", 0)
    pm.run("start", "s")
    pm.wait_status("s", "online")
    pm.run("restart", "s", "--watch")  # watching on again, so the stop below has one to end
    assert pm.app("s")["pm2_env"]["watching"] is True
    pm.run("stop", "s", "--watch")  # PM2 7: stops the app and its watching
    entry = pm.app("s")
    assert entry["pm2_env"]["status"] == "stopped" and entry["pm2_env"]["watching"] is False
    assert "disabled" in pm.run("list").stdout
    assert os.path.exists(folder / "out.log")


def test_watch_delay_flag_takes_seconds_or_ms_and_holds_the_restart(pm) -> None:
    folder = pm.workdir / "d-dir"
    folder.mkdir()
    (folder / "app.py").write_text((APPS / "ticker.py").read_text())
    bad = pm.run(
        "start",
        "app.py",
        "--name",
        "bad",
        "--watch",
        "--watch-delay",
        "soon",
        cwd=folder,
        check=False,
    )
    assert bad.returncode == 2 and "--watch-delay" in bad.stderr and "'soon'" in bad.stderr
    pm.run("start", "app.py", "--name", "ms", "--watch-delay", "250ms", cwd=folder)
    pm.run("start", "app.py", "--name", "d", "--watch", "--watch-delay", "2.5", cwd=folder)
    delays = {e["name"]: e["pm2_env"]["watch_delay"] for e in pm.jlist()}
    assert delays == {"ms": 250, "d": 2500}  # "bad" was never registered
    pm.wait_status("d", "online")
    wait_for(lambda: "Start watching d" in (pm.home / "pm.log").read_text(), message="watching")
    changed = time.monotonic()
    (folder / "change.py").write_text("y = 1\n")
    wait_for(lambda: _restarts(pm, "d") == 1, timeout=15, message="restart after the delay")
    assert time.monotonic() - changed >= 2.5  # the tree had to stay quiet for watch_delay
