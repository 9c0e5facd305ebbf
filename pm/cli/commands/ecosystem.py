"""Commands on ecosystem files: startOrRestart, startOrReload, reload, scale, init/ecosystem,
and the file half of start/restart/stop/delete (`file_action`, `apply_specs`).

PM2's rule for a file: an app whose name is already managed is restarted (startOrReload:
reloaded) with the file's settings and environment (updateEnv implied); the others are started.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from pm.cli import render
from pm.client.connection import Client
from pm.config.spec import AppSpec
from pm.errors import ConfigError, PMError


def _client() -> Client:
    from pm.cli.base import client

    return client()


def _echo_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        click.echo(render.warn(warning), err=True)


def _only(only: str | None) -> list[str] | None:
    return [name.strip() for name in only.split(",") if name.strip()] if only else None


def load_files(
    paths: list[str], env_name: str | None, only: list[str] | None, check_scripts: bool = True
) -> list[AppSpec]:
    """Every app of the files, validated as a whole before anything is sent."""
    from pm.config.ecosystem import load_file
    from pm.config.readers import STDIN

    specs: list[AppSpec] = []
    for path in paths:
        if path != STDIN and not os.path.isfile(path):
            raise ConfigError(f"{path}: no such file")
        loaded = load_file(path, env_name, only, check_scripts=check_scripts)
        _echo_warnings(loaded.warnings)
        specs += loaded.specs
    return specs


def apply_specs(
    client: Client,
    specs: list[AppSpec],
    table: list[dict[str, Any]] | None = None,
    reload: bool = False,
) -> list[dict[str, Any]]:
    """Send a file's apps to the daemon: restart (reload) known names, start the others.

    table, when given, receives the whole process table as it stood right after (one round
    trip instead of two for the table the CLI prints next)."""
    result = client.start_apps(
        [spec.to_dict() for spec in specs],
        from_file=True,
        with_table=table is not None,
        reload=reload,
    )
    if table is not None:
        table[:] = result["table"]
    entries: list[dict[str, Any]] = result["entries"]
    if result["started"]:
        click.echo(
            render.prefix(f"Applications {', '.join(result['started'])} not running, starting...")
        )
    for name in result["restarted"]:
        ids = [entry["pm_id"] for entry in entries if entry["name"] == name]
        click.echo(
            render.prefix(
                f"Applying action restartProcessId on app [{name}]"
                f"(ids: [ {', '.join(map(str, ids))} ])"
            )
        )
    for name in result["started"]:
        count = sum(1 for entry in entries if entry["name"] == name)
        click.echo(
            render.prefix(f"App [{name}] launched ({count} instance{'s' if count > 1 else ''})")
        )
    return entries


def is_file_target(target: str) -> bool:
    from pm.config.ecosystem import is_ecosystem_source

    return is_ecosystem_source(target)


def file_action(
    client: Client, cmd: str, targets: tuple[str, ...] | list[str], extra: dict[str, Any]
) -> list[str]:
    """Act on the apps of the file targets; return the targets that are not files.

    Removes the file-only options (`env_name`, `only`) from extra.
    """
    env_name = extra.pop("env_name", None)
    only = _only(extra.pop("only", None))
    files = [target for target in targets if is_file_target(target)]
    rest = [target for target in targets if target not in files]
    if not files:
        if env_name:
            raise PMError("Using --env [env] without passing the ecosystem file does not work")
        if only:
            raise PMError("--only picks apps of an ecosystem file; name the file too")
        return rest
    if cmd in ("restart", "reload"):
        apply_specs(client, load_files(files, env_name, only), reload=cmd == "reload")
        return rest
    names = [spec.name for spec in load_files(files, env_name, only, check_scripts=False)]
    known = {entry["name"] for entry in client.call("list")}
    missing = [name for name in names if name not in known]
    if missing:
        click.echo(render.warn(f"Applications {', '.join(missing)} not running"), err=True)
    present = list(dict.fromkeys(name for name in names if name in known))
    if present:
        entries = client.call(cmd, targets=present)
        verb = {"stop": "stopped", "delete": "deleted"}.get(cmd, cmd)
        for entry in entries:
            click.echo(render.prefix(f"[{entry['name']}]({entry['pm_id']}) ✓ {verb}"))
    return rest


def _print_table(silent: bool) -> None:
    if not silent:
        from pm.cli.base import print_table

        print_table()


# ------------------------------------------------------------ commands


def _file_command(name: str, help_text: str) -> click.Command:
    @click.command(name, help=help_text)
    @click.argument("files", nargs=-1, required=True)
    @click.option("--env", "env_name", help="Apply env_<name> from the file.")
    @click.option("--only", help="Only these apps of the file (a,b).")
    @click.option(
        "-a",
        "--update-env",
        is_flag=True,
        help="Accepted for PM2 compatibility: a file's env is always applied.",
    )
    @click.option("-s", "--silent", is_flag=True, help="Do not print the table.")
    def command(
        files: tuple[str, ...],
        env_name: str | None,
        only: str | None,
        update_env: bool,
        silent: bool,
    ) -> None:
        not_files = [path for path in files if not is_file_target(path)]
        if not_files:
            raise PMError(
                f"{name} takes ecosystem files (.json, .yaml, .config.js); "
                f"{', '.join(not_files)} is not one"
            )
        apply_specs(
            _client(),
            load_files(list(files), env_name, _only(only)),
            reload=name != "startOrRestart",
        )
        _print_table(silent)

    return command


start_or_restart = _file_command(
    "startOrRestart", "Start the file's apps, restarting those already running."
)
start_or_reload = _file_command(
    "startOrReload", "Start the file's apps, reloading those running (see `pm reload`)."
)
start_or_graceful_reload = _file_command(
    "startOrGracefulReload", "Same as startOrReload (kept for PM2 compatibility)."
)


@click.command("reload")
@click.argument("targets", nargs=-1, required=True)
@click.option("--env", "env_name", help="Only with an ecosystem file.")
@click.option("--only", help="Only these apps of the ecosystem file (a,b).")
@click.option("-a", "--update-env", is_flag=True, help="Take the current shell environment.")
@click.option("-f", "--force", is_flag=True, help="Accepted for PM2 compatibility.")
@click.option("-s", "--silent", is_flag=True, help="Do not print the table.")
def reload(
    targets: tuple[str, ...],
    env_name: str | None,
    only: str | None,
    update_env: bool,
    force: bool,
    silent: bool,
) -> None:
    """Reload apps without downtime: each instance is replaced only once its successor is ready.

    Node apps in cluster mode (as under PM2) and apps with `listen`, `wait_ready` or a
    `health_check` roll one instance at a time; any other app restarts, as PM2's reload of a
    fork-mode app.
    """
    client = _client()
    rest = file_action(client, "reload", targets, {"env_name": env_name, "only": only})
    if rest:
        extra: dict[str, Any] = {}
        if update_env:
            extra = {"update_env": True, "shell_env": dict(os.environ)}
        for entry in client.call("restart", targets=rest, reload=True, **extra):
            click.echo(render.prefix(f"[{entry['name']}]({entry['pm_id']}) ✓ reloaded"))
        if not update_env:
            click.echo(render.prefix("Use --update-env to update environment variables"))
    _print_table(silent)


@click.command("scale", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("count", metavar="<N|+N|-N>")
@click.option("-s", "--silent", is_flag=True, help="Do not print the table.")
def scale(name: str, count: str, silent: bool) -> None:
    """Set, add (+N) or remove (-N) instances of an app."""
    result = _client().call("scale", name=name, count=count)
    for entry in result["added"]:
        click.echo(render.prefix(f"[{entry['name']}]({entry['pm_id']}) ✓ added"))
    for entry in result["removed"]:
        click.echo(render.prefix(f"[{entry['name']}]({entry['pm_id']}) ✓ deleted"))
    if not result["added"] and not result["removed"]:
        click.echo(render.prefix(f"{name} already has {result['instances']} instance(s)"))
    _print_table(silent)


@click.command("init")
@click.argument("mode", required=False)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["js", "json", "yaml"]),
    default="js",
    show_default=True,
    help="Which kind of file to write.",
)
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing file without a backup.")
def init(mode: str | None, file_format: str, force: bool) -> None:
    """Write a sample ecosystem file in the current folder (`simple`: PM2's minimal one).

    As PM2, an existing file of that name is replaced; pm keeps it as <name>.bak first.
    """
    from pm.cli.ecosystem_samples import SIMPLE_TEMPLATES, TEMPLATES

    name, text = (SIMPLE_TEMPLATES if mode == "simple" else TEMPLATES)[file_format]
    path = Path.cwd() / name
    if path.exists() and not force:
        backup = path.with_name(path.name + ".bak")
        path.replace(backup)
        click.echo(render.warn(f"{path} existed: kept as {backup}"), err=True)
    path.write_text(text)
    click.echo(render.prefix(f"File {path} generated"))
