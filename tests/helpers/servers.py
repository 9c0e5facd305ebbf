"""Real servers under `listen`, for tests/e2e/servers: gunicorn, uvicorn and hypercorn from
PyPI (the `test` extra installs them into the same environment as pytest) and Node's http.

Each test runs the command line docs/zero-downtime.md documents, word for word, on an `app.py`
written into the test's folder (tests/apps/pid_web.py: every answer is the serving pid).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from helpers import APPS, ROOT
from helpers.home import PM, wait_for
from helpers.load import get

#: Where pip put the servers' commands: first on PATH, as in a user's activated venv.
SERVER_BIN = Path(sys.executable).parent
ZERO_DOWNTIME = ROOT / "docs" / "zero-downtime.md"

#: Failures a stopping server makes itself: it closes a connection it accepted but has not read
#: yet (uvicorn's and hypercorn's graceful shutdown). Never a refused or timed-out request.
RESETS = ("ConnectionResetError", "RemoteDisconnected", "IncompleteRead")


def documented(command: str) -> bool:
    """Whether docs/zero-downtime.md gives this command line (in backquotes) word for word."""
    return f"`{command}`" in ZERO_DOWNTIME.read_text()


def write_python_app(pm: PM, kind: str) -> None:
    """app.py in the test's folder: pid_web.py, with `app` its `wsgi` or `asgi` callable."""
    source = (APPS / "pid_web.py").read_text()
    (pm.workdir / "app.py").write_text(f"{source}\n\napp = {kind}\n")


def start_server(pm: PM, name: str, port: int, **app: Any) -> set[int]:
    """Start 2 instances of the app behind `listen` on port, with the servers on PATH; wait
    until it answers; return the instances' pids."""
    spec = {"name": name, "instances": 2, "listen": f"127.0.0.1:{port}", **app}
    path = pm.workdir / f"{name}.json"
    path.write_text(json.dumps({"apps": [spec]}))
    env = dict(pm.env, PATH=f"{SERVER_BIN}:{pm.env.get('PATH', '')}")
    pm.run("start", str(path), env=env)
    wait_for(lambda: _answers(port), 30, 0.1, f"{name} to answer on {port}")
    return instance_pids(pm, name)


def instance_pids(pm: PM, name: str) -> set[int]:
    return {entry["pid"] for entry in pm.jlist() if entry["name"] == name}


def serving_instances(port: int, instances: set[int], asks: int = 40) -> set[int]:
    """The instances whose process (or one of its workers) answered asks requests."""
    return {_instance_of(get(port), instances) for _ in range(asks)}


def _answers(port: int) -> bool:
    try:
        get(port, timeout=2)
    except OSError:
        return False
    return True


def _instance_of(pid: int, instances: set[int]) -> int:
    """pid, or its nearest ancestor among instances (gunicorn answers from a worker)."""
    current = pid
    while current > 1 and current not in instances:
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
        except OSError:  # a worker that answered and has gone since
            return pid
        current = int(stat[stat.rfind(")") + 2 :].split()[1])
    return current if current in instances else pid
