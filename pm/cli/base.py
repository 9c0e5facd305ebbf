"""What every command shares: the connection to the daemon and the process table.

Commands import these from here, never from pm.cli.main, so the group that lists the commands
and the commands themselves do not import each other.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

import click

from pm.cli import render
from pm.client.connection import Client


def quiet_broken_pipe() -> None:
    """Output piped into `head` that closed early: exit quietly, as a Unix tool should."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


def client() -> Client:
    """The command's connection: the Python API's `Connection`, so CLI and API cannot drift."""
    ctx = click.get_current_context()
    if ctx.obj is None:
        from pm.client.api import Connection

        ctx.obj = Connection()
    return ctx.obj  # type: ignore[no-any-return]


def print_table(entries: list[dict[str, Any]] | None = None) -> None:
    if entries is None:
        entries = client().call("list")
    width = shutil.get_terminal_size((200, 24)).columns
    click.echo(render.table(entries, render.narrow_columns(width)))
