"""max_memory_restart over the whole process tree, and the cpu/memory metrics of list/jlist."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import psutil
from helpers.home import APPS, wait_for

from pm.daemon.automation.restarts import MEMORY_INTERVAL
from pm.daemon.core import monitor


def test_tree_rss_counts_children() -> None:
    code = (
        "import subprocess, sys; subprocess.run([sys.executable, '-c', "
        "'b = bytearray(40 << 20); import time; time.sleep(60)'])"
    )
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        wait_for(lambda: len(monitor.tree(parent.pid)) == 2, message="child to start")
        wait_for(lambda: monitor.tree_rss(parent.pid) > 40 << 20, message="child memory")
        assert monitor.rss_bytes(parent.pid) < 40 << 20  # the parent alone is small
    finally:
        for pid in reversed(monitor.tree(parent.pid)):
            subprocess.run(["kill", "-9", str(pid)], check=False)
        parent.wait()


def test_sampler_cpu_percent_from_tick_deltas() -> None:
    now = [100.0]
    sampler = monitor.Sampler(clock=lambda: now[0])
    busy = subprocess.Popen([sys.executable, str(APPS / "busy.py")])
    try:
        process = psutil.Process(busy.pid)

        def used() -> float:  # CPU seconds of busy, read by psutil, not by the code under test
            times = process.cpu_times()
            return float(times.user + times.system)

        # Some CPU before the first sample, so a total instead of a delta would show.
        wait_for(lambda: used() >= 0.2, message="busy to use CPU")
        before_first = used()
        assert sampler.sample([busy.pid])[busy.pid][0] == 0.0  # first sample has no delta
        after_first = used()
        wait_for(lambda: used() - after_first >= 0.4, message="0.4 s of CPU")
        before_second = used()
        now[0] += 1.0  # the sampler divides the ticks by its own clock's 1 s
        cpu, rss = sampler.sample([busy.pid])[busy.pid]
        after_second = used()
        # The ticks between the two samples, over 1 s, in percent (rounded to 0.1).
        assert (
            100 * (before_second - after_first) - 0.11
            <= cpu
            <= 100 * (after_second - before_first) + 0.11
        ), (cpu, before_first, after_first, before_second, after_second)
        assert rss > 1 << 20
        assert sampler.sample([busy.pid])[busy.pid] == (cpu, rss)  # cached within MAX_AGE
    finally:
        busy.kill()
        busy.wait()


def test_memory_limit_restarts_within_a_second(pm) -> None:
    trigger = pm.workdir / "grow"
    pm.run(
        "start",
        str(APPS / "memhog.py"),
        "--name",
        "hog",
        "--max-memory-restart",
        "60M",
        "--",
        str(trigger),
        "120",
    )
    pm.wait_status("hog", "online")
    assert pm.app("hog")["pm2_env"]["restart_time"] == 0
    trigger.touch()
    out_log = pm.home / "logs" / "hog-out.log"
    allocated = float(
        wait_for(
            lambda: re.search(r"allocated (\S+)", out_log.read_text()),
            timeout=15,
            message="allocation",
        ).group(1)
    )
    entry = wait_for(
        lambda: (e := pm.app("hog"))["pm2_env"]["restart_time"] >= 1 and e,
        timeout=10,
        message="memory restart",
    )
    restarted_at = entry["pm2_env"]["pm_uptime"] / 1000
    # 0.5 s check interval + stop time; generous for a loaded 2-core machine.
    assert restarted_at - allocated < 2.5, restarted_at - allocated
    log = (pm.home / "pm.log").read_text()
    line = re.search(r"App \[hog:0\] memory ([\d.]+)MB exceeds max_memory_restart 60.0MB", log)
    assert line and float(line.group(1)) > 60, log
    # The fresh process is small again: no second restart in two checks of the guard.
    time.sleep(2 * MEMORY_INTERVAL + 0.3)
    after = pm.app("hog")
    assert (after["pid"], after["pm2_env"]["restart_time"]) == (entry["pid"], 1)


def test_list_and_describe_show_tree_metrics(pm) -> None:
    pm.run("start", str(APPS / "busy.py"), "--name", "spin")
    pm.wait_status("spin", "online")
    entry = wait_for(
        lambda: (e := pm.app("spin"))["monit"]["cpu"] > 20 and e,
        timeout=15,
        message="cpu above 20%",
    )
    assert entry["monit"]["memory"] > 1 << 20
    described = pm.run("describe", "spin").stdout
    assert re.search(r"│ cpu\s+│ [\d.]+%", described) and re.search(
        r"│ memory\s+│ [\d.]+mb", described
    )
    pm.run("stop", "spin")
    assert pm.app("spin")["monit"] == {"memory": 0, "cpu": 0}
