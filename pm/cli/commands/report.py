"""`pm report`: what to paste into a bug report (PM2's `report`): versions, the home, the
daemon, the apps' states and the end of the daemon's log."""

from __future__ import annotations

import collections
import platform
import sys

import click

from pm.cli.base import client
from pm.errors import PMError
from pm.version import __version__

LOG_LINES = 20


@click.command("report")
def report() -> None:
    """Print pm's versions, home, daemon, apps and last log lines, for a bug report."""
    connection = client()
    home = connection.home
    click.echo(f"pm {__version__}, Python {platform.python_version()} ({sys.executable})")
    click.echo(f"system: {platform.platform()}")
    click.echo(f"PM_HOME: {home.root}")
    try:
        hello = connection.call("hello")
        entries = connection.call("list")
    except PMError as exc:
        click.echo(f"daemon: not answering ({exc.message})")
    else:
        click.echo(
            f"daemon: pid {hello['pid']}, pm {hello['version']}, protocol {hello['protocol']}"
        )
        states = collections.Counter(entry["pm2_env"]["status"] for entry in entries)
        summary = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
        click.echo(f"apps: {len(entries)}" + (f" ({summary})" if summary else ""))
        for entry in entries:
            env = entry["pm2_env"]
            click.echo(
                f"  {entry['pm_id']} {entry['name']}: {env['status']}, "
                f"{env['restart_time']} restarts, {env.get('pm_exec_path')}"
            )
    click.echo(f"last lines of {home.daemon_log}:")
    try:
        lines = home.daemon_log.read_text(errors="replace").splitlines()[-LOG_LINES:]
    except OSError as exc:
        lines = [f"(cannot read: {exc.strerror})"]
    for line in lines:
        click.echo(f"  {line}")
