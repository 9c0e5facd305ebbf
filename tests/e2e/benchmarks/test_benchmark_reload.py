"""Workload 8's parts: the app keeps the socket-activation and notify conventions and drains
on SIGTERM, the generator counts what fails, the summary and target read the records right.
Real processes and sockets, each ended by pid; about 2 s in all. No benchmark is run here."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import ROOT

sys.path.insert(0, str(ROOT))


from helpers.home import wait_for  # noqa: E402

from benchmarks import loadgen, reload  # noqa: E402

APP = ROOT / "benchmarks" / "reload_app.py"

#: Puts the inherited socket on fd 3 and names the app's pid in LISTEN_PID, then execs the
#: app: what a manager does between fork and exec.
HAND_OVER = """\
import os, sys
os.dup2(int(sys.argv[1]), 3)
os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; each is ended by its pid at teardown."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def get(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200
        return response.read().decode()
    finally:
        connection.close()


def accepted_by(pid: int, port: int, peer: int) -> bool:
    """Whether process pid holds the server side of the connection 127.0.0.1:peer -> :port
    (a connection still in the accept queue has no file, so its inode is 0)."""
    local, remote = f"0100007F:{port:04X}", f"0100007F:{peer:04X}"
    inodes = {
        fields[9]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if (fields := line.split())[1:3] == [local, remote]
    }
    folder = Path(f"/proc/{pid}/fd")
    held = {os.readlink(folder / name) for name in os.listdir(folder)}
    return any(f"socket:[{inode}]" in held for inode in inodes - {"0"})


def test_app_serves_the_handed_over_socket_says_ready_and_drains_on_sigterm(
    started: list[subprocess.Popen[bytes]],
) -> None:
    name = f"pm-bench-notify-{os.getpid()}"
    with listener() as shared, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        port = shared.getsockname()[1]
        notify.bind("\0" + name)
        notify.settimeout(10)
        env = dict(os.environ, NOTIFY_SOCKET="@" + name)
        app = subprocess.Popen(
            [
                sys.executable,
                "-c",
                HAND_OVER,
                str(shared.fileno()),
                str(APP),
                "1",
                "--boot",
                "0",
                "--work-ms",
                "700",
            ],
            pass_fds=[shared.fileno()],
            env=env,
        )
        started.append(app)
        assert notify.recv(64) == b"READY=1"
        assert get(port).split() == ["pid", str(app.pid), "socket=inherited", "notify=yes"]
        # a request in flight (the app has accepted its connection) ...
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"GET / HTTP/1.0\r\n\r\n")
            peer = client.getsockname()[1]
            wait_for(lambda: accepted_by(app.pid, port, peer), 5, message="the app to accept")
            app.send_signal(signal.SIGTERM)
            # ... is answered before the app exits 0
            with client.makefile("rb") as response:
                assert response.readline().startswith(b"HTTP/1.0 200")
        assert app.wait(10) == 0
        # the socket outlives the app: a new connection waits in its queue instead of failing
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_app_binds_its_own_port_with_reuseport_without_a_socket(
    started: list[subprocess.Popen[bytes]],
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("LISTEN_FDS", "LISTEN_PID", "NOTIFY_SOCKET")
    }
    for _ in range(2):
        started.append(
            subprocess.Popen([sys.executable, str(APP), str(port), "--boot", "0"], env=env)
        )
    pids = {str(app.pid) for app in started}
    answered: set[str] = set()

    def both_answered() -> bool:
        try:
            words = get(port).split()
        except OSError:
            return False
        assert words[2:] == ["socket=own", "notify=no"]
        answered.add(words[1])
        return answered == pids

    wait_for(both_answered, 10, interval=0.005, message="both instances to answer")
    for app in started:
        app.send_signal(signal.SIGINT)
    assert [app.wait(10) for app in started] == [0, 0]


def test_generator_counts_refused_connections_in_an_open_loop() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "loadgen.py"),
            str(port),
            "--rate",
            "100",
            "--seconds",
            "0.5",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    data = json.loads(result.stdout)
    outcomes = [record[2] for record in data["records"]]
    assert 45 <= len(outcomes) <= 51  # 100/s for 0.5 s, whatever the server did
    assert set(outcomes) == {"refused"}


def test_generator_reads_a_response() -> None:
    assert loadgen.parse(b"HTTP/1.0 200 OK\r\nA: b\r\n\r\npid 42 socket=own notify=no\n") == (
        "ok",
        42,
    )
    assert loadgen.parse(b"HTTP/1.0 503 Busy\r\n\r\n") == ("status", 0)
    assert loadgen.parse(b"") == ("reset", 0)
    assert loadgen.classify(ConnectionRefusedError()) == "refused"
    assert loadgen.classify(ConnectionResetError()) == "reset"
    assert loadgen.classify(TimeoutError()) == "timeout"
    assert loadgen.classify(OSError(99, "x")) == "other:OSError"


def test_summary_counts_failures_by_kind_and_by_reload() -> None:
    records = [
        [100.0, 3.0, "ok", 1],
        [100.5, 5.0, "ok", 2],
        [101.0, 0.1, "refused", 0],
        [101.2, 2000.0, "timeout", 0],
        [102.1, 4.0, "ok", 3],
        [102.2, 0.2, "reset", 0],
        [102.3, 9.0, "ok", 4],
        [102.4, 1.0, "other:OSError", 0],
    ]
    summary = reload.summarise(records, [(100.9, 101.5), (102.0, 102.5)], 99.0)
    assert (summary["requests"], summary["answered"], summary["failed"]) == (8, 4, 4)
    assert summary["failed_by_kind"] == {
        "refused": 1,
        "reset": 1,
        "status": 0,
        "timeout": 1,
        "other": 1,
    }
    assert summary["failed_per_reload"] == [2, 2]
    assert summary["failed_before_first_reload"] == 0
    assert (summary["p50_ms"], summary["p99_ms"], summary["max_ms"]) == (4.0, 9.0, 9.0)
    assert summary["reload_s"] == [0.6, 0.5]
    assert summary["instances_seen"] == 4
    assert summary["failures"][0] == [2.0, "refused"]


def test_percentile_is_nearest_rank() -> None:
    values = [float(value) for value in range(1, 201)]
    assert reload.percentile(values, 0.99) == 198.0
    assert reload.percentile(values, 0.5) == 100.0
    assert reload.percentile([], 0.99) is None


def test_target_is_met_only_by_a_pm_listen_run_with_no_failure() -> None:
    pm2 = {"variant": "pm2", "failed": 300}
    assert reload.outcome([pm2]) == "not measured"
    assert reload.outcome([{"variant": "pm", "failed": 0}, pm2]) == "yes"
    assert reload.outcome([{"variant": "pm", "failed": 1}, pm2]) == "NO"
    assert reload.outcome([{"variant": "pm", "gave_up": "no socket handed over"}]) == "NO"
    assert reload.outcome([{"variant": "pm", "failed": 0, "gave_up": "reload 3: ..."}]) == "NO"


def test_handover_variant_asks_for_listen_and_readiness() -> None:
    variant, reuseport, pm2 = reload.VARIANTS
    settings = reload.ReloadSettings()
    assert reload.app_def(variant, settings, 8123).extra == {
        "instances": 2,
        "exec_mode": "fork",
        "listen": "127.0.0.1:8123",
        "wait_ready": True,
    }
    assert "listen" not in reload.app_def(reuseport, settings, 8123).extra
    assert reload.app_def(pm2, settings, 8123).extra == {"instances": 2, "exec_mode": "fork"}
