"""Load: hundreds of apps, and 50 clients hammering list/restart/stop/start at once.

Every request must get an answer (a result or a clear PMError, never a dropped connection or a
timeout), and when the storm ends the table must match the processes that really run.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter

from helpers.home import PM, pid_alive, wait_for
from helpers.reliability import (
    deadline_loop,
    live_descendants,
    record,
    sleeper,
    soak,
    write_ecosystem,
)

from pm.client.connection import Client
from pm.errors import DaemonUnavailable, PMError
from pm.paths import Home

__all__ = ["soak"]

CLIENTS = 50


def _start_many(pm: PM, count: int) -> None:
    apps = [sleeper(f"l{i}") for i in range(count)]
    began = time.monotonic()
    pm.run("start", str(write_ecosystem(pm.workdir, apps)), timeout=300)
    wait_for(
        lambda: sum(e["pm2_env"]["status"] == "online" for e in pm.jlist()) == count,
        120,
        0.5,
        f"{count} apps online",
    )
    record(f"load_start_{count}_apps_seconds", round(time.monotonic() - began, 1))


def _client_storm(
    home: Home,
    names: list[str],
    seconds: float,
    seed: int,
    tally: Counter[str],
    failures: list[str],
    lock: threading.Lock,
) -> None:
    rng = random.Random(seed)
    client = Client(home, autostart=False)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        cmd = rng.choice(["list", "list", "restart", "stop", "start"])
        target = rng.choice(names)
        try:
            if cmd == "list":
                client.call("list")
            else:
                client.call(cmd, targets=[target])
            outcome = "ok"
        except DaemonUnavailable as exc:
            outcome = "unanswered"
            with lock:
                failures.append(f"{cmd} {target}: {exc.message}")
        except PMError as exc:
            outcome = f"error:{exc.code}"
        except OSError as exc:  # a refused or reset connection is an unanswered request
            outcome = "unanswered"
            with lock:
                failures.append(f"{cmd} {target}: {exc!r}")
        with lock:
            tally[outcome] += 1


def test_many_apps_and_fifty_concurrent_clients(pm: PM, soak: bool) -> None:
    count, seconds = (1000, 60.0) if soak else (300, 15.0)
    _start_many(pm, count)
    daemon = pm.daemon_pid()
    names = [f"l{i}" for i in range(count)]
    tally: Counter[str] = Counter()
    failures: list[str] = []
    lock = threading.Lock()
    home = Home(pm.home)
    threads = [
        threading.Thread(
            target=_client_storm, args=(home, names, seconds, seed, tally, failures, lock)
        )
        for seed in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    assert not any(thread.is_alive() for thread in threads), "a client hung"
    served = sum(tally.values())
    record(f"load_requests_served_{CLIENTS}_clients_{int(seconds)}s_{count}_apps", served)
    record("load_requests_unanswered", tally["unanswered"])
    assert not failures, f"{len(failures)} unanswered requests, e.g. {failures[:3]}"
    assert set(tally) <= {"ok"}, f"unexpected errors: {tally}"
    assert pm.daemon_pid() == daemon

    # Final state: every app settled, online ones on distinct live pids, nothing untracked.
    def settled() -> list[dict] | None:
        entries = pm.jlist()
        ok = all(e["pm2_env"]["status"] in ("online", "stopped") for e in entries)
        return entries if ok else None

    entries = wait_for(settled, 60, 0.5, "every app online or stopped")
    assert len(entries) == count and len({e["pm_id"] for e in entries}) == count
    online = [e["pid"] for e in entries if e["pm2_env"]["status"] == "online"]
    stopped = [e for e in entries if e["pm2_env"]["status"] == "stopped"]
    assert len(online) == len(set(online)) and all(pid_alive(pid) for pid in online)
    assert all(e["pid"] == 0 for e in stopped)
    assert live_descendants(daemon) == set(online)


IDLE, STALLED = 500, 20
HOLD_SECONDS = 3.0  # how long they are held while other clients are served


def test_idle_connections_and_stalled_subscribers_do_not_block_the_daemon(pm: PM) -> None:
    """500 clients that connect and say nothing, 20 subscribers that never read, and a crash
    loop feeding them events: other clients are still answered at once, and the daemon keeps
    every one of those connections."""
    crashers = [
        {
            "name": f"x{i}",
            "script": "/bin/false",
            "interpreter": "none",
            "restart_delay": 20,
            "max_restarts": 1_000_000,
        }
        for i in range(5)
    ]
    pm.run("start", str(write_ecosystem(pm.workdir, crashers)))
    daemon = pm.daemon_pid()
    socks: list[socket.socket] = []
    try:
        for index in range(STALLED + IDLE):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(str(pm.home / "rpc.sock"))
            if index < STALLED:
                sock.sendall(b'{"id":1,"cmd":"subscribe"}\n')  # and never read the stream
            socks.append(sock)
        worst = 0.0
        for _ in deadline_loop(HOLD_SECONDS):  # other clients, while all those are held
            began = time.monotonic()
            pm.run("ping")
            worst = max(worst, time.monotonic() - began)
        assert worst < 3, f"a ping took {worst:.1f}s"
        restarts = sum(e["pm2_env"]["restart_time"] for e in pm.jlist())
        assert restarts > 20, "the crash loop did not run while the pings were answered"
        held_stalled = sum(_held_by_daemon(sock) for sock in socks[:STALLED])
        held_idle = sum(_held_by_daemon(sock) for sock in socks[STALLED:])
    finally:
        for sock in socks:
            sock.close()
    record("idle_connections_held", held_idle)
    record("stalled_subscribers_held", held_stalled)
    assert (held_idle, held_stalled) == (IDLE, STALLED), "the daemon dropped connections"
    pm.run("stop", "all")
    assert pm.daemon_pid() == daemon
    assert pm.run("ping").returncode == 0


def _held_by_daemon(sock: socket.socket) -> bool:
    """True while the daemon keeps its end open: reading everything it sent so far ends in
    'nothing yet' (EAGAIN), not end of file."""
    while True:
        try:
            chunk = sock.recv(1 << 16, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True
        except ConnectionResetError:
            return False
        if not chunk:
            return False
