"""`pm web`: serve the dashboard, the HTTP API and /metrics (PM2's `pm2 web`, made safe).

aiohttp is imported only when the server runs, so `pm --help` and `pm list` stay fast, and a
pm installed without the `web` extra says how to get it.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path
from typing import Any

import click

from pm.cli import render
from pm.errors import PMError
from pm.paths import Home
from pm.web.run import DEFAULT_INTERVAL_S, DEFAULT_PORT, MAX_INTERVAL_S, MIN_INTERVAL_S, is_loopback

DEFAULT_NAME = "pm-web"
READY_TIMEOUT_S = 15.0


def _echo(line: str) -> None:
    click.echo(render.prefix(line))
    sys.stdout.flush()  # a supervisor or a test may be reading our stdout line by line


@click.command("web")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="TCP port (0 picks a free one).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow listening on a non-loopback address (prints a warning).",
)
@click.option(
    "--daemon",
    "as_app",
    is_flag=True,
    help=f"Run the server under pm, as the app '{DEFAULT_NAME}'.",
)
@click.option("--name", default=DEFAULT_NAME, show_default=True, help="App name with --daemon.")
@click.option(
    "--link",
    "link_only",
    is_flag=True,
    help="Only print a new one-time login link for a server already running.",
)
@click.option(
    "--sample-interval",
    "interval_s",
    default=DEFAULT_INTERVAL_S,
    show_default=True,
    type=click.FloatRange(MIN_INTERVAL_S, MAX_INTERVAL_S),
    metavar="SECONDS",
    help="How often the dashboard samples cpu and memory for its charts (it keeps an hour).",
)
@click.option(
    "--remote",
    "remote_names",
    multiple=True,
    metavar="NAME",
    help="Show another host too, reached over ssh (names as for pm --host; repeat or a,b).",
)
@click.option(
    "--all-hosts", is_flag=True, help="Show every host of ./ecosystem.*'s deploy section too."
)
def web(
    port: int,
    host: str,
    allow_remote: bool,
    as_app: bool,
    name: str,
    link_only: bool,
    interval_s: float,
    remote_names: tuple[str, ...],
    all_hosts: bool,
) -> None:
    """Web dashboard, JSON API (/openapi.json) and Prometheus /metrics.

    Every request needs the token kept in PM_HOME/web.token: as 'Authorization: Bearer
    <token>', or through the one-time login link printed here, which sets a cookie.
    """
    if not is_loopback(host):
        if not allow_remote:
            raise click.UsageError(
                f"refusing to listen on {host}, which other machines can reach; pass "
                "--allow-remote to do it anyway, or keep the default 127.0.0.1"
            )
        click.echo(
            render.warn(
                f"listening on {host}: anyone who can reach this address and holds the token can "
                "control your apps, over plain HTTP. Prefer 127.0.0.1 behind an SSH tunnel or a "
                "TLS proxy."
            ),
            err=True,
        )
    from pm.cli import hosts

    remotes = hosts.all_hosts() if all_hosts else hosts.resolve(remote_names)
    home = Home.from_env()
    from pm.web import auth

    token = auth.load_or_create_token(home)
    if not link_only:
        _require_aiohttp()
    if link_only:
        _echo(f"Login link (one use, {auth.LINK_TTL_S // 60} min): {_login_url(host, port, token)}")
        return
    if as_app:
        _start_as_app(home, host, port, allow_remote, name, token, interval_s, remotes)
        return
    _serve(home, host, port, interval_s, remotes)


def _login_url(host: str, port: int, token: str) -> str:
    from pm.web import auth

    return auth.login_url(auth.base_url(host, port), token)


def _require_aiohttp() -> None:
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        raise PMError("pm web needs aiohttp: pip install 'pm-process-manager[web]'") from None


def _check_port_free(host: str, port: int) -> None:
    """Fail now, clearly, rather than let the app crash-loop on a taken port."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PMError(f"cannot resolve --host {host}: {exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise PMError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                "choose another --port (is a pm web already running?)"
            ) from None


def _serve(home: Home, host: str, port: int, interval_s: float, remotes: list[Any]) -> None:
    from pm.web.run import serve_until_signal

    serve_until_signal(home, host, port, _echo, interval_s, remotes)


def _start_as_app(
    home: Home,
    host: str,
    port: int,
    allow_remote: bool,
    name: str,
    token: str,
    interval_s: float,
    remotes: list[Any],
) -> None:
    """Start the server as a pm app, wait for its port, print the login link."""
    from pm.client.connection import Client
    from pm.config.spec import AppSpec

    if port == 0:
        raise click.UsageError("--daemon needs a fixed --port (0 would hide the port it picks)")
    _check_port_free(host, port)
    args = ["--port", str(port), "--host", host, "--sample-interval", str(interval_s)]
    args += ["--allow-remote"] if allow_remote else []
    if remotes:  # resolved here, where the ecosystem file is: the app runs in PM_HOME
        import dataclasses
        import json

        args += ["--remote-hosts", json.dumps([dataclasses.asdict(one) for one in remotes])]
    import pm.web

    spec = AppSpec(
        script=str(Path(pm.web.__file__).resolve().parent / "__main__.py"),
        name=name,
        interpreter=sys.executable,
        args=args,
        cwd=str(home.root),
    )
    client = Client(home)
    entries: list[dict[str, Any]] = client.start_apps([spec.to_dict()])["entries"]
    _echo(f"Started web server as app [{name}]({entries[0]['pm_id'] if entries else '?'})")
    if not _wait_listening(host, port, client, name):
        raise PMError(
            f"the web server did not start listening on {host}:{port}; see `pm logs {name}`"
        )
    from pm.web import auth

    _echo(f"Login link (one use, {auth.LINK_TTL_S // 60} min): {_login_url(host, port, token)}")


def _wait_listening(host: str, port: int, client: Any, name: str) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    connect_host = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((connect_host.strip("[]"), port), timeout=0.5):
                return True
        except OSError:
            pass
        statuses = [e["pm2_env"]["status"] for e in client.call("list") if e["name"] == name]
        if statuses and all(status in ("errored", "stopped") for status in statuses):
            return False
        time.sleep(0.1)
    return False
