"""`pm events [--json]`: print process events live, for scripts and monitoring."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click


def format_event(event: Any) -> str:
    """One human line: `2026-11-23T18:53:17 [api:0] exit status=stopped pid=0 code=1`."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(event.at / 1000))
    parts = [stamp, f"[{event.name}:{event.pm_id}]", event.event, f"status={event.status}"]
    if event.pid:
        parts.append(f"pid={event.pid}")
    if event.event == "exit":
        parts.append(f"code={event.exit_code}")
    reason = event.data.get("reason")
    if reason:
        parts.append(f"reason={reason!r}")
    return " ".join(parts)


@click.command("events")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def events(as_json: bool) -> None:
    """Print process events (online, exit, restart, stop, errored...) as they happen."""
    from pm.cli.base import client
    from pm.client.api import Connection

    conn = client()
    assert isinstance(conn, Connection)
    try:
        with conn.events() as stream:
            for event in stream:
                if as_json:
                    line = json.dumps({**event.data, "at": event.at})
                else:
                    line = format_event(event)
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
    except KeyboardInterrupt:
        pass
