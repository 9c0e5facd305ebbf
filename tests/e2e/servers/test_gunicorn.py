"""gunicorn under `listen`, as docs/zero-downtime.md gives it: `gunicorn app:app` finds the
socket pm hands over through systemd's variables (LISTEN_FDS, LISTEN_PID) and serves it; with
`kill_signal: SIGTERM` (its graceful stop: a worker finishes its request; SIGINT, pm's default,
is its quick one) reloads fail no request. `--bind fd://3` beside LISTEN_FDS made gunicorn open
fd 3 twice and crash-loop (EBADF): that line is gone from the docs."""

from __future__ import annotations

import pytest
from helpers.home import PM, pid_alive, wait_for
from helpers.load import free_port, reload_under_load
from helpers.servers import (
    documented,
    instance_pids,
    serving_instances,
    start_server,
    write_python_app,
)

GUNICORN = {"script": "gunicorn", "args": "app:app", "kill_signal": "SIGTERM"}


def test_the_documented_line_is_the_tested_one() -> None:
    assert documented("gunicorn app:app") and documented('"kill_signal": "SIGTERM"')
    assert not documented("gunicorn --bind fd://3 app:app")


@pytest.mark.needs("gunicorn")
def test_gunicorn_serves_the_socket_and_reloads_with_no_failed_request(pm: PM) -> None:
    write_python_app(pm, "wsgi")
    port = free_port()
    before = start_server(pm, "web", port, **GUNICORN)
    assert len(before) == 2
    wait_for(lambda: serving_instances(port, before) == before, 15, message="both instances")
    failures = reload_under_load(pm, "web", port, 5)
    assert failures == [], failures[:5]
    entries = pm.jlist()
    after = instance_pids(pm, "web")
    assert len(after) == 2 and not after & before
    assert [entry["pm2_env"]["restart_time"] for entry in entries] == [5, 5]  # no crash loop
    assert not any(pid_alive(pid) for pid in before)
    wait_for(lambda: serving_instances(port, after) == after, 15, message="the new instances")
