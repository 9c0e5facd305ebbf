"""Benchmark: an app prints N lines of ~100 bytes as fast as it can.

Checks every line is in the file, in order, whole, and reports the time for the lines to land
under pm (the default path, spliced from the pipe, and the whole-lines path with --time)
against the same program redirected to a file by the shell (with the same PYTHONUNBUFFERED=1 pm gives Python apps). Two app styles: 64 KiB
block writes, and one write per line.  Usage: python benchmarks/log_flood.py [N]  (default 1,000,000)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APP = """\
import os, sys
n = int(sys.argv[1]); per_line = sys.argv[2] == "line"
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
    return subprocess.run([sys.executable, "-m", "pm", *args], env=env, check=True,
                          capture_output=True, text=True).stdout


def run_pm(root: Path, app: Path, count: int, extra: list[str], flush: bool) -> float:
    home = Path(tempfile.mkdtemp(dir="/tmp", prefix="pmb"))
    pm(home, "ping")  # daemon up before timing
    args = ["start", str(app), "--no-autorestart", *extra, "--", str(count),
            "line" if flush else "block"]
    started = time.perf_counter()
    pm(home, *args)
    out = home / "logs" / "app-out.log"
    while True:
        env = json.loads(pm(home, "jlist"))[0]["pm2_env"]
        if env["status"] == "stopped":
            size = out.stat().st_size
            time.sleep(0.05)
            if out.stat().st_size == size:
                break
        time.sleep(0.01)
    # from the child's start (pm_uptime) to the last byte landing: the CLI's own start-up
    # time (a Python interpreter per `pm` call) is not the data path being measured
    elapsed = out.stat().st_mtime - env["pm_uptime"] / 1000
    del started
    check(out, count, prefixed=bool(extra))
    pm(home, "kill")
    subprocess.run(["rm", "-rf", str(home)])
    return elapsed


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="pmbench"))
    app = root / "app.py"
    app.write_text(APP)
    repeat = int(os.environ.get("REPEAT", "3"))
    for flush in (False, True):
        shells, raws, pipes = [], [], []
        for _ in range(repeat):  # interleaved, best of each: the machine is shared and noisy
            target = root / "shell.log"
            started = time.perf_counter()
            style = "line" if flush else "block"
            subprocess.run(f"{sys.executable} {app} {count} {style} > {target}",
                           shell=True, check=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
            shells.append(time.perf_counter() - started)
            check(target, count, prefixed=False)
            raws.append(run_pm(root, app, count, [], flush))
            pipes.append(run_pm(root, app, count, ["--time"], flush))
        shell, raw, piped = min(shells), min(raws), min(pipes)
        mode = "one write per line" if flush else "64 KiB writes"
        print(f"{count} lines, {mode}, best of {repeat}: shell {shell:.2f}s | "
              f"pm default {raw:.2f}s "
              f"(x{raw / shell:.2f}) | pm --time {piped:.2f}s (x{piped / shell:.2f}); "
              "all lines present, in order, whole")
    subprocess.run(["rm", "-rf", str(root)])


if __name__ == "__main__":
    main()
