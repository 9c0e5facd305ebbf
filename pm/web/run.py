"""Run the web server in this process until SIGINT/SIGTERM, announcing where it listens.

Shared by `pm web` in the foreground and by `python -m pm.web` (how `pm web --daemon` runs it
as a pm app), so both print the same lines and fail the same way.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pm.errors import PMError
from pm.paths import Home
from pm.web.history import INTERVAL_S

if TYPE_CHECKING:
    from pm.client.remote import RemoteHost

DEFAULT_INTERVAL_S = INTERVAL_S

DEFAULT_PORT = 9615
#: The range `--sample-interval` accepts (seconds between two history samples).
MIN_INTERVAL_S, MAX_INTERVAL_S = 0.1, 60.0


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (the default; anything else is opt-in)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve_until_signal(
    home: Home,
    host: str,
    port: int,
    echo: Callable[[str], None],
    interval_s: float = DEFAULT_INTERVAL_S,
    remotes: Sequence[RemoteHost] = (),
) -> None:
    """Serve the dashboard, API and /metrics; `echo` prints one announcement line; history
    samples cpu and memory every interval_s; remotes are other hosts shown beside this one."""
    from pm.web import auth
    from pm.web.server import serve

    token = auth.load_or_create_token(home)

    def announce(base: str) -> None:
        echo(f"Web dashboard listening on {base}")
        echo(f"Login link (one use, {auth.LINK_TTL_S // 60} min): {auth.login_url(base, token)}")
        echo(
            f"API token: {auth.token_path(home)} (send 'Authorization: Bearer <token>'); "
            f"API description: {base}/openapi.json"
        )
        if remotes:
            echo(f"Other hosts, over ssh: {', '.join(host.label for host in remotes)}")

    try:
        asyncio.run(serve(home, host, port, announce, interval_s, remotes))
    except OSError as exc:
        raise PMError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
            "choose another --port or --host"
        ) from None
