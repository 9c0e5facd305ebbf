"""End to end: real apps flooding output, real files, `pm logs` through a pipe and in tmux."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.home import PM, wait_for

from pm.client.connection import Client
from pm.paths import Home

FLOOD = """\
import sys
n = int(sys.argv[1])
out, err = sys.stdout, sys.stderr
for i in range(n):
    if i % 10 == 9:
        err.write("err %08d %s\\n" % (i, "e" * 80))
    else:
        out.write("out %08d %s\\n" % (i, "o" * 80))
out.flush(); err.flush()
"""

BIG_LINES = """\
import sys
for i in range(3):
    sys.stdout.write(str(i) + "x" * (1 << 20) + "\\n")
    sys.stdout.flush()
"""

TICKER = """\
import sys, time
i = 0
while True:
    print("tick %d" % i, flush=True)
    i += 1
    time.sleep(0.05)
"""

#: What `--time` puts before every line: PM2's `log_date_format` "YYYY-MM-DDTHH:mm:ss" and ": ".
STAMP = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d): ")


def _stamped(line: bytes, window: tuple[float, float]) -> bytes:
    """The line without its `--time` prefix, which must be there and name a second in window."""
    match = STAMP.match(line)
    assert match, f"no timestamp prefix: {line[:120]!r}"
    when = time.mktime(time.strptime(match.group(1).decode(), "%Y-%m-%dT%H:%M:%S"))
    assert window[0] - 1 <= when <= window[1], (match.group(1), window)
    return line[match.end() :]


def _numbers(path: Path, prefix: bytes, window: tuple[float, float] | None = None) -> list[int]:
    """The numbers of a FLOOD log's lines, each checked whole; window: `--time` was given."""
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    result = []
    for line in lines[:-1]:
        if window is not None:
            line = _stamped(line, window)
        head, number, body = line.split(b" ")
        assert head == prefix and len(body) == 80, line[:120]
        result.append(int(number))
    return result


def _logs(pm: PM, name: str) -> tuple[Path, Path]:
    env = pm.app(name)["pm2_env"]
    return Path(env["pm_out_log_path"]), Path(env["pm_err_log_path"])


@pytest.mark.parametrize("extra", [[], ["--time"]], ids=["default", "time"])
def test_flood_every_line_whole_in_order(pm: PM, extra: list[str]) -> None:
    """`--time` (pm's flag, before `--`) prefixes every line with its date; the default none."""
    count = 100_000
    script = pm.write_app("flood.py", FLOOD)
    started = time.time()
    pm.run("start", str(script), "--no-autorestart", *extra, "--", str(count))
    pm.wait_status("flood", "stopped", timeout=60)
    out, err = _logs(pm, "flood")
    expect_out = [i for i in range(count) if i % 10 != 9]
    wait_for(
        lambda: out.stat().st_size and _count_lines(out) == len(expect_out),
        30,
        message="all out lines",
    )
    window = (started, time.time()) if extra else None
    assert _numbers(out, b"out", window) == expect_out
    assert _numbers(err, b"err", window) == [i for i in range(count) if i % 10 == 9]


def _count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n")


@pytest.mark.parametrize("extra", [[], ["--log-type", "json"]], ids=["default", "json"])
def test_one_megabyte_lines_pass_whole(pm: PM, extra: list[str]) -> None:
    script = pm.write_app("big.py", BIG_LINES)
    pm.run("start", str(script), "--no-autorestart", *extra)
    pm.wait_status("big", "stopped", timeout=30)
    out, _ = _logs(pm, "big")
    lines = wait_for(
        lambda: (lambda ls: ls if len(ls) == 3 else None)(out.read_text().splitlines()),
        15,
        message="3 lines",
    )
    if extra:
        lines = [json.loads(line)["message"].rstrip("\n") for line in lines]
    assert lines == [str(i) + "x" * (1 << 20) for i in range(3)]


def test_combined_log_file_and_date_format(pm: PM) -> None:
    script = pm.write_app("two.py", "import sys\nprint('hello')\nprint('oops', file=sys.stderr)\n")
    pm.run("start", str(script), "--no-autorestart", "-l", "both.log", "--log-date-format", "YYYY")
    pm.wait_status("two", "stopped")
    combined = pm.workdir / "both.log"
    year = time.strftime("%Y")
    wait_for(lambda: combined.exists() and _count_lines(combined) == 2, message="combined log")
    assert sorted(combined.read_text().splitlines()) == [f"{year}: hello", f"{year}: oops"]
    out, err = _logs(pm, "two")
    assert out.read_text() == f"{year}: hello\n" and err.read_text() == f"{year}: oops\n"


GOODBYE = """\
import signal, sys, time
def bye(*_):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # sent to the pid and to its group
    for i in range(5000):
        print("bye %d" % i)
    sys.exit(0)
signal.signal(signal.SIGINT, bye)
print("ready", flush=True)
while True:
    time.sleep(1)
"""


@pytest.mark.parametrize("extra", [[], ["--time"]], ids=["default", "time"])
def test_what_apps_print_while_pm_kill_stops_them_reaches_the_log(pm: PM, extra: list[str]) -> None:
    """The daemon exits only once the stopped apps' last output is in their files."""
    script = pm.write_app("goodbye.py", GOODBYE)
    started = time.time()
    for index in range(3):
        pm.run("start", str(script), "-n", f"g{index}", *extra)
    outs = [_logs(pm, f"g{index}")[0] for index in range(3)]
    wait_for(
        lambda: all(out.exists() and b"ready" in out.read_bytes() for out in outs),
        15,
        message="apps ready",
    )
    assert "killed" in pm.run("kill").stdout
    window = (started, time.time())
    for out in outs:
        lines = out.read_bytes().splitlines()
        if extra:  # --time: each line has its date, and nothing else is added
            lines = [_stamped(line, window) for line in lines]
        assert [line.decode() for line in lines[-5000:]] == [f"bye {i}" for i in range(5000)], (
            f"{out}: {len(lines)} lines"
        )


def test_logs_nostream_through_a_pipe(pm: PM) -> None:
    script = pm.write_app(
        "greet.py", "import sys\nprint('hi there')\nprint('bad', file=sys.stderr)\n"
    )
    pm.run("start", str(script), "--no-autorestart")
    pm.wait_status("greet", "stopped")
    result = pm.run("logs", "greet", "--nostream", "--lines", "5")
    assert "\x1b[" not in result.stdout  # colours off when piped
    assert "0|greet    | hi there" in result.stdout
    assert "0|greet    | bad" in result.stdout
    assert "greet-out.log last 5 lines:" in result.stdout
    raw = pm.run("logs", "greet", "--nostream", "--raw")
    assert raw.stdout.strip() == "hi there" and raw.stderr.strip() == "bad"
    as_json = pm.run("logs", "greet", "--nostream", "--json", "--out").stdout.splitlines()
    assert json.loads(as_json[0])["message"] == "hi there"
    daemon = pm.run("logs", "pm", "--nostream").stdout
    assert "App [greet:0] online" in daemon
    missing = pm.run("logs", "nope", "--nostream", check=False)
    assert missing.returncode == 1 and "nope" in missing.stderr


def test_logs_timestamp_stamps_no_line_read_back_from_the_file(pm: PM) -> None:
    """The files keep no time per line: `--timestamp` leaves the lines already written as they
    are (PM2 does the same) and says so; JSON records give their time as null."""
    script = pm.write_app("greet.py", "print('hi there')\n")
    pm.run("start", str(script), "--no-autorestart")
    pm.wait_status("greet", "stopped")
    out = pm.run("logs", "greet", "--nostream", "--out", "--timestamp").stdout
    assert "greet-out.log last 15 lines (written before now, at times the file does not keep):" in out
    assert "0|greet    | hi there" in out.splitlines()
    record = json.loads(pm.run("logs", "greet", "--nostream", "--out", "--json").stdout)
    assert record["message"] == "hi there" and record["timestamp"] is None
    key_values = pm.run("logs", "greet", "--nostream", "--out", "--format").stdout
    assert key_values.startswith("app=greet id=0 type=out message=hi there")


def test_followed_lines_get_the_time_they_were_seen(pm: PM) -> None:
    pm.run("start", str(pm.write_app("tick.py", TICKER)), "--name", "tick")
    proc = _stream(pm, "tick", "--out", "--lines", "0", "--timestamp")
    stamped = re.compile(rb"\| (\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d): tick \d+")
    try:
        reader = Reader(proc)
        match = wait_for(lambda: reader.has("tick") and stamped.search(reader.data), 15)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    seen = time.mktime(time.strptime(match.group(1).decode(), "%Y-%m-%d-%H:%M:%S"))
    assert abs(seen - time.time()) < 60


def _stream(pm: PM, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pm", "logs", *args],
        env=pm.env,
        cwd=pm.workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


class Reader:
    """Collect a child's stdout without blocking (chunks, not readline)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.data = b""

    def has(self, text: str) -> bool:
        try:
            while chunk := os.read(self.fd, 65536):
                self.data += chunk
        except BlockingIOError:
            pass
        return text.encode() in self.data


def test_logs_follow_new_apps_flush_and_rotation(pm: PM) -> None:
    ticker = pm.write_app("ticker.py", TICKER)
    pm.run("start", str(ticker), "-n", "first")
    proc = _stream(pm, "--lines", "0")
    try:
        reader = Reader(proc)
        wait_for(lambda: reader.has("|first    | tick"), 15, message="first app followed")
        pm.run("start", str(ticker), "-n", "late")
        wait_for(lambda: reader.has("1|late     | tick 0"), 15, message="late app picked up")
        pm.run("flush", "first")
        out, _ = _logs(pm, "first")
        wait_for(lambda: out.stat().st_size < 200, message="flushed")
        mark = len(reader.data)
        wait_for(
            lambda: reader.has("first") and b"|first" in reader.data[mark:],
            15,
            message="following after flush",
        )
        flushed = pm.run("flush")  # no target: pm.log too
        assert "Logs flushed" in flushed.stdout
        assert "daemon started" not in (pm.home / "pm.log").read_text()
        mark = len(reader.data)
        wait_for(
            lambda: reader.has("late") and b"1|late" in reader.data[mark:],
            15,
            message="following after a full flush",
        )
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]


def test_logs_piped_into_head_exits_quietly(pm: PM) -> None:
    pm.run("start", str(pm.write_app("ticker.py", TICKER)))
    result = subprocess.run(
        f"{sys.executable} -m pm logs --raw | head -n 3",
        shell=True,
        env=pm.env,
        cwd=pm.workdir,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert len(result.stdout.splitlines()) == 3
    assert "Traceback" not in result.stderr and "Error" not in result.stderr


def test_rotation_keeps_retain_and_compresses(pm: PM) -> None:
    for key, value in (
        ("workerInterval", "1"),
        ("max_size", "20K"),
        ("retain", "3"),
        ("compress", "true"),
    ):
        pm.run("set", f"logrotate:{key}", value)
    pm.run("start", str(pm.write_app("ticker.py", TICKER)), "--time")
    out, _ = _logs(pm, "ticker")
    # force rotations quickly through the daemon command rather than waiting for size
    for _ in range(5):
        wait_for(lambda: out.exists() and out.stat().st_size > 0, message="output")
        Client(Home(pm.home)).call("rotateLogs", force=True)
    rotated = sorted(
        out.parent.glob("ticker-out__*.log.gz"), key=lambda p: (p.stat().st_mtime, p.name)
    )  # oldest first, as pruning
    assert len(rotated) == 3
    assert list(pm.home.glob("pm__*.log.gz"))  # the daemon's own log rotates too
    pm.run("stop", "ticker")
    text = b"".join(gzip.decompress(p.read_bytes()) for p in rotated) + out.read_bytes()
    ticks = [int(line.rsplit(b" ", 1)[1]) for line in text.splitlines()]
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks)))  # pipe mode: none lost


FAST = """\
import time
i = 0
while True:
    print("line %08d %s" % (i, "z" * 85), flush=True)
    i += 1
    time.sleep(0.004)
"""


def test_rotation_worker_by_size_per_app_settings(pm: PM) -> None:
    pm.run("set", "logrotate:workerInterval", "1")
    pm.write_app("fast.py", FAST)
    ecosystem = pm.workdir / "eco.json"
    ecosystem.write_text(
        json.dumps(
            {
                "apps": [
                    {
                        "name": "fast",
                        "script": "fast.py",
                        "logrotate": {"max_size": "10K", "retain": 2},
                    }
                ]
            }
        )
    )
    pm.run("start", str(ecosystem))
    out, _ = _logs(pm, "fast")

    def rotated() -> set[str]:
        return {p.name for p in out.parent.glob("fast-out__*.log")}

    first = wait_for(
        lambda: (lambda r: r if len(r) == 2 else None)(rotated()), 30, message="two size rotations"
    )
    wait_for(lambda: rotated() - first, 30, message="a third rotation")
    # retain holds while the writer goes on (a third copy exists only between copy and prune)
    wait_for(lambda: len(rotated()) <= 2, 10, message="pruning back to retain=2")
    assert out.stat().st_size < 200_000
    pm.run("stop", "fast")
    lines = [
        line
        for path in sorted(out.parent.glob("fast-out__*.log"), key=lambda p: p.stat().st_mtime_ns)
        + [out]
        for line in path.read_text().splitlines()
    ]
    bad = [line for line in lines if not re.fullmatch(r"line \d{8} z{85}", line)]
    assert not bad, bad[:3]  # every line whole
    numbers = [int(line.split()[1]) for line in lines]
    # the kept files (two rotated, the current one) join up: none lost, none twice, in order
    assert len(numbers) > 100 and numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_reload_logs_and_sigusr2_reopen_pipe_files(pm: PM) -> None:
    pm.run("start", str(pm.write_app("ticker.py", TICKER)), "--time")
    out, _ = _logs(pm, "ticker")
    wait_for(lambda: out.exists() and out.stat().st_size > 0, message="output")
    out.rename(out.with_name("moved.log"))
    result = pm.run("reloadLogs")
    assert "Reloading all logs" in result.stdout
    wait_for(lambda: out.exists() and out.stat().st_size > 0, message="reopened file")
    out.rename(out.with_name("moved2.log"))
    os.kill(pm.daemon_pid() or 0, signal.SIGUSR2)
    wait_for(lambda: out.exists() and out.stat().st_size > 0, message="reopened on SIGUSR2")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
def test_logs_in_a_real_terminal(pm: PM) -> None:
    pm.run("start", str(pm.write_app("ticker.py", TICKER)))
    session = f"pmlogs{os.getpid()}"
    env_args = [f"PM_HOME={pm.home}"]
    command = f"env {' '.join(env_args)} {sys.executable} -m pm logs; echo EXIT=$?; sleep 60"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "30", command],
        check=True,
        cwd=pm.workdir,
    )
    try:

        def capture(escapes: bool = True) -> str:
            args = ["tmux", "capture-pane", "-p", "-t", session] + (["-e"] if escapes else [])
            return subprocess.run(args, capture_output=True, text=True).stdout

        wait_for(lambda: "|ticker   | tick" in capture(False), 20, message="lines in tmux")
        assert "\x1b[32m0|ticker" in capture()  # green prefix for out in a terminal
        subprocess.run(["tmux", "send-keys", "-t", session, "C-c"], check=True)
        wait_for(lambda: "EXIT=0" in capture(False), 10, message="Ctrl-C exit 0")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
