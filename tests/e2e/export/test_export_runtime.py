"""pm-runtime in an image: examples/Dockerfile's entrypoint, and the container command `pm
export` writes when one image holds several apps, both run here without an engine (fast, and
where no engine can run); tests/e2e/engine builds the image and runs both on a real engine.

Exit codes and SIGTERM handling in general are tests/test_runtime.py's; these check that the
documented command lines work and that `-i 1` leaves one instance to each container.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT
from helpers.home import pid_alive, wait_for

import pm as pm_api
from pm.errors import PMError

DOCKERFILE = ROOT / "examples" / "Dockerfile"


def dockerfile() -> dict[str, Any]:
    """The instructions this test relies on: ENTRYPOINT and CMD (exec form), WORKDIR, COPY."""
    found: dict[str, Any] = {"COPY": []}
    for line in DOCKERFILE.read_text().splitlines():
        word, _, rest = line.partition(" ")
        if word in ("ENTRYPOINT", "CMD"):
            found[word] = json.loads(rest)
        elif word == "WORKDIR":
            found[word] = rest.strip()
        elif word == "COPY":
            found["COPY"].append(rest.split())
    return found


class Runtime:
    """pm-runtime in the background from the repository root, in its own PM_HOME."""

    def __init__(self, argv: list[str]) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="pmx", dir="/tmp"))
        self.out = self.home.parent / f"{self.home.name}.out"
        env = {k: v for k, v in os.environ.items() if k != "PM_HOME"}
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(
                [*argv, "--home", str(self.home)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.out.read_text()

    def apps(self) -> list[dict[str, Any]]:
        try:
            return [info.raw for info in pm_api.connect(self.home, autostart=False).list()]
        except PMError:
            return []

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for path in (self.home / "pids").glob("*.pid"):
            try:
                os.killpg(int(path.read_text()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        shutil.rmtree(self.home, ignore_errors=True)
        self.out.unlink(missing_ok=True)


@pytest.fixture
def runtimes() -> Iterator[list[Runtime]]:
    started: list[Runtime] = []
    yield started
    for runtime in started:
        runtime.end()


def _pm_runtime() -> str:
    script = Path(sys.executable).parent / "pm-runtime"
    return str(script) if script.exists() else "pm-runtime"


def _stop(runtime: Runtime) -> list[int]:
    """SIGTERM, as `docker stop` sends it; the app pids it had."""
    pids = [entry["pid"] for entry in runtime.apps() if entry["pid"]]
    runtime.proc.send_signal(signal.SIGTERM)
    assert runtime.proc.wait(20) == 0, runtime.text()
    return pids


def test_dockerfile_entrypoint_runs_the_example(runtimes: list[Runtime]) -> None:
    image = dockerfile()
    assert image["ENTRYPOINT"] == ["pm-runtime"] and image["WORKDIR"] == "/app"
    for *sources, _ in image["COPY"]:
        required = [source for source in sources if "*" not in source]  # wheels*: optional
        assert required and all((ROOT / source).exists() for source in required), sources
    # The image's command, here at the repository root (what /app holds), less the web app:
    # its port is fixed, and another run of the example may hold it on this shared machine.
    argv = [_pm_runtime(), *image["CMD"], "--only", "worker,ticker"]
    runtimes.append(runtime := Runtime(argv))
    wait_for(
        lambda: (
            "|ticker   | tick" in runtime.text()  # every app past its start-up, so
            and "|worker   | worker 0: processed job 1" in runtime.text()  # its SIGINT handling
            and "|worker   | worker 1: processed job 1" in runtime.text()
        ),
        20,  # is in place
        message="both apps' prefixed output",
    )
    pids = _stop(runtime)
    assert len(pids) == 3 and not any(pid_alive(pid) for pid in pids)
    assert "worker 0: shutting down after" in runtime.text()  # stopped with SIGINT, cleanly


def test_exported_container_command_runs_one_instance(runtimes: list[Runtime]) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pm",
            "export",
            "kubernetes",
            "ecosystem.example.json",
            "--image",
            "pm-example",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    workers = [
        doc for doc in yaml.safe_load_all(result.stdout) if doc["metadata"]["name"] == "worker"
    ]
    container = workers[0]["spec"]["template"]["spec"]["containers"][0]
    assert workers[0]["spec"]["replicas"] == 2 and container["workingDir"] == "/app"
    command = [word.replace("/app", str(ROOT)) for word in container["command"]]
    assert command[:2] == ["pm-runtime", "start"] and command[-2:] == ["-i", "1"]
    runtimes.append(runtime := Runtime([_pm_runtime(), *command[1:]]))
    wait_for(
        lambda: "worker 0: processed job 2" in runtime.text(), 20, message="the worker's output"
    )
    assert [entry["name"] for entry in runtime.apps()] == ["worker"]  # 1 of the file's 2
    [pid] = _stop(runtime)
    assert not pid_alive(pid)
