"""HTTP load for the zero-downtime tests: a free port, one request, clients that keep asking
while an app reloads."""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.request

from helpers.home import PM, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, timeout: float = 20) -> int:
    """The pid of the instance that answered. A request fails when refused or cut, not when
    slow: on a busy 2-core machine running other tests, one answer can take seconds."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as answer:
        return int(answer.read())


class Load:
    """Clients that keep requesting until stopped, counting answers and failures."""

    def __init__(self, port: int, clients: int = 3) -> None:
        self.port = port
        self.answers = 0
        self.failures: list[str] = []
        self.pids: set[int] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(clients)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                pid = get(self.port)
            except (OSError, http.client.HTTPException) as exc:  # refused, reset, or cut short
                with self._lock:
                    self.failures.append(repr(exc))
                continue
            with self._lock:
                self.answers += 1
                self.pids.add(pid)


def reload_under_load(pm: PM, name: str, port: int, reloads: int) -> list[str]:
    """Reload the app `reloads` times while clients keep requesting; the failures seen."""
    with Load(port) as load:
        wait_for(lambda: load.answers > 20, 10, message="the load to run")
        for _ in range(reloads):
            pm.run("reload", name)
        answered = load.answers
        wait_for(lambda: load.answers > answered + 50, 20, message="answers after the reloads")
    return load.failures
