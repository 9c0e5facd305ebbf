"""Helpers and fixtures for the web tests: a real `pm web` process against the test's PM_HOME.

Imported by the test modules (a second conftest.py would shadow the root one's name).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp  # noqa: F401 (a test dependency `pm web` needs: missing must fail, not skip)
import pytest

from helpers import APPS
from helpers.home import PM, pid_alive, wait_for

CHATTY = str(APPS / "chatty.py")
GROWER = str(APPS / "grower.py")
#: History samples in the tests: often, so a chart moves within a second.
SAMPLE_INTERVAL_S = 0.25
STARTUP_TIMEOUT = 30.0


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class Web:
    """A running `pm web` and a small HTTP client for it."""

    proc: subprocess.Popen[bytes]
    base: str
    link: str
    token: str
    output: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return urlsplit(self.base).port or 80

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = "default",
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if token == "default":
            token = self.token
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        payload = raw
        if body is not None:
            payload = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=payload, headers=sent)
            response = conn.getresponse()
            return Reply(
                response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
            )
        finally:
            conn.close()

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.request("POST", path, body, **kwargs)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class LineReader:
    """Reads a child's stdout line by line with deadlines (no blocking readline)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.lines: list[str] = []
        self._buffer = b""
        self._next = 0

    def until(self, pattern: str, timeout: float) -> re.Match[str]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.fd, selectors.EVENT_READ)
            while True:
                while self._next < len(self.lines):
                    self._next += 1
                    match = regex.search(self.lines[self._next - 1])
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    break
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    break
                self._buffer += chunk
                *complete, self._buffer = self._buffer.split(b"\n")
                self.lines += [line.decode(errors="replace") for line in complete]
        raise AssertionError(
            f"pm web never printed {pattern!r}; output so far:\n" + "\n".join(self.lines)
        )


def start_web(pm: PM, *extra: str) -> Web:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pm",
            "web",
            "--port",
            "0",
            "--sample-interval",
            str(SAMPLE_INTERVAL_S),
            *extra,
        ],
        env=pm.env,
        cwd=pm.workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    reader = LineReader(proc)
    try:
        base = reader.until(r"listening on (http://\S+)", STARTUP_TIMEOUT).group(1)
        link = reader.until(r"Login link.*?: (http://\S+)", 5).group(1)
    except BaseException:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
        raise
    token = (pm.home / "web.token").read_text().strip()
    return Web(proc, base, link, token, reader.lines)


@pytest.fixture(name="web")
def web_fixture(pm: PM) -> Iterator[Web]:
    """`pm web` on a free port, with the daemon of the test's home already running."""
    pm.run("ping")
    server = start_web(pm)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="shared_pm", scope="session")
def shared_pm_fixture() -> Iterator[PM]:
    """One home and daemon for the web tests that do not kill it: starting and ending a daemon
    costs seconds, and the suite's budget is tight. Tests using it delete their apps first
    (`clean_pm`) and use app names of their own."""
    root = Path(tempfile.mkdtemp(prefix="pmw", dir="/tmp"))
    (root / "w").mkdir()
    instance = PM(root / "h", root / "w")
    try:
        instance.run("ping")
        yield instance
    finally:
        instance.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(name="shared_web", scope="session")
def shared_web_fixture(shared_pm: PM) -> Iterator[Web]:
    server = start_web(shared_pm)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="clean_pm")
def clean_pm_fixture(shared_pm: PM) -> PM:
    """The module's home with no apps in it."""
    shared_pm.run("delete", "all", "-s", check=False)
    assert shared_pm.jlist() == []
    return shared_pm


def start_chatty(pm: PM, name: str = "chatty", *extra: str, ticks: int = 1) -> dict[str, Any]:
    """Start tests/web/apps/chatty.py and wait until it has printed `ticks` lines.

    Its first line also means its SIGUSR1 handler is in place.
    """
    pm.run("start", CHATTY, "--name", name, *extra)
    entry = pm.wait_status(name, "online")
    out = Path(entry["pm2_env"]["pm_out_log_path"])
    wait_for(
        lambda: (
            out.exists()
            and out.read_text().count("tick 0\n") >= 1
            and out.read_text().rsplit("tick 0\n", 1)[1].count("tick") >= ticks - 1
        ),
        timeout=20,
        message=f"{ticks} lines from {name}",
    )
    return entry


def daemon_alive(pm: PM, pid: int) -> bool:
    return pid_alive(pid) and pm.daemon_pid() == pid
