"""`kill_signal`: the signal that stops one app (stop, restart, reload, delete), over the
daemon's default (PM_KILL_SIGNAL, else SIGINT as PM2). The worker handles only SIGTERM, as many
PHP and queue workers do: it ignores SIGINT and is SIGKILLed at kill_timeout without it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers.home import APPS, PM, wait_for

WORKER = str(APPS / "sigterm_worker.py")


def start_worker(pm: PM, name: str, env: dict[str, str] | None = None, **extra: Any) -> Path:
    """Start the SIGTERM-only worker as `name`; the file its signals are written to."""
    signals = pm.workdir / f"{name}.signals"
    app = {"name": name, "script": WORKER, "env": {"SIGNALS_FILE": str(signals)}, **extra}
    (pm.workdir / f"{name}.json").write_text(json.dumps({"apps": [app]}))
    pm.run("start", str(pm.workdir / f"{name}.json"), env=env)
    working(pm, name)
    return signals


def working(pm: PM, name: str) -> None:
    out = Path(pm.app(name)["pm2_env"]["pm_out_log_path"])
    pid = pm.app(name)["pid"]
    wait_for(lambda: out.exists() and out.read_text().count("working") >= 1 and pid, 10)
    wait_for(lambda: _has_handlers(pid), 10, message="the worker's handlers")


def _has_handlers(pid: int) -> bool:
    """SIGTERM caught (SigCgt in /proc/<pid>/status): the worker is past its start-up."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (15 - 1)))
    return False


def names_of(signals: Path) -> list[str]:
    return (
        [line.split()[0] for line in signals.read_text().splitlines()] if signals.exists() else []
    )


def test_every_stop_path_sends_the_apps_kill_signal(pm: PM) -> None:
    signals = start_worker(pm, "queue", kill_signal="SIGTERM", kill_timeout=30_000)
    pm.run("stop", "queue")
    pm.run("start", "queue")
    for action in ("restart", "reload", "delete"):
        working(pm, "queue")
        pm.run(action, "queue")
    assert names_of(signals) == ["SIGTERM"] * 4  # stop, restart, reload, delete; no SIGINT
    log = (pm.home / "pm.log").read_text()
    assert log.count("App [queue:0] exited with code [0] via signal [null]") == 4


def test_without_it_the_worker_ignores_sigint_and_is_killed(pm: PM) -> None:
    """The contrast: pm's default SIGINT is ignored, so the stop ends in SIGKILL."""
    signals = start_worker(pm, "queue", kill_timeout=300)
    pm.run("stop", "queue")
    assert names_of(signals) == ["SIGINT"]
    assert (
        "App [queue:0] exited with code [null] via signal [SIGKILL]"
        in (pm.home / "pm.log").read_text()
    )


def test_a_number_is_a_signal_and_describe_shows_it(pm: PM) -> None:
    start_worker(pm, "queue", kill_signal=15)
    assert pm.app("queue")["pm2_env"]["kill_signal"] == "SIGTERM"
    assert "SIGTERM" in next(
        line for line in pm.run("describe", "queue").stdout.splitlines() if "kill signal" in line
    )


def test_pm_kill_signal_is_the_daemons_default_and_kill_signal_wins(pm: PM) -> None:
    env = dict(pm.env, PM_KILL_SIGNAL="SIGTERM")  # read by the daemon this command starts
    default = start_worker(pm, "plain", env=env)
    own = start_worker(pm, "own", env=env, kill_signal="SIGINT", kill_timeout=300)
    pm.run("stop", "all")
    assert names_of(default) == ["SIGTERM"] and names_of(own) == ["SIGINT"]
    describe = pm.run("describe", "plain").stdout
    assert "daemon default (PM_KILL_SIGNAL, else SIGINT)" in describe


def test_a_bad_signal_names_file_app_and_field_and_starts_nothing(pm: PM) -> None:
    path = pm.workdir / "bad.json"
    path.write_text(
        json.dumps({"apps": [{"name": "w", "script": WORKER, "kill_signal": "SIGFOO"}]})
    )
    result = pm.run("start", str(path), check=False)
    assert result.returncode == 1
    assert (
        f"{path}: app #0 (w): field 'kill_signal': expected a signal name or number "
        "(e.g. SIGTERM or 15), got 'SIGFOO'" in result.stderr
    )
    assert pm.jlist() == []
