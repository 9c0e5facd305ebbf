"""pm and real PM2 side by side: the same command sequences under both, compared on what a
script sees (exit codes, the process list, files on disk). Grow it with every difference found.

Each scenario runs in a fresh home for each manager (PM2_HOME / PM_HOME) and a copy of the same
small apps; both daemons are ended with their own `kill` command. Under CI (which installs PM2
7.0.4) a missing pm2 fails; elsewhere it skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers.home import wait_for

pytestmark = [pytest.mark.needs("node", "pm2"), pytest.mark.slow]

TICKER = "setInterval(() => {}, 1000);\n"


@dataclass
class Manager:
    """One process manager in its own home, run the way a user's script runs it."""

    name: str
    argv: list[str]
    home_variable: str
    workdir: Path
    home: Path = field(init=False)
    #: Variables for the daemon the first command starts (e.g. its kill signal).
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix=f"{self.name}d", dir="/tmp"))

    @property
    def env(self) -> dict[str, str]:
        env = {
            key: value for key, value in os.environ.items() if not key.startswith(("PM2_", "PM_"))
        }
        return dict(env, **self.extra_env, **{self.home_variable: str(self.home)})

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.argv, *args],
            cwd=self.workdir,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def jlist(self) -> list[dict[str, Any]]:
        out = self.run("jlist").stdout
        return list(json.loads(out[out.index("[") :]))

    def close(self) -> None:
        self.run("kill")
        shutil.rmtree(self.home, ignore_errors=True)


def essentials(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What a script reads from jlist, in id order: id, name, status, restarts, unstable."""
    return [
        (e["pm_id"], e["name"], e["pm2_env"]["status"], e["pm2_env"]["restart_time"])
        for e in sorted(entries, key=lambda e: e["pm_id"])
    ]


@pytest.fixture
def managers(tmp_path: Path) -> Iterator[dict[str, Manager]]:
    found = {}
    for name, argv, variable in (
        ("pm2", ["pm2"], "PM2_HOME"),
        ("pm", [sys.executable, "-m", "pm"], "PM_HOME"),
    ):
        workdir = tmp_path / name
        workdir.mkdir()
        (workdir / "echo.js").write_text(TICKER)
        (workdir / "other.js").write_text(TICKER)
        found[name] = Manager(name, argv, variable, workdir)
    try:
        yield found
    finally:
        for manager in found.values():
            manager.close()


def run_both(
    managers: dict[str, Manager], steps: list[list[str]], stdin: dict[int, str] | None = None
) -> dict[str, list[int]]:
    """Each step's exit code under each manager, waiting for every app to settle in between;
    stdin maps a step's index to what it reads on standard input."""
    codes: dict[str, list[int]] = {}
    for name, manager in managers.items():
        codes[name] = []
        for index, step in enumerate(steps):
            codes[name].append(manager.run(*step, stdin=(stdin or {}).get(index)).returncode)
            wait_for(
                lambda m=manager: all(e["pm2_env"]["status"] != "launching" for e in m.jlist()),
                15,
                message=f"{name} settles",
            )
    return codes


def test_exit_codes_with_nothing_to_act_on(managers: dict[str, Manager]) -> None:
    steps = [
        ["restart", "all"],
        ["stop", "all"],
        ["delete", "all"],
        ["reset", "all"],
        ["restart", "nope"],
        ["stop", "12"],
        ["delete", "toto"],
    ]
    codes = run_both(managers, steps)
    assert codes["pm"] == codes["pm2"], dict(
        zip(map(" ".join, steps), zip(codes["pm"], codes["pm2"]))
    )


def test_one_unknown_target_among_known_ones(managers: dict[str, Manager]) -> None:
    """PM2 acts on the known targets, then reports the unknown one and exits non-zero."""
    steps = [["start", "echo.js"], ["start", "other.js"], ["restart", "echo", "nope", "other"]]
    codes = run_both(managers, steps)
    assert codes["pm"] == codes["pm2"]
    assert essentials(managers["pm"].jlist()) == essentials(managers["pm2"].jlist())


def test_a_script_path_names_its_app(managers: dict[str, Manager]) -> None:
    """`pm restart echo.js` from the script's folder, as PM2's fork.sh and cli-actions-2.sh do."""
    steps = [
        ["start", "echo.js"],
        ["restart", "echo.js"],
        ["stop", "echo.js"],
        ["restart", "./echo.js"],
        ["delete", "missing.js"],
    ]
    codes = run_both(managers, steps)
    assert codes["pm"] == codes["pm2"] == [0, 0, 0, 0, 1]
    assert essentials(managers["pm"].jlist()) == essentials(managers["pm2"].jlist())


def test_an_ecosystem_piped_on_stdin(managers: dict[str, Manager]) -> None:
    """`cat eco.json | pm start -` and `... | pm delete -`, as PM2's piped-config.sh."""
    ecosystem = json.dumps(
        {
            "apps": [
                {"name": "a", "script": "echo.js"},
                {"name": "b", "script": "other.js", "instances": 2},
            ]
        }
    )
    steps = [["start", "-"], ["jlist"], ["delete", "-"]]
    codes = run_both(managers, steps, stdin={0: ecosystem, 2: ecosystem})
    assert codes["pm"] == codes["pm2"] == [0, 0, 0]
    assert managers["pm"].jlist() == managers["pm2"].jlist() == []
    started = run_both(managers, [["start", "-"]], stdin={0: ecosystem})
    assert started["pm"] == started["pm2"] == [0]
    assert essentials(managers["pm"].jlist()) == essentials(managers["pm2"].jlist())


def test_watch_follows_stop_start_and_restart_as_in_pm2(managers: dict[str, Manager]) -> None:
    """PM2's watch.sh: stop turns watching off, start --watch on a stopped app turns it on,
    restart --watch toggles it."""
    steps = [
        ["start", "echo.js", "--watch"],
        ["stop", "echo"],
        ["start", "echo"],
        ["stop", "echo.js"],
        ["start", "echo.js", "--watch"],
        ["restart", "echo", "--watch"],
    ]
    watched: dict[str, list[bool]] = {}
    for name, manager in managers.items():
        watched[name] = []
        for step in steps:
            assert manager.run(*step).returncode == 0, (name, step)
            watched[name].append(bool(manager.jlist()[0]["pm2_env"]["watch"]))
    assert watched["pm"] == watched["pm2"] == [True, False, False, False, True, False]


def test_only_picks_apps_of_a_file_for_every_action(managers: dict[str, Manager]) -> None:
    """PM2's json-file.sh: start, restart, stop and delete a file with --only."""
    ecosystem = json.dumps(
        {
            "apps": [
                {"name": "one", "script": "echo.js"},
                {"name": "two", "script": "other.js", "instances": 2},
            ]
        }
    )
    for manager in managers.values():
        (manager.workdir / "all.json").write_text(ecosystem)
    steps = [
        ["start", "all.json", "--only", "two"],
        ["start", "all.json", "--only", "one"],
        ["restart", "all.json", "--only", "two"],
        ["stop", "all.json", "--only", "one"],
        ["delete", "all.json", "--only", "one"],
    ]
    codes = run_both(managers, steps)
    assert codes["pm"] == codes["pm2"] == [0, 0, 0, 0, 0]
    assert essentials(managers["pm"].jlist()) == essentials(managers["pm2"].jlist())


def test_an_empty_name_falls_back_to_the_script_name(managers: dict[str, Manager]) -> None:
    codes = run_both(managers, [["start", "echo.js", "--name", ""]])
    assert codes["pm"] == codes["pm2"] == [0]
    assert essentials(managers["pm"].jlist()) == essentials(managers["pm2"].jlist())


def test_exit_codes_of_reading_commands_and_save_with_nothing(managers: dict[str, Manager]) -> None:
    """describe/pid of unknown apps and save of an empty list exit as PM2's do (pm differs on
    purpose for flush and logs of an unknown app: docs/pm2-differences.md)."""
    steps = [
        ["describe", "nope"],
        ["describe", "all"],
        ["pid", "nope"],
        ["id", "nope"],
        ["env", "9"],
        ["save"],
        ["jlist"],
        ["ping"],
        ["reset", "all"],
    ]
    codes = run_both(managers, steps)
    assert codes["pm"] == codes["pm2"], dict(
        zip(map(" ".join, steps), zip(codes["pm"], codes["pm2"]))
    )
    assert managers["pm"].run("pid", "nope").stdout == managers["pm2"].run("pid", "nope").stdout


def test_a_missing_script_or_a_misspelt_key_is_an_error_alone(
    managers: dict[str, Manager],
) -> None:
    """No "Starting ..." before the error (PM2: `Script not found: <path>`), exit 1, nothing
    started; for `scrpt`, PM2 says "No script path - aborting", pm names the key it did not
    know."""
    for manager in managers.values():
        (manager.workdir / "typo.json").write_text('{"apps": [{"name": "a", "scrpt": "echo.js"}]}')
        for target in ("nosuchfile.js", "typo.json"):
            result = manager.run("start", target)
            assert result.returncode == 1, (manager.name, target, result)
            assert "Starting" not in result.stdout, (manager.name, target, result.stdout)
        assert "not found" in manager.run("start", "nosuchfile.js").stderr.lower()
        assert manager.jlist() == []
    pm_error = managers["pm"].run("start", "typo.json").stderr
    assert "unknown attribute 'scrpt' (did you mean 'script'?)" in pm_error


def test_x_and_the_version_of_the_nearest_package_json(managers: dict[str, Manager]) -> None:
    """-x keeps a Node script given instances in fork mode; the version is the nearest
    package.json's, next to the script or in a parent folder of it."""
    for manager in managers.values():
        (manager.workdir / "package.json").write_text('{"name": "shop", "version": "1.4.2"}')
        (manager.workdir / "lib" / "sub").mkdir(parents=True)
        (manager.workdir / "lib" / "package.json").write_text('{"version": "0.9.1"}')
        (manager.workdir / "lib" / "deep.js").write_text(TICKER)
        (manager.workdir / "lib" / "sub" / "deeper.js").write_text(TICKER)
    steps = [
        ["start", "echo.js", "-i", "2", "-x"],
        ["start", "lib/deep.js"],
        ["start", "lib/sub/deeper.js"],
    ]
    codes = run_both(managers, steps)
    assert codes["pm"] == codes["pm2"] == [0, 0, 0]
    seen = {
        name: [
            (e["name"], e["pm2_env"]["exec_mode"], e["pm2_env"]["version"])
            for e in sorted(m.jlist(), key=lambda e: e["pm_id"])
        ]
        for name, m in managers.items()
    }
    assert (
        seen["pm"]
        == seen["pm2"]
        == [
            ("echo", "fork_mode", "1.4.2"),
            ("echo", "fork_mode", "1.4.2"),
            ("deep", "fork_mode", "0.9.1"),
            ("deeper", "fork_mode", "0.9.1"),
        ]
    )


def test_logs_timestamp_leaves_past_lines_unstamped(managers: dict[str, Manager]) -> None:
    """Lines read back from the log files get no date under --timestamp, in both."""
    dated = re.compile(r"\d{4}-\d\d-\d\d")
    for manager in managers.values():
        (manager.workdir / "hello.js").write_text('console.log("hello there");\n')
        assert manager.run("start", "hello.js", "--no-autorestart").returncode == 0
        out = Path(manager.jlist()[0]["pm2_env"]["pm_out_log_path"])
        wait_for(lambda out=out: out.exists() and "hello there" in out.read_text(), 15)
        logs = manager.run("logs", "hello", "--nostream", "--out", "--timestamp").stdout
        (line,) = [line for line in logs.splitlines() if "hello there" in line]
        assert not dated.search(line), (manager.name, line)


def test_the_daemons_kill_signal_variable(managers: dict[str, Manager]) -> None:
    """PM2_KILL_SIGNAL for PM2, PM_KILL_SIGNAL for pm: the signal every app is stopped with."""
    worker = (
        "const fs = require('fs');\n"
        "for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => {\n"
        "  fs.appendFileSync('got', s + '\\n'); process.exit(0); });\n"
        "console.log('ready'); setInterval(() => {}, 1000);\n"
    )
    got = {}
    for manager in managers.values():
        variable = {"pm2": "PM2_KILL_SIGNAL", "pm": "PM_KILL_SIGNAL"}[manager.name]
        manager.extra_env = {variable: "SIGTERM"}
        (manager.workdir / "worker.js").write_text(worker)
        assert manager.run("start", "worker.js").returncode == 0
        out = Path(manager.jlist()[0]["pm2_env"]["pm_out_log_path"])
        wait_for(lambda out=out: out.exists() and "ready" in out.read_text(), 15)
        assert manager.run("stop", "worker").returncode == 0
        got[manager.name] = (manager.workdir / "got").read_text()
    assert got["pm"] == got["pm2"] == "SIGTERM\n"
