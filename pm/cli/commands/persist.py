"""`pm save|dump`, `resurrect`, `cleardump`, `update`, `startup`, `unstartup`."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from pm.cli import render
from pm.errors import NoProcess, PMError
from pm.paths import Home


def _client() -> Any:
    from pm.cli.base import client

    return client()


@click.command("save")
@click.option("-f", "--force", is_flag=True, help="Save even an empty list.")
def save(force: bool) -> None:
    """Save the process list to PM_HOME/dump."""
    click.echo(render.prefix("Saving current process list..."))
    try:
        result = _client().call("save", force=force or os.environ.get("FORCE") == "1")
    except NoProcess as exc:  # PM2: a warning, not a failure; the saved list is untouched
        click.echo(render.warn(exc.message), err=True)
        click.echo(render.warn("To force saving use: pm save --force"), err=True)
        return
    click.echo(render.prefix(f"Successfully saved in {result['path']}"))


@click.command("cleardump")
def cleardump() -> None:
    """Empty the saved process list (the previous one is kept as dump.bak)."""
    result = _client().call("cleardump")
    click.echo(render.prefix(f"Successfully created {result['path']}"))


@click.command("resurrect")
@click.option(
    "--from",
    "source",
    type=click.Path(dir_okay=False),
    help="A dump file to read instead of PM_HOME/dump, e.g. PM2's ~/.pm2/dump.pm2.",
)
@click.option("-s", "--silent", is_flag=True)
def resurrect(source: str | None, silent: bool) -> None:
    """Start the apps of the saved list (apps already known by name are skipped)."""
    path = os.path.abspath(source) if source else None
    click.echo(render.prefix(f"Restoring processes from {path or Home.from_env().dump}"))
    from pm.errors import NotFound

    try:
        result = _client().call("resurrect", **({"path": path} if path else {}))
    except NotFound as exc:
        if path:
            raise
        # Nothing saved is not a failure: a boot with an empty list must still bring pm up.
        click.echo(render.warn(exc.message), err=True)
        return
    for warning in result["warnings"]:
        click.echo(render.warn(warning), err=True)
    for name in result["skipped"]:
        click.echo(render.prefix(f"App [{name}] already known, not started again"))
    for entry in result["apps"]:
        click.echo(render.prefix(f"Process {entry['pm2_env'].get('pm_exec_path')} restored"))
    for error in result["errors"]:
        click.echo(render.error(error), err=True)
    if not silent:
        from pm.cli.base import print_table

        print_table()
    if result["errors"]:
        sys.exit(1)


@click.command("update")
def update() -> None:
    """Replace the running daemon (e.g. after upgrading pm) without stopping any app."""
    from pm.client.connection import Client

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
    click.echo(
        render.prefix(
            f"pm daemon updated (pid {old_pid} -> {info['pid']}, version {info['version']})"
        )
    )
    from pm.cli.base import print_table

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
        raise PMError(
            "the running daemon cannot hand its apps over (it predates `pm update`); "
            "run `pm save && pm kill && pm resurrect` instead"
        )
    return int(reply["result"]["pid"])


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] not in (b"Z", b"X")


# ------------------------------------------------------------ startup / unstartup


def _startup_options(func: Any) -> Any:
    options = [
        click.argument("platform", required=False, default="systemd"),
        click.option("-u", "--user", help="User the daemon runs as (default: you)."),
        click.option("--hp", "home", help="That user's home (PM_HOME becomes <hp>/.pm)."),
        click.option(
            "--service-name", help="Unit name (default: pm-<user>, or pm for --user-unit)."
        ),
        click.option(
            "--user-unit",
            is_flag=True,
            help="A `systemctl --user` unit in ~/.config/systemd/user (no root needed).",
        ),
        click.option("--wait-ip", is_flag=True, help="Start after network-online.target."),
        click.option(
            "--unit-dir",
            type=click.Path(file_okay=False),
            help="Write the unit into this folder instead (systemctl is not called).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _resolve(
    platform: str,
    user: str | None,
    home: str | None,
    service_name: str | None,
    user_unit: bool,
    wait_ip: bool,
) -> Any:
    from pm.cli import startup_unit as unit

    if platform != "systemd":
        raise PMError(f"init system {platform!r} is not supported; pm supports systemd")
    try:
        return unit.resolve(user, home, service_name, user_unit, wait_ip)
    except ValueError as exc:
        raise PMError(str(exc)) from None


def _needs_root(user_unit: bool, unit_dir: str | None) -> bool:
    return not user_unit and unit_dir is None and os.geteuid() != 0


@click.command("startup")
@_startup_options
@click.option("--print", "print_only", is_flag=True, help="Print the unit; install nothing.")
def startup(
    platform: str,
    user: str | None,
    home: str | None,
    service_name: str | None,
    user_unit: bool,
    wait_ip: bool,
    unit_dir: str | None,
    print_only: bool,
) -> None:
    """Start pm and resurrect the saved list at boot (systemd)."""
    from pm.cli import startup_unit as unit

    setup = _resolve(platform, user, home, service_name, user_unit, wait_ip)
    if print_only:
        click.echo(unit.unit_text(setup), nl=False)
        return
    if _needs_root(user_unit, unit_dir):
        click.echo(
            render.prefix(
                "To set up the startup script, copy/paste the following command "
                "(or use --user-unit for a unit of your own):"
            )
        )
        click.echo(unit.sudo_command(setup))
        sys.exit(1)
    for line in unit.install(setup, Path(unit_dir) if unit_dir else None):
        click.echo(render.prefix(line))
    click.echo(render.prefix("Freeze a process list on reboot via: $ pm save"))


@click.command("unstartup")
@_startup_options
def unstartup(
    platform: str,
    user: str | None,
    home: str | None,
    service_name: str | None,
    user_unit: bool,
    wait_ip: bool,
    unit_dir: str | None,
) -> None:
    """Remove the unit `pm startup` installed."""
    from pm.cli import startup_unit as unit

    setup = _resolve(platform, user, home, service_name, user_unit, wait_ip)
    if _needs_root(user_unit, unit_dir):
        click.echo(render.prefix("To remove the startup script, copy/paste the following command:"))
        click.echo(unit.sudo_command(setup, "unstartup"))
        sys.exit(1)
    for line in unit.uninstall(setup, Path(unit_dir) if unit_dir else None):
        click.echo(render.prefix(line))
