"""The `pm` entry point: answers `pm jlist` without loading click; the rest goes to pm.cli.main.

`jlist` is what scripts and dashboards poll, so it should cost little more than starting Python:
it imports only the client (socket, json) and copies the daemon's result bytes to stdout without
decoding and re-encoding them. Anything unusual (other arguments, an error) goes through the
full CLI, which reports it the usual way.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    if sys.argv[1:] == ["jlist"] and fast_jlist():
        return
    from pm.cli.main import main as cli_main

    cli_main()


def fast_jlist() -> bool:
    """Print the process list as JSON; False (nothing printed) if the daemon gave an error."""
    from pm.client.connection import Client
    from pm.errors import PMError

    try:
        raw = Client().call_raw("list")
    except (PMError, OSError):  # the full CLI reports it (one line) or retries
        return False
    try:
        sys.stdout.buffer.write(raw + b"\n")
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return True
