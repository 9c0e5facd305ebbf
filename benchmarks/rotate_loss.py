"""Measure what rotation loses under a flood of output.

An app writes numbered ~100-byte lines without pause into its pipe; the daemon is asked to
rotate its out file ROTATIONS times (rename + reopen between two writes). Afterwards every
rotated file and the live file are read back: missing line numbers and torn lines are counted,
for the default path (bytes spliced as written) and for `--time` (whole lines).
Usage: python benchmarks/rotate_loss.py
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
from pm.client.connection import Client
from pm.paths import Home

APP = """\
import sys
flush = len(sys.argv) > 1
i = 0
w = sys.stdout.write
while True:
    w("n %09d %s\\n" % (i, "y" * 86))
    if flush: sys.stdout.flush()
    i += 1
"""
ROTATIONS = int(os.environ.get("ROTATIONS", "40"))


def pm(home: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pm", *args],
        env=dict(os.environ, PM_HOME=str(home)),
        check=True,
        capture_output=True,
    )


def measure(extra: list[str], flush: bool, lossless: bool) -> str:
    home = Path(tempfile.mkdtemp(dir="/tmp", prefix="pmr"))
    app = home.parent / f"{home.name}-flood.py"
    app.write_text(APP)
    try:
        return _measure(home, app, extra, flush, lossless)
    finally:
        # `pm kill` first; then the daemon and the app by pid, if anything is left
        if (home / "rpc.sock").exists():
            subprocess.run(
                [sys.executable, "-m", "pm", "kill"],
                check=False,
                env=dict(os.environ, PM_HOME=str(home)),
                capture_output=True,
            )
        procs.kill_tracked()
        shutil.rmtree(home, ignore_errors=True)
        app.unlink(missing_ok=True)


def _measure(home: Path, app: Path, extra: list[str], flush: bool, lossless: bool) -> str:
    pm(home, "set", "logrotate:retain", "all")
    pm(home, "set", "logrotate:workerInterval", "3600")
    pm(home, "set", "logrotate:lossless", str(lossless).lower())
    pm(home, "start", str(app), "-n", "flood", *extra, *(["--", "f"] if flush else []))
    procs.track(int((home / "pm.pid").read_text()))
    client = Client(Home(home))
    for pid in app_pids(home):
        procs.track(pid)
    out = home / "logs" / "flood-out.log"
    time.sleep(0.3)
    for _ in range(ROTATIONS):
        client.call("rotateLogs", targets=["flood"], force=True)
        time.sleep(0.05)
    pm(home, "stop", "flood")
    files = sorted(out.parent.glob("flood-out__*.log"), key=lambda p: p.stat().st_mtime) + [out]
    seen, torn = [], 0
    # read back as one stream: a line split across a rotated file and the next is not lost
    data = b"".join(path.read_bytes() for path in files)
    for line in data.splitlines():
        if True:
            if extra:
                line = line.split(b": ", 1)[-1]
            parts = line.split(b" ")
            if len(parts) != 3 or parts[0] != b"n" or parts[2] != b"y" * 86:
                torn += 1
                continue
            seen.append(int(parts[1]))
    last = max(seen)
    missing = last + 1 - len(set(seen))
    ordered = seen == sorted(seen)
    mode = "--time (whole lines)" if extra else "default (spliced)"
    return (
        f"{mode}, {'flush per line' if flush else 'buffered 8 KiB writes'}: {ROTATIONS} "
        f"rotations, {last + 1} lines written, {missing} lost "
        f"({missing / ROTATIONS:.1f} per rotation), {torn} torn, in order: {ordered}"
    )


def app_pids(home: Path) -> list[int]:
    """The pids of the daemon's apps, to end by pid if `pm kill` fails."""
    out = subprocess.run(
        [sys.executable, "-m", "pm", "jlist"],
        check=True,
        text=True,
        env=dict(os.environ, PM_HOME=str(home)),
        capture_output=True,
    ).stdout
    return [entry["pid"] for entry in json.loads(out) if entry.get("pid")]


def main() -> None:
    procs.install_exit_handlers()
    for extra, lossless in (([], True), (["--time"], True)):
        for flush in (True, False):
            print(measure(extra, flush, lossless), flush=True)


if __name__ == "__main__":
    main()
