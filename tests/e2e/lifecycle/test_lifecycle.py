"""End to end: a real daemon, real children, the real CLI. PM2.md section 3."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import psutil
from helpers.home import APPS, PM, pid_alive, wait_for

TICKER = str(APPS / "ticker.py")


def test_start_list_and_jlist_shape(pm: PM) -> None:
    result = pm.run("start", TICKER, "--name", "api")
    assert "api" in result.stdout and "online" in result.stdout
    entry = pm.wait_status("api", "online")
    assert set(entry) == {"pid", "name", "pm2_env", "pm_id", "monit"}
    env = entry["pm2_env"]
    for key in (
        "status",
        "pm_uptime",
        "created_at",
        "restart_time",
        "unstable_restarts",
        "exec_mode",
        "exec_interpreter",
        "pm_exec_path",
        "pm_cwd",
        "pm_out_log_path",
        "pm_err_log_path",
        "pm_pid_path",
        "NODE_APP_INSTANCE",
        "unique_id",
        "username",
        "namespace",
        "env",
        "autorestart",
        "instances",
        "node_args",
    ):
        assert key in env, key
    assert env["exec_mode"] == "fork_mode"
    assert env["pm_exec_path"] == TICKER
    assert env["pm_out_log_path"] == str(pm.home / "logs" / "api-out.log")
    assert env["pm_pid_path"] == str(pm.home / "pids" / "api-0.pid")
    assert entry["pid"] > 0 and pid_alive(entry["pid"])
    assert (pm.home / "pids" / "api-0.pid").read_text() == str(entry["pid"])
    wait_for(lambda: "tick" in (pm.home / "logs" / "api-out.log").read_text(), message="output")
    listing = pm.run("ls").stdout
    assert "│ id │ name" in listing and "api" in listing


def test_killed_app_is_back_fast_with_restart_counted(pm: PM) -> None:
    pm.run("start", TICKER, "--name", "api")
    first = pm.wait_status("api", "online")["pid"]
    killed_at = time.time()
    os.kill(first, signal.SIGKILL)

    def respawned() -> dict | None:
        entry = pm.app("api")
        return entry if entry["pid"] not in (0, first) else None

    entry = wait_for(respawned, timeout=5, message="respawn")
    # the daemon's delay, from the new process's own start time: not the test's polling, whose
    # `pm jlist` subprocesses take most of a second on a loaded machine
    assert psutil.Process(entry["pid"]).create_time() - killed_at < 1.0
    assert entry["pm2_env"]["restart_time"] == 1
    assert entry["pm2_env"]["status"] == "online"
    # The relaunch happens before the exit's bookkeeping, yet the record reads in order and
    # the pid file names the new process, not the dead one (nor none).
    assert (pm.home / "pids" / "api-0.pid").read_text() == str(entry["pid"])
    log = (pm.home / "pm.log").read_text()
    exited = log.index("App [api:0] exited with code [null] via signal [SIGKILL]")
    assert log.index("App [api:0] starting", exited) < log.index("App [api:0] online", exited)


def test_crash_loop_ends_errored_after_pm2s_count(pm: PM) -> None:
    pm.run("start", sys.executable, "--name", "crash", "--", "-c", "raise SystemExit(2)")
    entry = pm.wait_status("crash", "errored", timeout=20)
    assert entry["pm2_env"]["restart_time"] == 15
    assert entry["pid"] == 0
    log = (pm.home / "pm.log").read_text()
    assert "too many unstable restarts (16)" in log


def test_stop_kills_the_whole_tree_including_grandchildren(pm: PM) -> None:
    script = pm.write_app(
        "forker.sh",
        """#!/bin/bash
trap '' INT TERM
( trap '' INT TERM; exec sleep 300 ) &
( setsid bash -c "trap '' INT TERM; exec sleep 301" ) &
echo started
while true; do sleep 0.1; done
""",
    )
    pm.run("start", str(script), "--name", "forker", "--kill-timeout", "300")
    root = pm.wait_status("forker", "online")["pid"]
    import psutil

    tree = wait_for(
        lambda: [
            p.pid
            for p in psutil.Process(root).children(recursive=True)
            if "sleep" in " ".join(p.cmdline()) and "30" in " ".join(p.cmdline())
        ],
        message="grandchildren",
    )
    wait_for(
        lambda: (
            len(
                [
                    p
                    for p in psutil.Process(root).children(recursive=True)
                    if p.cmdline()[-1:] in (["300"], ["301"])
                ]
            )
            == 2
        ),
        message="both sleeps",
    )
    tree = [p.pid for p in psutil.Process(root).children(recursive=True)]
    pm.run("stop", "forker")
    assert pm.status("forker") == "stopped"
    assert not pid_alive(root)
    assert [pid for pid in tree if pid_alive(pid)] == []


def test_stop_restart_delete_and_selectors(pm: PM) -> None:
    pm.run("start", TICKER, "--name", "a1", "--namespace", "blue")
    pm.run("start", TICKER, "--name", "a2", "--namespace", "blue")
    pm.run("start", TICKER, "--name", "b1")
    pm.run("stop", "blue")
    assert {e["name"]: e["pm2_env"]["status"] for e in pm.jlist()} == {
        "a1": "stopped",
        "a2": "stopped",
        "b1": "online",
    }
    pm.run("start", "a1")  # a known name restarts it, as PM2 does
    assert pm.status("a1") == "online"
    pm.run("restart", "/^a/")
    assert pm.app("a1")["pm2_env"]["restart_time"] == 1  # it was running
    assert pm.app("a2")["pm2_env"]["restart_time"] == 0  # it was stopped: PM2 does not count
    pm.run("stop", "0", "2")
    assert [e["pm2_env"]["status"] for e in pm.jlist()] == ["stopped", "online", "stopped"]
    pm.run("delete", "all")
    assert pm.jlist() == []
    pm.run("start", TICKER, "--name", "again")
    assert pm.app("again")["pm_id"] == 0  # ids start over once the table is empty


def test_same_script_twice_needs_force(pm: PM) -> None:
    pm.run("start", TICKER, "--name", "api")
    second = pm.run("start", TICKER, "--name", "api", check=False)
    assert second.returncode != 0
    assert "already launched" in second.stderr and "-f" in second.stderr
    pm.run("start", TICKER, "--name", "api", "-f")
    assert [e["name"] for e in pm.jlist()] == ["api", "api"]


def test_errors_are_one_clear_line_and_exit_non_zero(pm: PM) -> None:
    cases = [
        (("start", "no_such_file.py"), "script not found"),
        (("start", TICKER, "--interpreter", "no-such-interp"), "not available in PATH"),
        (("stop", "ghost"), "ghost not found"),
        (("restart", "42"), "42 not found"),
        (("sendSignal", "SIGNOPE", "all"), "unknown signal"),
    ]
    for args, needle in cases:
        result = pm.run(*args, check=False)
        assert result.returncode == 1, args
        assert needle in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        if args[0] == "start":  # the error alone: no "Starting ..." before it
            assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result
    assert pm.jlist() == []
    bad_flag = pm.run("start", TICKER, "--no-such-flag", check=False)
    assert bad_flag.returncode == 2 and "no-such-flag" in bad_flag.stderr


def test_child_environment_is_pm2s_and_immutable_without_update_env(pm: PM) -> None:
    out = pm.workdir / "env.json"
    env = dict(pm.env, ENV_OUT=str(out), MY_VAR="one")
    pm.run("start", str(APPS / "env_dump.py"), "--name", "envy", env=env)
    seen = json.loads(wait_for(lambda: out.exists() and out.read_text(), message="env file"))
    assert seen["MY_VAR"] == "one"
    assert seen["pm_id"] == "0" and seen["name"] == "envy" and seen["namespace"] == "default"
    assert seen["NODE_APP_INSTANCE"] == "0"
    assert seen["PM_HOME"] == str(pm.home)
    assert seen["PYTHONUNBUFFERED"] == "1"
    out.unlink()
    pm.run("restart", "envy", env=dict(env, MY_VAR="two"))
    seen = json.loads(wait_for(lambda: out.exists() and out.read_text(), message="env file"))
    assert seen["MY_VAR"] == "one"
    out.unlink()
    pm.run("restart", "envy", "--update-env", env=dict(env, MY_VAR="two"))
    seen = json.loads(wait_for(lambda: out.exists() and out.read_text(), message="env file"))
    assert seen["MY_VAR"] == "two"
    env_out = pm.run("env", "0").stdout
    assert "MY_VAR: two" in env_out


def test_script_args_after_double_dash_and_shell_command(pm: PM) -> None:
    marker = pm.workdir / "args.txt"
    pm.run(
        "start",
        sys.executable,
        "--name",
        "argy",
        "--no-autorestart",
        "--",
        "-c",
        f"import sys; open({str(marker)!r}, 'w').write(' '.join(sys.argv[1:]))",
        "x",
        "y z",
    )
    wait_for(lambda: marker.exists() and marker.read_text() == "x y z", message="args")
    pm.run("start", f"echo shell-ok > {pm.workdir}/shell.txt && sleep 30", "--name", "sh")
    wait_for(lambda: (pm.workdir / "shell.txt").exists(), message="shell command")
    assert pm.app("sh")["pm2_env"]["status"] == "online"


def test_no_autorestart_and_stop_exit_codes(pm: PM) -> None:
    pm.run("start", sys.executable, "--name", "once", "--no-autorestart", "--", "-c", "pass")
    pm.wait_status("once", "stopped")
    pm.run(
        "start",
        sys.executable,
        "--name",
        "clean",
        "--stop-exit-codes",
        "3",
        "--",
        "-c",
        "raise SystemExit(3)",
    )
    entry = pm.wait_status("clean", "stopped")
    assert entry["pm2_env"]["restart_time"] == 0 and entry["pm2_env"]["exit_code"] == 3


def test_restart_delay_shows_waiting_restart(pm: PM) -> None:
    # --restart-delay, in seconds: the window `pm stop` must land in once the status is seen;
    # at 1 s a CLI round trip on a loaded 2-core machine missed it (the restart ran first)
    delay = 3.0
    runs = pm.workdir / "runs"
    pm.run(
        "start",
        sys.executable,
        "--name",
        "slow",
        "--restart-delay",
        str(int(delay * 1000)),
        "--",
        "-c",
        f"open({str(runs)!r}, 'a').write('run\\n'); raise SystemExit(1)",
    )
    pm.wait_status("slow", "waiting restart")
    assert f"App [slow:0] will restart in {int(delay * 1000)}ms" in (pm.home / "pm.log").read_text()
    pm.run("stop", "slow")  # a pending restart is cancelled by stop
    assert pm.status("slow") == "stopped"
    time.sleep(delay + 0.5)  # past the moment the restart timer would have fired
    entry = pm.app("slow")
    assert (entry["pm2_env"]["status"], entry["pid"], entry["pm2_env"]["restart_time"]) == (
        "stopped",
        0,
        0,
    )
    assert runs.read_text() == "run\n"  # the script never ran again


def test_send_signal_reset_pid_id_describe(pm: PM) -> None:
    flag = pm.workdir / "usr1"
    ready = pm.workdir / "ready"
    script = pm.write_app(
        "sig.py",
        f"""
import signal, time
signal.signal(signal.SIGUSR1, lambda *a: open({str(flag)!r}, 'w').write('got'))
open({str(ready)!r}, 'w').close()
while True:
    time.sleep(0.1)
""",
    )
    pm.run("start", str(script), "--name", "sig")
    entry = pm.wait_status("sig", "online")
    wait_for(ready.exists, message="handler installed")  # before that, SIGUSR1 would kill it
    pm.run("sendSignal", "SIGUSR1", "sig")
    wait_for(flag.exists, message="signal delivered")
    assert pm.run("pid", "sig").stdout.strip() == str(entry["pid"])
    assert pm.run("id", "sig").stdout.strip() == "[ 0 ]"
    assert pm.run("id", "nobody").stdout.strip() == "[]"
    pm.run("restart", "sig")
    assert pm.app("sig")["pm2_env"]["restart_time"] == 1
    pm.run("reset", "sig")
    assert pm.app("sig")["pm2_env"]["restart_time"] == 0
    described = pm.run("describe", "sig").stdout
    assert "script path" in described and str(script) in described
    assert pm.run("ping").stdout.strip() == "{ msg: 'pong' }"


def test_instances_get_their_own_ids_and_files(pm: PM) -> None:
    pm.run("start", TICKER, "--name", "web", "-i", "3")
    entries = pm.jlist()
    assert [e["pm_id"] for e in entries] == [0, 1, 2]
    assert [e["pm2_env"]["NODE_APP_INSTANCE"] for e in entries] == [0, 1, 2]
    assert [Path(e["pm2_env"]["pm_out_log_path"]).name for e in entries] == [
        "web-out-0.log",
        "web-out-1.log",
        "web-out-2.log",
    ]


def test_stop_sends_the_kill_signal_to_the_app_once(pm: PM) -> None:
    """The signal reaches the app through its process group, not a second time by pid: many
    programs take a second SIGINT as "quit now", and a handler run twice writes twice."""
    got = pm.workdir / "got"
    app = pm.write_app(
        "once.py",
        f"""
import signal, sys, time
def stop(signum, frame):
    with open({str(got)!r}, "a") as handle:
        handle.write("SIGINT\\n")
    time.sleep(0.3)
    sys.exit(0)
signal.signal(signal.SIGINT, stop)
print("ready", flush=True)
while True:
    time.sleep(1)
""",
    )
    pm.run("start", str(app), "--name", "once")
    out = pm.home / "logs" / "once-out.log"
    wait_for(lambda: out.exists() and "ready" in out.read_text(), message="the app's handler")
    pm.run("stop", "once")
    assert got.read_text() == "SIGINT\n"


def test_quiesce_tells_a_waiting_process_from_a_busy_one() -> None:
    """quiesce.waiting reads /proc/<pid>/task/*/syscall: a process in select() waits for work,
    one spinning in Python does not."""
    import subprocess

    from pm.daemon.core import quiesce

    idle = subprocess.Popen([sys.executable, "-c", "import select; select.select([], [], [], 60)"])
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        assert wait_for(lambda: quiesce.waiting(idle.pid), 10, message="select() to block")
        assert not any(quiesce.waiting(busy.pid) for _ in range(20))
        assert quiesce.waiting(2**22 + 12345) is None  # no such process: cannot tell
    finally:
        for child in (idle, busy):
            child.kill()
            child.wait()


def test_version_is_read_from_the_package_json_above_the_script(pm: PM) -> None:
    """As PM2: the nearest package.json above the script (any language), read again at each
    launch; an explicit `version` attribute is kept (PM2 would show the package's)."""
    (pm.workdir / "package.json").write_text('{"name": "shop", "version": "1.4.2"}')
    (pm.workdir / "src").mkdir()
    script = pm.write_app("src/tick.py", "import time\nwhile True:\n    time.sleep(1)\n")
    pm.run("start", str(script), "--name", "shop")
    assert pm.app("shop")["pm2_env"]["version"] == "1.4.2"
    assert "1.4.2" in next(line for line in pm.run("list").stdout.splitlines() if "shop" in line)
    (pm.workdir / "package.json").write_text('{"name": "shop", "version": "1.5.0"}')
    pm.run("restart", "shop")
    assert pm.app("shop")["pm2_env"]["version"] == "1.5.0"
    eco = pm.workdir / "eco.json"
    eco.write_text(
        json.dumps({"apps": [{"name": "pinned", "script": str(script), "version": "9"}]})
    )
    pm.run("start", str(eco))
    assert pm.app("pinned")["pm2_env"]["version"] == "9"
