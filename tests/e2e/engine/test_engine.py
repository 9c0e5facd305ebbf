"""pm on a real container engine (Debian's docker.io, started by conftest.py in a namespace of
its own): examples/Dockerfile's image runs the example with pm-runtime as PID 1, and what
`pm export compose` writes runs on a single-node Swarm; the Kubernetes export's command runs in
the same image as a kubelet would run it.

All in one file on purpose: pytest-xdist gives a file to one worker, so the session's engine
and its images are built once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT
from helpers.engine import SWARM_ADDRESS, Engine, poll, wait_running

PROJECT = Path(__file__).resolve().parent / "project"
STACK = "pmt"


def _kill_pid_1(engine: Engine, container: str) -> None:
    """SIGKILL the container's PID 1 from outside (inside, PID 1 ignores it): a real crash."""
    pid = int(engine.inspect(container, "{{.State.Pid}}"))
    os.kill(pid, signal.SIGKILL)


def _logs(engine: Engine, container: str) -> tuple[str, str]:
    result = engine.docker("logs", container)
    return result.stdout, result.stderr


def test_example_image_serves_restarts_and_stops_cleanly(engine: Engine) -> None:
    engine.docker(
        "run",
        "-d",
        "--name",
        "example",
        "-p",
        "8765:8765",
        "--restart",
        "unless-stopped",
        "pm-example",
    )
    body = poll(lambda: engine.http_get(8765), 30, "the web app on the published port")
    assert body.startswith("hello from web (pid ")
    out, _ = poll(
        lambda: (logs := _logs(engine, "example"))[0].count("processed job") >= 2 and logs,
        20,
        "both workers' output in docker logs",
    )
    assert "0|web      | listening on 0.0.0.0:8765" in out
    assert "worker 0: processed job" in out and "worker 1: processed job" in out
    assert "3|ticker   | tick " in out

    _kill_pid_1(engine, "example")
    wait_running(engine, "example", restarts=1)  # the engine's policy, not pm, restarted it
    assert poll(lambda: engine.http_get(8765), 30, "the web app after the restart")

    engine.docker("stop", "-t", "10", "example", timeout=60)
    assert engine.inspect("example", "{{.State.ExitCode}}") == "0"
    out, err = _logs(engine, "example")
    # SIGTERM reached pm-runtime, which stopped every app with SIGINT (PM2's signal)
    last_run = out.split("PM log: daemon started")[-1]
    assert "0|web      | web: stopped" in last_run
    assert "worker 0: shutting down after" in last_run
    assert "PM log: daemon stopped" in last_run
    assert "Traceback" not in out + err
    engine.docker("rm", "example")


def test_container_exits_with_the_apps_status(engine: Engine, tmp_path: Path) -> None:
    shutil.copy(PROJECT / "once.py", tmp_path / "once.py")
    (tmp_path / "job.json").write_text(
        '{"apps": [{"name": "job", "script": "/job/once.py", "args": ["3"], "autorestart": false}]}'
    )
    result = engine.docker(
        "run",
        "--rm",
        "-v",
        f"{tmp_path}:/job:ro",
        "pm-example",
        "start",
        "/job/job.json",
        check=False,
        timeout=60,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "0|job      | job done, exiting 3" in result.stdout


@pytest.fixture(scope="module")
def project(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test project (tests/e2e/engine/project with the example's worker) in an image."""
    folder = tmp_path_factory.mktemp("project")
    shutil.copytree(PROJECT, folder, dirs_exist_ok=True)
    shutil.copy(ROOT / "examples" / "worker.py", folder / "worker.py")
    engine.docker(
        "build", "-q", "--network", "none", "-t", "pm-stack-test", str(folder), timeout=120
    )
    return folder


def _export(project: Path, target: str) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pm",
            "export",
            target,
            "ecosystem.json",
            "--image",
            "pm-stack-test",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def _replicas(engine: Engine) -> dict[str, str]:
    lines = engine.docker("service", "ls", "--format", "{{.Name}} {{.Replicas}}").stdout
    return dict(line.split() for line in lines.splitlines())


def _tasks(engine: Engine, service: str) -> list[str]:
    return engine.docker(
        "service", "ps", f"{STACK}_{service}", "--format", "{{.CurrentState}}"
    ).stdout.splitlines()


def _running_container(engine: Engine, service: str) -> str:
    return engine.docker(
        "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={STACK}_{service}"
    ).stdout.strip()


def test_compose_export_runs_on_a_single_node_swarm(engine: Engine, project: Path) -> None:
    (project / "compose.yaml").write_text(_export(project, "compose"))
    engine.docker("swarm", "init", "--advertise-addr", SWARM_ADDRESS)
    engine.docker("stack", "deploy", "-c", str(project / "compose.yaml"), STACK, timeout=120)
    expected = {f"{STACK}_api": "1/1", f"{STACK}_worker": "2/2", f"{STACK}_once": "0/1"}
    try:
        poll(
            lambda: (
                _replicas(engine) == expected
                and any(state.startswith("Complete") for state in _tasks(engine, "once"))
            ),
            60,
            f"services at {expected}, the one-shot job complete",
        )
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}: {_replicas(engine)}, once: {_tasks(engine, 'once')}, "
            f"{engine.docker('service', 'logs', f'{STACK}_once').stdout}"
        ) from None
    assert poll(lambda: engine.http_get(18080), 30, "the api on its published port").startswith(
        "api on "
    )

    first = poll(lambda: _running_container(engine, "api"), 10, "the api's container")
    _kill_pid_1(engine, first)
    second = poll(
        lambda: (now := _running_container(engine, "api")) not in ("", first) and now,
        60,
        "Swarm's new api task",
    )
    assert second != first
    assert poll(lambda: engine.http_get(18080), 30, "the api after its restart")
    assert len(_tasks(engine, "once")) == 1  # autorestart false: run once, never restarted

    logs = engine.docker("service", "logs", f"{STACK}_worker").stdout
    assert "worker 0: processed job" in logs  # each replica is one pm instance (-i 1)
    assert "worker 1:" not in logs
    engine.docker("stack", "rm", STACK)
    poll(lambda: not engine.docker("ps", "-q").stdout.strip(), 60, "the stack's containers gone")


def test_kubernetes_export_runs_in_the_same_image(engine: Engine, project: Path) -> None:
    """The manifests validate offline; a container's command runs in the image as a kubelet
    runs it (`command` in place of the image's entrypoint, in `workingDir`)."""
    import kubernetes_validate

    documents: list[dict[str, Any]] = list(yaml.safe_load_all(_export(project, "kubernetes")))
    for document in documents:
        kubernetes_validate.validate(document, "1.30", strict=True)
    [worker] = [
        d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == "worker"
    ]
    assert worker["spec"]["replicas"] == 2
    spec = worker["spec"]["template"]["spec"]["containers"][0]
    assert spec["image"] == "pm-stack-test"
    command = spec["command"]
    engine.docker(
        "run",
        "-d",
        "--name",
        "k8s-worker",
        "-w",
        spec["workingDir"],
        "--entrypoint",
        command[0],
        "pm-stack-test",
        *command[1:],
    )
    poll(
        lambda: "worker 0: processed job 2" in _logs(engine, "k8s-worker")[0],
        20,
        "the worker's output",
    )
    engine.docker("stop", "k8s-worker", timeout=60)
    assert engine.inspect("k8s-worker", "{{.State.ExitCode}}") == "0"
    engine.docker("rm", "k8s-worker")
