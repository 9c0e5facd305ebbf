"""hypercorn under `listen`, as docs/zero-downtime.md gives it: `hypercorn --workers 0 --bind
fd://3 app:app` (hypercorn reads no LISTEN_FDS; `--workers 0` serves in the process pm starts)
serves the socket pm hands over, and a reload refuses no connection. Its graceful shutdown, as
uvicorn's, closes a connection it accepted but had not read yet: such a reset is the one
failure it may show, never a refused or timed-out request."""

from __future__ import annotations

import pytest
from helpers.home import PM, pid_alive, wait_for
from helpers.load import free_port, reload_under_load
from helpers.servers import (
    RESETS,
    documented,
    instance_pids,
    serving_instances,
    start_server,
    write_python_app,
)

HYPERCORN = {"script": "hypercorn", "args": "--workers 0 --bind fd://3 app:app"}
RELOADS = 3


def test_the_documented_line_is_the_tested_one() -> None:
    assert documented("hypercorn --workers 0 --bind fd://3 app:app")


@pytest.mark.needs("hypercorn")
def test_hypercorn_serves_the_socket_and_reloads_refusing_nothing(pm: PM) -> None:
    write_python_app(pm, "asgi")
    port = free_port()
    before = start_server(pm, "api", port, **HYPERCORN)
    wait_for(lambda: serving_instances(port, before) == before, 15, message="both instances")
    failures = reload_under_load(pm, "api", port, RELOADS)
    assert all(any(kind in failure for kind in RESETS) for failure in failures), failures
    assert len(failures) <= 2 * RELOADS, failures  # at most one per stopped process
    after = instance_pids(pm, "api")
    assert len(after) == 2 and not after & before and not any(pid_alive(p) for p in before)
    assert [entry["pm2_env"]["restart_time"] for entry in pm.jlist()] == [RELOADS] * 2
    wait_for(lambda: serving_instances(port, after) == after, 15, message="the new instances")
