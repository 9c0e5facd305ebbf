"""Node apps in cluster mode (PM2's default for a Node script given `instances`): each instance
is a Node cluster worker whose `listen()` pm answers as Node's cluster primary does, so the
instances share one port; `pm reload` replaces them one at a time, each once its successor
listens, with no failed request."""

from __future__ import annotations

import json

import pytest
from helpers.home import PM, pid_alive, wait_for
from helpers.load import free_port, get, reload_under_load

pytestmark = pytest.mark.needs("node")

SERVER = """
const http = require('http');
const server = http.createServer((req, res) => res.end(`${process.pid}\\n`));
server.listen(Number(process.env.PORT));
process.on('SIGINT', () => server.close(() => process.exit(0)));  // finish what was accepted
"""


def answering(port: int) -> set[int]:
    """The pids that answered 40 requests (none while no worker listens yet)."""
    try:
        return {get(port) for _ in range(40)}
    except OSError:
        return set()


def test_instances_share_a_port_and_reload_without_a_failed_request(pm: PM) -> None:
    port = free_port()
    script = pm.write_app("server.js", SERVER)
    (pm.workdir / "eco.json").write_text(
        json.dumps(
            {
                "apps": [
                    {
                        "name": "http",
                        "script": str(script),
                        "instances": 2,
                        "env": {"PORT": str(port)},
                    }
                ]
            }
        )
    )
    pm.run("start", str(pm.workdir / "eco.json"))
    entries = pm.jlist()
    assert [e["pm2_env"]["exec_mode"] for e in entries] == ["cluster_mode", "cluster_mode"]
    before = {entry["pid"] for entry in entries}
    wait_for(
        lambda: answering(port) == before, 10, message="both workers to answer on the one port"
    )
    failures = reload_under_load(pm, "http", port, 3)
    assert failures == [], failures[:5]
    after = {entry["pid"] for entry in pm.jlist()}
    assert len(after) == 2 and not after & before
    assert not any(pid_alive(pid) for pid in before)
    pm.run("delete", "http")
    log = (pm.home / "pm.log").read_text()
    assert f"Closed [::]:{port}: no app listens on it any more" in log
