"""save / resurrect / cleardump / PM2 import / `pm list` sync warning (PM2.md 3.6)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from helpers import FIXTURES
from helpers.home import APPS, PM, pid_alive, wait_for

TICKER = str(APPS / "ticker.py")
ENV_DUMP = str(APPS / "env_dump.py")
#: Keys pm sets per launch; everything else a child sees must survive save/resurrect.
RUNTIME_KEYS = {
    "pm_uptime",
    "created_at",
    "unique_id",
    "status",
    "restart_time",
    "unstable_restarts",
    "PWD",
    "OLDPWD",
}


def _summary(pm: PM) -> list[tuple[int, str, str]]:
    return [(e["pm_id"], e["name"], e["pm2_env"]["status"]) for e in pm.jlist()]


def _child_env(path: Path) -> dict[str, str]:
    data = wait_for(lambda: path.exists() and json.loads(path.read_text()), message=str(path))
    return {k: v for k, v in data.items() if k not in RUNTIME_KEYS}


def test_save_is_private_keeps_bak_and_refuses_an_empty_list(pm: PM) -> None:
    refused = pm.run("save")  # PM2: a warning and exit 0; nothing is written
    assert "skipping save" in refused.stderr and "pm save --force" in refused.stderr
    assert not (pm.home / "dump").exists()
    pm.run("start", TICKER, "--name", "api", "-s")
    assert "Successfully saved" in pm.run("save").stdout
    first = json.loads((pm.home / "dump").read_text())
    assert [e["spec"]["name"] for e in first] == ["api"]
    assert stat.S_IMODE(os.stat(pm.home / "dump").st_mode) == 0o600
    pm.run("start", TICKER, "--name", "web", "-s")
    pm.run("dump")  # PM2's alias
    assert json.loads((pm.home / "dump.bak").read_text()) == first
    assert [e["spec"]["name"] for e in json.loads((pm.home / "dump").read_text())] == ["api", "web"]
    pm.run("delete", "all", "-s")
    saved = (pm.home / "dump").read_bytes()
    assert "skipping save" in pm.run("save").stderr
    assert (pm.home / "dump").read_bytes() == saved  # the saved list survives an empty one
    pm.run("save", "--force")
    assert json.loads((pm.home / "dump").read_text()) == []
    pm.run("cleardump")
    assert json.loads((pm.home / "dump").read_text()) == []


def test_list_warns_when_running_list_differs_from_saved(pm: PM) -> None:
    pm.run("start", TICKER, "--name", "api", "-s")
    assert "not synchronized" not in pm.run("ls").stderr  # no dump yet: nothing to compare
    pm.run("save")
    assert "not synchronized" not in pm.run("ls").stderr
    pm.run("start", TICKER, "--name", "web", "-s")
    assert "not synchronized with saved list" in pm.run("ls").stderr


def test_resurrect_gives_back_the_saved_set(pm: PM) -> None:
    out = pm.workdir / "env.json"
    eco = pm.workdir / "eco.json"
    eco.write_text(
        json.dumps(
            {
                "apps": [
                    {"name": "web", "script": TICKER, "instances": 2},
                    {
                        "name": "envapp",
                        "script": ENV_DUMP,
                        "env": {"ENV_OUT": str(out), "LEVEL": "base"},
                        "env_production": {"LEVEL": "prod"},
                    },
                    {"name": "idle", "script": TICKER},
                ]
            }
        )
    )
    pm.run(
        "start",
        str(eco),
        "--env",
        "production",
        "-s",
        env=dict(pm.env, SHELL_SECRET="from-the-shell"),
    )
    pm.run("stop", "idle", "-s")
    before_env = _child_env(out)
    assert before_env["LEVEL"] == "prod" and before_env["SHELL_SECRET"] == "from-the-shell"
    before = _summary(pm)
    pm.run("save")
    pm.run("kill")  # a reboot: no daemon, no app, no socket
    assert not (pm.home / "rpc.sock").exists()
    out.unlink()
    result = pm.run("resurrect")  # from a shell without SHELL_SECRET
    assert "restored" in result.stdout
    assert (
        _summary(pm)
        == before
        == [
            (0, "web", "online"),
            (1, "web", "online"),
            (2, "envapp", "online"),
            (3, "idle", "stopped"),
        ]
    )
    assert _child_env(out) == before_env
    again = pm.run("resurrect")  # nothing twice
    assert "already known" in again.stdout
    assert _summary(pm) == before


def test_resurrect_falls_back_to_bak_when_dump_is_corrupt(pm: PM) -> None:
    pm.run("start", TICKER, "--name", "api", "-s")
    pm.run("save")
    pm.run("save")  # dump.bak now holds a good list too
    pm.run("kill")
    (pm.home / "dump").write_text('[{"format": 1, "spec": {"scr')
    result = pm.run("resurrect")
    assert "dump.bak" in result.stderr and "not valid JSON" in result.stderr
    assert _summary(pm) == [(0, "api", "online")]
    # as PM2, the broken dump is gone (PM2 deletes it; pm keeps it aside for a look)
    assert not (pm.home / "dump").exists()
    assert (pm.home / "dump.broken").read_text() == '[{"format": 1, "spec": {"scr'


def test_resurrect_without_any_dump_says_so(pm: PM) -> None:
    result = pm.run("resurrect")  # exit 0: a boot with nothing saved must still bring pm up
    assert "no processes saved" in result.stderr
    assert pm.jlist() == []


def test_resurrect_from_a_real_pm2_dump(pm: PM) -> None:
    (pm.workdir / "tick.py").write_text(
        "import os, time\nprint('args', os.sys.argv[1:], os.environ.get('GREETING'), flush=True)\n"
        "while True: time.sleep(1)\n"
    )
    (pm.workdir / "srv.js").write_text("setInterval(() => {}, 1000)\n")
    text = (FIXTURES / "pm2-7.0.4-dump.pm2").read_text().replace("/tmp/p2w", str(pm.workdir))
    source = pm.workdir / "dump.pm2"
    source.write_text(text)
    pm.run("resurrect", "--from", "dump.pm2")
    summary = _summary(pm)
    names = [(name, status) for _, name, status in summary]
    expected_web = "online" if shutil.which("node") else "errored"
    assert names == [
        ("pyapp", "online"),
        ("web", expected_web),
        ("web", expected_web),
        ("idle", "stopped"),
    ]
    pyapp = pm.app("pyapp")["pm2_env"]
    assert pyapp["args"] == ["--port", "9000"] and pyapp["max_restarts"] == 5
    assert pyapp["pm_out_log_path"] == str(pm.home / "logs" / "pyapp-out.log")
    assert pm.app("idle")["pm2_env"]["autorestart"] is False
    log = pm.home / "logs" / "pyapp-out.log"
    wait_for(
        lambda: log.exists() and "args ['--port', '9000'] hello" in log.read_text(),
        message="pyapp output with PM2's env and args",
    )
    assert "PM2_HOME" not in pm.run("env", "pyapp").stdout


def test_a_save_killed_mid_write_never_leaves_an_unreadable_dump(pm: PM) -> None:
    """Kill a process that saves big lists in a loop at random instants, many times."""
    pm.home.mkdir(parents=True)
    writer = (
        "import sys, itertools\n"
        "from pathlib import Path\nfrom pm.paths import Home\nfrom pm.daemon.persist import dump\n"
        "home = Home(Path(sys.argv[1]))\n"
        "for n in itertools.count():\n"
        "    dump.write_list(home, ('[' + ','.join(['{\"n\": %d, \"pad\": \"%s\"}' % (n, 'x' * 200)]"
        " * 4000) + ']').encode())\n"
        "    if n == 1: print('ready', flush=True)\n"  # from the 2nd save on, a .bak exists
    )
    rng = random.Random(5)
    for attempt in range(15):
        proc = subprocess.Popen(
            [sys.executable, "-c", writer, str(pm.home)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0, 0.05))  # the instant of death is the variable under test
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        data = json.loads((pm.home / "dump").read_text())
        assert isinstance(data, list) and len(data) == 4000, attempt
        assert isinstance(json.loads((pm.home / "dump.bak").read_text()), list)
    leftovers = [p.name for p in pm.home.iterdir() if ".tmp" in p.name]
    pm.run("start", TICKER, "--name", "api", "-s")
    pm.run("save")  # a later save sweeps temp files of killed writers
    assert len([p for p in pm.home.iterdir() if ".tmp" in p.name]) < max(1, len(leftovers))


def test_save_does_not_rotate_junk_into_bak(pm: PM) -> None:
    pm.run("start", TICKER, "--name", "api", "-s")
    pm.run("save")
    pm.run("save")
    good = (pm.home / "dump.bak").read_bytes()
    for corrupt in (b"", b"{}", b"[1, 2"):
        (pm.home / "dump").write_bytes(corrupt)
        pm.run("save")
        assert (pm.home / "dump.bak").read_bytes() == good, corrupt
    assert pid_alive(pm.app("api")["pid"])
