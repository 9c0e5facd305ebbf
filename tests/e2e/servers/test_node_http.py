"""Node's http server under `listen`, as docs/zero-downtime.md gives it: the script calls
`server.listen({fd: 3})`; with `listen` a Node app given instances runs in fork mode (not
cluster), its instances sharing the socket pm hands over, and reloads fail no request."""

from __future__ import annotations

import pytest
from helpers import APPS
from helpers.home import PM, pid_alive, wait_for
from helpers.load import free_port, reload_under_load
from helpers.servers import documented, instance_pids, serving_instances, start_server

LISTEN_ON_FD_3 = "server.listen({fd: 3})"


def test_the_documented_line_is_the_tested_one() -> None:
    assert documented(LISTEN_ON_FD_3)
    assert LISTEN_ON_FD_3 in (APPS / "pid_web.js").read_text()


@pytest.mark.needs("node")
def test_node_http_serves_the_socket_and_reloads_with_no_failed_request(pm: PM) -> None:
    port = free_port()
    before = start_server(pm, "site", port, script=str(APPS / "pid_web.js"))
    assert {entry["pm2_env"]["exec_mode"] for entry in pm.jlist()} == {"fork_mode"}
    wait_for(lambda: serving_instances(port, before) == before, 15, message="both instances")
    failures = reload_under_load(pm, "site", port, 3)
    assert failures == [], failures[:5]
    after = instance_pids(pm, "site")
    assert len(after) == 2 and not after & before and not any(pid_alive(p) for p in before)
    wait_for(lambda: serving_instances(port, after) == after, 15, message="the new instances")
