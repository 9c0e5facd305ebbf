"""Benchmark: an app prints N lines of ~100 bytes as fast as it can.

Checks every line is in the file, in order, whole, and reports the time for the lines to land
under pm (the default path, spliced from the pipe, and the whole-lines path with --time)
against the same program redirected to a file by the shell (with the same PYTHONUNBUFFERED=1
pm gives Python apps). Two app styles: 64 KiB block writes, and one write per line.
Usage: python benchmarks/log_flood.py [N]  (default 1,000,000)

Every side is timed the same way, on one clock, between the same two events: from the wall-clock
time (CLOCK_REALTIME, `time.time()`) the app itself stamps into a side file right before its
first line, to the log file's mtime (the same clock) once the file has stopped growing, i.e.
when its last byte landed. So neither the shell's nor pm's CLI start-up, nor the interpreter's
start-up, nor how soon this script looks is counted on either side.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import procs

APP = """\
import os, sys, time
n = int(sys.argv[1]); per_line = sys.argv[2] == "line"
with open(sys.argv[3], "w") as stamp:  # the start of the timed span, on every side
    stamp.write("%.6f" % time.time())
# "block": 64 KiB writes whatever the environment says; "line": one write per line
out = open(1, "w", buffering=(1 if per_line else 1 << 16), closefd=False)
w = out.write
for i in range(n):
    w("line %09d %s\\n" % (i, "x" * 84))
out.flush()
"""


def check(path: Path, count: int, prefixed: bool) -> None:
    data = path.read_bytes()
    lines = data.split(b"\n")
    assert lines[-1] == b"", "file does not end with a newline"
    lines.pop()
    assert len(lines) == count, f"{len(lines)} lines, expected {count}"
    for index, line in enumerate(lines):
        if prefixed:
            line = line.split(b": ", 1)[1]
        parts = line.split(b" ")
        assert parts[0] == b"line" and int(parts[1]) == index and parts[2] == b"x" * 84, line


def pm(home: Path, *args: str) -> str:
    env = dict(os.environ, PM_HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "pm", *args], env=env, check=True, capture_output=True, text=True
    ).stdout


def span(stamp: Path, log: Path) -> float:
    """Seconds from the app's own start stamp to the last write into log (same clock)."""
    began = float(stamp.read_text())
    ended = os.stat(log).st_mtime_ns / 1e9
    if ended <= began:
        raise RuntimeError(
            f"{log} last written at {ended:.6f}, not after the app's start at "
            f"{began:.6f}: the two ends are not on one clock"
        )
    return ended - began


def settled(log: Path) -> None:
    """Wait until log has stopped growing (the manager may still be draining the pipe)."""
    size = -1
    while log.stat().st_size != size:
        size = log.stat().st_size
        time.sleep(0.05)


def run_shell(root: Path, app: Path, count: int, flush: bool) -> float:
    target, stamp = root / "shell.log", root / "shell.stamp"
    style = "line" if flush else "block"
    subprocess.run(
        f"{sys.executable} {app} {count} {style} {stamp} > {target}",
        shell=True,
        check=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    settled(target)
    elapsed = span(stamp, target)
    check(target, count, prefixed=False)
    return elapsed


def run_pm(root: Path, app: Path, count: int, extra: list[str], flush: bool) -> float:
    home = Path(tempfile.mkdtemp(dir="/tmp", prefix="pmb"))
    try:
        pm(home, "ping")  # daemon up before the app starts
        procs.track(int((home / "pm.pid").read_text()))
        stamp = root / "pm.stamp"
        pm(
            home,
            "start",
            str(app),
            "--no-autorestart",
            *extra,
            "--",
            str(count),
            "line" if flush else "block",
            str(stamp),
        )
        out = home / "logs" / "app-out.log"
        while json.loads(pm(home, "jlist"))[0]["pm2_env"]["status"] != "stopped":
            time.sleep(0.01)
        settled(out)
        elapsed = span(stamp, out)
        check(out, count, prefixed=bool(extra))
        return elapsed
    finally:
        if (home / "rpc.sock").exists():
            subprocess.run(
                [sys.executable, "-m", "pm", "kill"],
                check=False,
                env=dict(os.environ, PM_HOME=str(home)),
                capture_output=True,
            )
        procs.kill_tracked()  # the daemon by pid, if `pm kill` left it
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    procs.install_exit_handlers()
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="pmbench"))
    procs.on_cleanup(lambda: shutil.rmtree(root, ignore_errors=True))
    app = root / "app.py"
    app.write_text(APP)
    repeat = int(os.environ.get("REPEAT", "3"))
    for flush in (False, True):
        shells, raws, pipes = [], [], []
        for _ in range(repeat):  # interleaved, best of each: the machine is shared and noisy
            shells.append(run_shell(root, app, count, flush))
            raws.append(run_pm(root, app, count, [], flush))
            pipes.append(run_pm(root, app, count, ["--time"], flush))
        shell, raw, piped = min(shells), min(raws), min(pipes)
        mode = "one write per line" if flush else "64 KiB writes"
        print(
            f"{count} lines, {mode}, best of {repeat}: shell {shell:.3f}s | "
            f"pm default {raw:.3f}s "
            f"(x{raw / shell:.2f}) | pm --time {piped:.3f}s (x{piped / shell:.2f}); "
            "all lines present, in order, whole; timed from the app's start stamp to the "
            "log's last write",
            flush=True,
        )


if __name__ == "__main__":
    main()
