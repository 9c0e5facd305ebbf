"""The small apps the benchmark runs, written into its temp dir.

Every app writes a marker (`<path>` containing its pid, renamed into place atomically) once it
runs, so "started" means the app's own code is running, measured the same way for every manager.
SIGINT and SIGTERM end an app at once with code 0 (PM2 and pm stop with SIGINT, supervisord and
circus with SIGTERM).
"""

from __future__ import annotations

from pathlib import Path

_SIGNALS = """\
import os, signal, sys, time
def _bye(*_):
    os._exit(0)
signal.signal(signal.SIGINT, _bye)
signal.signal(signal.SIGTERM, _bye)
def _mark(path):
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(str(os.getpid()))
    os.rename(tmp, path)
"""

#: argv: MARKER. Marks, then sleeps until signalled.
IDLE = (
    _SIGNALS
    + """\
_mark(sys.argv[1])
while True:
    signal.pause()
"""
)

#: argv: TIMESTAMPS LIFETIME. Appends "S <time> <pid>" at start, "E <time> <pid>" before exit 1.
CRASH = """\
import os, sys, time
_fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.write(_fd, b"S %.6f %d\\n" % (time.time(), os.getpid()))
time.sleep(float(sys.argv[2]))
os.write(_fd, b"E %.6f %d\\n" % (time.time(), os.getpid()))
os._exit(1)
"""

#: The same crash app in bash, which starts in ~2 ms instead of Python's 20-40 ms: what is
#: left of its crash-to-respawn is the manager's own share. $EPOCHREALTIME needs bash 5.
CRASH_SH = """\
#!/bin/bash
echo "S $EPOCHREALTIME $$" >> "$1"
sleep "$2"
echo "E $EPOCHREALTIME $$" >> "$1"
exit 1
"""

#: argv: LINES MARKER. Stamps the wall-clock time it starts writing into MARKER.t, marks,
#: prints LINES lines of 100 bytes with one write each, then idles.
FLOOD = (
    _SIGNALS
    + """\
with open(sys.argv[2] + ".t.tmp", "w") as _stamp:
    _stamp.write("%.6f" % time.time())
os.rename(sys.argv[2] + ".t.tmp", sys.argv[2] + ".t")
_mark(sys.argv[2])
_pad = b"x" * 90
_write = os.write
for _i in range(int(sys.argv[1])):
    _write(1, b"%08d %s\\n" % (_i, _pad))
while True:
    signal.pause()
"""
)

#: The no-manager floor of workload 2: fork+exec every argv on stdin's lines, print pids, exit.
SPAWN_FLOOR = """\
import json, subprocess, sys
pids = []
for argv in json.load(sys.stdin):
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    proc.returncode = 0  # not ours to reap: the benchmark ends them by pid
    pids.append(proc.pid)
print(json.dumps(pids))
"""

#: The no-manager floor of workload 3: relaunch the crash app COUNT times in a loop.
RELAUNCH_FLOOR = """\
import subprocess, sys
for _ in range(int(sys.argv[1])):
    subprocess.call(sys.argv[2:])
"""

#: A shell app for the 1,000-app scale test: marks, then execs sleep (about 1 MB each).
IDLE_SH = """\
#!/bin/sh
trap 'exit 0' INT TERM
echo $$ > "$1.tmp" && mv "$1.tmp" "$1"
exec sleep 100000
"""

SOURCES = {
    "idle.py": IDLE,
    "crash.py": CRASH,
    "flood.py": FLOOD,
    "spawn_floor.py": SPAWN_FLOOR,
    "relaunch_floor.py": RELAUNCH_FLOOR,
    "idle.sh": IDLE_SH,
    "crash.sh": CRASH_SH,
}


def write_apps(folder: Path) -> dict[str, Path]:
    """Write every app into folder; return name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, source in SOURCES.items():
        path = folder / name
        path.write_text(source)
        path.chmod(0o755)
        paths[name] = path
    return paths
