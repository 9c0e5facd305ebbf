"""Start the ecosystem corpus under real PM2 and under pm, and compare what defines each app.

Used by tests/test_ecosystem_pm2.py (skipped without `pm2` on PATH) and runnable by hand:
`python tests/pm2_compare.py` prints every field compared and the totals.

Both managers start the same copy of tests/corpus from its own folder (PM2 resolves relative
paths against the shell's cwd, pm against the file's folder: from the file's folder they agree),
with tests/corpus/bin first on PATH (stand-in php/ruby interpreters that record their env).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import CORPUS
from helpers.home import wait_for

#: (file, extra CLI arguments). Each is started in turn into one daemon per manager.
#: Not here: esm.config.mjs (PM2 7.0.4 does not unwrap `export default`: "No script path").
CASES: list[tuple[str, list[str]]] = [
    ("basic.json", []),
    ("lenient.json", []),
    ("profiles.yaml", ["--env", "production"]),
    ("instances.json", []),
    ("polyglot.config.js", []),
    ("logs.yml", []),
    ("legacy.json", []),
]

#: pm2_env fields compared when PM2 reports them: (PM2's key, pm's key).
FIELDS: list[tuple[str, str]] = [
    ("namespace", "namespace"),
    ("pm_exec_path", "pm_exec_path"),
    ("pm_cwd", "pm_cwd"),
    ("args", "args"),
    ("exec_interpreter", "exec_interpreter"),
    ("node_args", "node_args"),
    ("instances", "instances"),
    ("exec_mode", "exec_mode"),
    ("pm_out_log_path", "pm_out_log_path"),
    ("pm_err_log_path", "pm_err_log_path"),
    ("pm_pid_path", "pm_pid_path"),
    ("autorestart", "autorestart"),
    ("max_restarts", "max_restarts"),
    ("min_uptime", "min_uptime"),
    ("restart_delay", "restart_delay"),
    ("kill_timeout", "kill_timeout"),
    ("exp_backoff_restart_delay", "exp_backoff_restart_delay"),
    ("stop_exit_codes", "stop_exit_codes"),
    ("max_memory_restart", "max_memory_restart"),
    ("cron_restart", "cron_restart"),
    ("treekill", "treekill"),
    ("wait_ready", "wait_ready"),
    ("listen_timeout", "listen_timeout"),
    ("log_type", "log_type"),
    ("log_date_format", "log_date_format"),
    ("instance_var", "instance_var"),
    ("increment_var", "increment_var"),
    ("port", "port"),
    ("status", "status"),
]

#: Differences kept on purpose (README "Differences from PM2"): with disable_logs PM2 still
#: reports its default log paths (and writes nothing); pm reports /dev/null, where output goes.
KNOWN_DIFFERENCES = (".pm_out_log_path", ".pm_err_log_path")
KNOWN_APPS = ("quiet[",)

#: Child-env keys that are plumbing (Node IPC, PM2 internals, pm's notify socket for
#: wait_ready and its handed-over sockets) or differ by home name.
ENV_SKIP = frozenset(
    {
        "PM2_HOME",
        "PM_HOME",
        "PM2_USAGE",
        "PM2_JSON_PROCESSING",
        "PM2_INTERACTOR_PROCESSING",
        "NODE_CHANNEL_FD",
        "NODE_CHANNEL_SERIALIZATION_MODE",
        "NODE_UNIQUE_ID",
        "NOTIFY_SOCKET",
        "LISTEN_FDS",
        "LISTEN_PID",
        "_",
        "OLDPWD",
        "PWD",
        "SHLVL",
    }
)


@dataclass
class Report:
    compared: int = 0
    matched: int = 0
    mismatches: list[str] = field(default_factory=list)

    def unexpected(self) -> list[str]:
        """Mismatches not explained by KNOWN_DIFFERENCES."""
        return [
            line
            for line in self.mismatches
            if not (line.startswith(KNOWN_APPS) and line.split(":")[0].endswith(KNOWN_DIFFERENCES))
        ]

    def check(self, where: str, pm2_value: Any, pm_value: Any) -> None:
        self.compared += 1
        if pm2_value == pm_value:
            self.matched += 1
        else:
            self.mismatches.append(f"{where}: pm2={pm2_value!r} pm={pm_value!r}")


@dataclass
class Run:
    """One manager's view after starting every case: jlist and the env each child recorded."""

    entries: list[dict[str, Any]]
    dumps: dict[int, dict[str, Any]]
    #: (name, restart_time, status) of every app after the first case was started again.
    after_restart: list[tuple[str, int, str]] = field(default_factory=list)


def run_manager(kind: str, corpus: Path, home: Path, dump_dir: Path) -> Run:
    """Start every case with `pm2` or `pm` in a fresh home; return jlist and recorded envs."""
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{corpus / 'bin'}:{env['PATH']}",
            "CORPUS_DUMP": str(dump_dir),
            "CORPUS_SECRET": "s3cret",
            "PM2_HOME": str(home),
            "PM_HOME": str(home),
        }
    )
    env.pop("PM2_KILL_SIGNAL", None)
    base = ["pm2"] if kind == "pm2" else [sys.executable, "-m", "pm"]

    def run(*args: str) -> str:
        result = subprocess.run(
            [*base, *args],
            cwd=corpus,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"{kind} {' '.join(args)} failed: {result.stderr}{result.stdout}")
        return result.stdout

    try:
        for name, extra in CASES:
            run("start", name, *extra)

        def ready() -> Run | None:
            entries = json.loads(run("jlist"))
            dumps = {}
            for entry in entries:
                path = dump_dir / f"{entry['name']}-{entry['pm_id']}.json"
                if not path.exists():
                    return None
                dumps[entry["pm_id"]] = json.loads(path.read_text())
            return Run(entries, dumps)

        result: Run = wait_for(ready, 60, 0.1, f"every app under {kind} to record its env")
        run("start", CASES[0][0], *CASES[0][1])  # again: a restart, never a duplicate
        result.after_restart = sorted(
            (e["name"], e["pm2_env"]["restart_time"], e["pm2_env"]["status"])
            for e in json.loads(run("jlist"))
        )
        return result
    finally:
        subprocess.run(
            [*base, "kill"], cwd=corpus, env=env, capture_output=True, timeout=120, check=False
        )


def _normal(value: Any, corpus: Path, home: Path, pm_id: int) -> Any:
    """Paths made comparable: the corpus copy, the home, and the pm_id in file names."""
    if isinstance(value, list):
        return [_normal(item, corpus, home, pm_id) for item in value]
    if not isinstance(value, str):
        return value
    value = value.replace(str(home), "<HOME>").replace(str(corpus), "<CORPUS>")
    value = value.replace(str(corpus.parent / (corpus.name[:-2] + "-d")), "<DUMP>")
    return re.sub(rf"-{pm_id}(\.[a-z]+)$", r"-<ID>\1", value)


def _by_name_rank(run: Run) -> dict[tuple[str, int], dict[str, Any]]:
    ranked: dict[tuple[str, int], dict[str, Any]] = {}
    for entry in sorted(run.entries, key=lambda e: e["pm_id"]):
        rank = sum(1 for key in ranked if key[0] == entry["name"])
        ranked[(entry["name"], rank)] = entry
    return ranked


def compare(pm2: Run, pm: Run, roots: dict[str, tuple[Path, Path]], shell_keys: set[str]) -> Report:
    report = Report()
    pm2_apps, pm_apps = _by_name_rank(pm2), _by_name_rank(pm)
    report.check("apps (name, instance)", sorted(pm2_apps), sorted(pm_apps))
    report.check("apps after starting a file again", pm2.after_restart, pm.after_restart)
    for key in sorted(set(pm2_apps) & set(pm_apps)):
        a, b = pm2_apps[key], pm_apps[key]
        where = f"{key[0]}[{key[1]}]"

        def norm_a(value: Any, pm_id: int = a["pm_id"]) -> Any:
            return _normal(value, *roots["pm2"], pm_id)

        def norm_b(value: Any, pm_id: int = b["pm_id"]) -> Any:
            return _normal(value, *roots["pm"], pm_id)

        for pm2_key, pm_key in FIELDS:
            if pm2_key in a["pm2_env"]:
                report.check(
                    f"{where}.{pm2_key}",
                    norm_a(a["pm2_env"][pm2_key]),
                    norm_b(b["pm2_env"].get(pm_key)),
                )
        dump_a, dump_b = pm2.dumps[a["pm_id"]], pm.dumps[b["pm_id"]]
        report.check(f"{where} child argv", norm_a(dump_a["argv"]), norm_b(dump_b["argv"]))
        report.check(f"{where} child cwd", norm_a(dump_a["cwd"]), norm_b(dump_b["cwd"]))
        env_a, env_b = dump_a["env"], dump_b["env"]
        keys = {
            k
            for k in set(env_a) | set(env_b)
            if (k not in shell_keys or k in ("PATH", "CORPUS_SECRET"))
            and k not in ENV_SKIP
            and (k.isupper() or k in ("name", "namespace"))
        }
        for env_key in sorted(keys):
            report.check(
                f"{where} env {env_key}", norm_a(env_a.get(env_key)), norm_b(env_b.get(env_key))
            )
    return report


def compare_corpus() -> Report:
    """Run the whole corpus under both managers in temporary folders and compare."""
    root = Path(tempfile.mkdtemp(prefix="eco", dir="/tmp"))
    try:
        runs: dict[str, Run] = {}
        roots: dict[str, tuple[Path, Path]] = {}
        for kind in ("pm2", "pm"):
            corpus, home, dumps = root / f"{kind}-c", root / f"{kind}-h", root / f"{kind}-d"
            shutil.copytree(CORPUS, corpus, ignore=shutil.ignore_patterns("broken"))
            dumps.mkdir()
            roots[kind] = (corpus, home)
            runs[kind] = run_manager(kind, corpus, home, dumps)
        shell_keys = set(os.environ) | {"PATH"}
        return compare(runs["pm2"], runs["pm"], roots, shell_keys)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    result = compare_corpus()
    for line in result.mismatches:
        print("MISMATCH", line)
    print(f"fields compared: {result.compared}, matched: {result.matched}")
