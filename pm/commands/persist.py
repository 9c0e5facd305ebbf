"""`pm save|dump`, `resurrect`, `cleardump`, `update`, `startup`, `unstartup`.

Kept light at import time: `pm list` imports `sync_warning` from here.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from pm import render
from pm.errors import PMError
from pm.paths import Home

OUT_OF_SYNC = ("Current process list is not synchronized with saved list. "
               "Type 'pm save' to synchronize.")


def sync_warning(entries: list[dict[str, Any]], home: Home | None = None) -> str | None:
    """PM2's `ls` warning when the running names differ from the saved ones (no dump: none)."""
    home = home or Home.from_env()
    try:
        saved = json.loads(home.dump.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(saved, list):
        return None
    saved_names = sorted(str((item.get("spec") or item).get("name", ""))
                         for item in saved if isinstance(item, dict))
    running = sorted(str(entry.get("name", "")) for entry in entries)
    return None if saved_names == running else OUT_OF_SYNC


def _client() -> Any:
    from pm.cli import client

    return client()


@click.command("save")
@click.option("-f", "--force", is_flag=True, help="Save even an empty list.")
def save(force: bool) -> None:
    """Save the process list to PM_HOME/dump (alias: dump)."""
    click.echo(render.prefix("Saving current process list..."))
    result = _client().call("save", force=force or os.environ.get("FORCE") == "1")
    click.echo(render.prefix(f"Successfully saved in {result['path']}"))


@click.command("cleardump")
def cleardump() -> None:
    """Empty the saved process list (the previous one is kept as dump.bak)."""
    result = _client().call("cleardump")
    click.echo(render.prefix(f"Successfully created {result['path']}"))


@click.command("resurrect")
@click.option("--from", "source", type=click.Path(dir_okay=False),
              help="A dump file to read instead of PM_HOME/dump, e.g. PM2's ~/.pm2/dump.pm2.")
@click.option("-s", "--silent", is_flag=True)
def resurrect(source: str | None, silent: bool) -> None:
    """Start the apps of the saved list (apps already known by name are skipped)."""
    path = os.path.abspath(source) if source else None
    click.echo(render.prefix(f"Restoring processes from {path or Home.from_env().dump}"))
    result = _client().call("resurrect", **({"path": path} if path else {}))
    for warning in result["warnings"]:
        click.echo(render.warn(warning), err=True)
    for name in result["skipped"]:
        click.echo(render.prefix(f"App [{name}] already known, not started again"))
    for entry in result["apps"]:
        click.echo(render.prefix(f"Process {entry['pm2_env'].get('pm_exec_path')} restored"))
    for error in result["errors"]:
        click.echo(render.error(error), err=True)
    if not silent:
        from pm.cli import print_table

        print_table()
    if result["errors"]:
        sys.exit(1)


@click.command("update")
def update() -> None:
    """Replace the running daemon (e.g. after upgrading pm) without stopping any app."""
    from pm.client import Client

    client = Client(autostart=False)
    if not client.daemon_running():
        raise PMError("no pm daemon is running; nothing to update")
    click.echo(render.prefix("Saving the process list and handing the apps to a new daemon..."))
    old_pid = _exit_leaving_apps(client)
    deadline = time.monotonic() + 30
    while _alive(old_pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    if _alive(old_pid):
        raise PMError(f"the old daemon (pid {old_pid}) did not exit; see {client.home.daemon_log}")
    fresh = Client()
    info = fresh.call("hello")
    click.echo(render.prefix(f"pm daemon updated (pid {old_pid} -> {info['pid']}, "
                             f"version {info['version']})"))
    from pm.cli import print_table

    print_table(fresh.call("list"))


def _exit_leaving_apps(client: Any) -> int:
    """Ask the daemon to save and exit leaving apps running; an old daemon is asked without the
    protocol version (so a version mismatch cannot refuse it)."""
    import socket

    from pm import protocol

    def raw(cmd: str, **args: Any) -> dict[str, Any]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(60)
            sock.connect(str(client.home.socket))
            sock.sendall(protocol.encode({"id": 1, "cmd": cmd, "args": args}))
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            sock.close()
        return protocol.decode(data)

    saved = raw("save", force=False)
    if not saved.get("ok") and saved.get("error", {}).get("code") != "conflict":
        raise PMError(f"could not save the process list: {saved.get('error', {}).get('message')}")
    reply = raw("exit_leaving_apps")
    if not reply.get("ok"):
        raise PMError("the running daemon cannot hand its apps over (it predates `pm update`); "
                      "run `pm save && pm kill && pm resurrect` instead")
    return int(reply["result"]["pid"])


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3] not in (b"Z", b"X")
