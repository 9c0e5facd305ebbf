"""The `pm` command line: click commands that parse, call the client and print via render.

No process logic lives here. Heavy modules are imported inside the commands that need them so
`pm list` starts fast.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from pm.cli import render
from pm.cli.base import client, print_table
from pm.cli.group import PMGroup
from pm.cli.start_options import overrides_from, start_options
from pm.errors import NoProcess, NotFound, PMError
from pm.version import __version__


@click.group(cls=PMGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pm")
@click.option(
    "--host",
    metavar="NAME",
    multiple=True,
    expose_value=False,
    help="Run the command by the pm of another host, over ssh: a deploy environment or host "
    "of ./ecosystem.*, or any name ssh knows (~/.ssh/config). Repeat it, or a,b, for several.",
)
def main_group() -> None:
    """pm: a PM2-compatible process manager."""


# ------------------------------------------------------------ start


@main_group.command(context_settings={"ignore_unknown_options": False})
@click.argument("targets", nargs=-1)
@start_options
@click.option("--no-daemon", is_flag=True, help="Run in the foreground, as pm-runtime.")
def start(targets: tuple[str, ...], **options: Any) -> None:
    """Start a script, a command, an ecosystem file, or known apps by name/id."""
    from pm.config.ecosystem import plan_start

    targets = targets or ("ecosystem.config.js",)
    known: list[dict[str, Any]] | None = None

    def is_known(target: str) -> bool:
        nonlocal known
        if options["no_daemon"]:
            return False  # the foreground runtime knows no apps yet; never start a daemon
        if known is None:
            known = client().call("list")
        return target == "all" or any(
            target in (entry["name"], entry["pm2_env"].get("namespace"), str(entry["pm_id"]))
            for entry in known
        )

    plan = plan_start(
        list(targets),
        overrides_from(options),
        SCRIPT_ARGS,
        options["env_name"],
        options["only"].split(",") if options["only"] else None,
        is_known,
    )
    for warning in plan.warnings:
        click.echo(render.warn(warning), err=True)
    if options["no_daemon"]:
        from pm.cli.runtime import exec_foreground

        exec_foreground(plan.file_specs + plan.specs)
    entries: list[dict[str, Any]] = []
    if plan.restart_targets:
        for target in plan.restart_targets:
            click.echo(render.prefix(f"Applying action restartProcessId on app [{target}]"))
        entries += client().start_known(plan.restart_targets)["entries"]
    for spec in plan.specs:
        mode = spec.exec_mode
        count = spec.instances
        click.echo(
            render.prefix(
                f"Starting {spec.script} in {mode} ({count} instance{'s' if count > 1 else ''})"
            )
        )
    if plan.specs:
        entries += client().start_apps(
            [spec.to_dict() for spec in plan.specs], force=options["force"]
        )["entries"]
        click.echo(render.prefix("Done."))
    table: list[dict[str, Any]] | None = None
    if plan.file_specs:  # ecosystem files: restart known names, start the rest (PM2's rule)
        from pm.cli.commands.ecosystem import apply_specs

        table = [] if not options["silent"] else None
        entries += apply_specs(client(), plan.file_specs, table)
    if not options["silent"]:
        print_table(table)


#: Arguments after `--` on the command line, for the script (set by main()).
SCRIPT_ARGS: list[str] = []


# ------------------------------------------------------------ actions on known apps


def _action(cmd: str, verb: str, targets: tuple[str, ...], **extra: Any) -> list[dict[str, Any]]:
    if (
        any("." in target or target == "-" for target in targets)
        or extra.get("env_name")
        or extra.get("only")
    ):
        from pm.cli.commands.ecosystem import file_action  # ecosystem files act on their apps

        targets = tuple(file_action(client(), cmd, targets, extra))
        if not targets:
            return []
    extra.pop("env_name", None)
    extra.pop("only", None)
    entries: list[dict[str, Any]] = client().call(cmd, targets=list(targets), **extra)
    for entry in entries:
        click.echo(render.prefix(f"[{entry['name']}]({entry['pm_id']}) ✓ {verb}"))
    return entries


@main_group.command()
@click.argument("targets", nargs=-1, required=True)
@click.option(
    "--watch",
    is_flag=True,
    help="Kept for PM2 compatibility: stopping an app always stops watching it.",
)
@click.option("-s", "--silent", is_flag=True)
@click.option("--only", help="With an ecosystem file: only these of its apps (a,b).")
def stop(targets: tuple[str, ...], watch: bool, silent: bool, only: str | None) -> None:
    """Stop apps (id, name, namespace, all or /regex/)."""
    if watch:
        client().call("watch", targets=list(targets), action="disable")
    for entry in _action("stop", "stopped", targets, only=only):
        if entry["pm2_env"].get("cron_restart") not in (None, "", "0", 0):
            click.echo(
                render.warn(
                    f"App {entry['name']} stopped but CRON RESTART is still UP "
                    f"{entry['pm2_env']['cron_restart']}"
                )
            )
    if not silent:
        print_table()


@main_group.command()
@click.argument("targets", nargs=-1, required=True)
@click.option("-a", "--update-env", is_flag=True, help="Take the current shell environment.")
@click.option("--env", "env_name", help="Only with an ecosystem file.")
@click.option("--watch", is_flag=True, help="Toggle watching (on if off, off if on).")
@click.option("-s", "--silent", is_flag=True)
@click.option("--only", help="With an ecosystem file: only these of its apps (a,b).")
def restart(
    targets: tuple[str, ...],
    update_env: bool,
    env_name: str | None,
    watch: bool,
    silent: bool,
    only: str | None,
) -> None:
    """Restart apps (stop, then start with the same id)."""
    if watch:
        client().call("watch", targets=list(targets), action="toggle")
    extra: dict[str, Any] = (
        {"update_env": True, "shell_env": dict(os.environ)} if update_env else {}
    )
    extra["env_name"] = env_name
    _action("restart", "restarted", targets, only=only, **extra)
    if not update_env:
        click.echo(render.prefix("Use --update-env to update environment variables"))
    if not silent:
        print_table()


@main_group.command()
@click.argument("targets", nargs=-1, required=True)
@click.option("-s", "--silent", is_flag=True)
@click.option("--only", help="With an ecosystem file: only these of its apps (a,b).")
def delete(targets: tuple[str, ...], silent: bool, only: str | None) -> None:
    """Stop apps and remove them from the list."""
    _action("delete", "deleted", targets, only=only)
    if not silent:
        print_table()


@main_group.command()
@click.argument("targets", nargs=-1, required=True)
def reset(targets: tuple[str, ...]) -> None:
    """Reset the restart counters of apps."""
    _action("reset", "reset", targets)


@main_group.command("sendSignal")
@click.argument("signal_name", metavar="SIGNAL")
@click.argument("targets", nargs=-1, required=True)
def send_signal(signal_name: str, targets: tuple[str, ...]) -> None:
    """Send a signal (name or number) to apps."""
    entries = client().call("signal", signal=signal_name, targets=list(targets))
    for entry in entries:
        click.echo(
            render.prefix(f"successfully sent signal {signal_name} to process id {entry['pm_id']}")
        )


# ------------------------------------------------------------ reading state


@main_group.command("list")
@click.option("-m", "--mini-list", is_flag=True, help="One block of key: value lines per app.")
@click.option("--sort", "sort_key", help="name|id|pid|cpu|memory|uptime|status[:asc|desc]")
@click.option("--watch", is_flag=True, help="Refresh the table every second until Ctrl-C.")
@click.option(
    "--all-hosts",
    is_flag=True,
    help="One table for every host of ./ecosystem.*'s deploy section, over ssh.",
)
def list_cmd(mini_list: bool, sort_key: str | None, watch: bool, all_hosts: bool) -> None:
    """Show the process table."""
    if all_hosts:
        from pm.cli import hosts, over_ssh

        sys.exit(over_ssh.list_hosts(hosts.all_hosts()))
    if watch:
        from pm.cli.commands.monit import watch_table

        return watch_table(
            client(), lambda entries: sort_entries(entries, sort_key) if sort_key else entries
        )
    entries = client().call("list")
    if sort_key:
        entries = sort_entries(entries, sort_key)
    if mini_list:
        for entry in entries:
            row = render.row(entry)
            click.echo(f"+--- {entry['name']}")
            for key, value in row.items():
                click.echo(f"{key} : {value}")
        return
    print_table(entries)
    if warning := sync_warning(entries):
        click.echo(render.warn(warning), err=True)


OUT_OF_SYNC = (
    "Current process list is not synchronized with saved list. Type 'pm save' to synchronize."
)


def sync_warning(entries: list[dict[str, Any]]) -> str | None:
    """PM2's `ls` warning when the running names differ from the saved ones (no dump: none)."""
    try:
        saved = client().call("saved_names")
    except PMError:  # a daemon without the command: no warning rather than a failed `pm list`
        return None
    if saved is None:
        return None
    running = sorted(str(entry.get("name", "")) for entry in entries)
    return None if saved == running else OUT_OF_SYNC


def sort_entries(entries: list[dict[str, Any]], spec: str) -> list[dict[str, Any]]:
    field_name, _, order = spec.partition(":")
    keys = {
        "name": lambda e: e["name"],
        "id": lambda e: e["pm_id"],
        "pid": lambda e: e["pid"],
        "cpu": lambda e: e["monit"]["cpu"],
        "memory": lambda e: e["monit"]["memory"],
        "uptime": lambda e: e["pm2_env"].get("pm_uptime", 0),
        "status": lambda e: e["pm2_env"].get("status", ""),
        "namespace": lambda e: e["pm2_env"].get("namespace", ""),
    }
    if field_name not in keys:
        raise PMError(f"cannot sort by {field_name!r}; use one of {', '.join(keys)}")
    return sorted(entries, key=keys[field_name], reverse=order == "desc")


@main_group.command()
def jlist() -> None:
    """The process list as JSON (PM2's shape)."""
    sys.stdout.buffer.write(client().call_raw("list") + b"\n")


@main_group.command()
def prettylist() -> None:
    """The process list as PM2 prints it (Node's util.inspect), for scripts that grep it."""
    from pm.cli.node_inspect import inspect

    click.echo(inspect(client().call("list")))


@main_group.command()
@click.argument("target")
def describe(target: str) -> None:
    """Everything about one app."""
    try:
        entries = client().call("describe", targets=[target])
    except NotFound:
        entries = []
    if not entries:  # PM2 warns "<target> doesn't exist" and exits 1
        raise NoProcess(f"{target} doesn't exist")
    for entry in entries:
        click.echo(render.describe(entry))


@main_group.command()
@click.argument("name", required=False)
def pid(name: str | None) -> None:
    """Pids of an app (of all apps without a name); an empty line for an unknown name, as PM2."""
    try:
        entries = client().call("describe", targets=[name]) if name else client().call("list")
    except NotFound:
        entries = []
    if name and not entries:
        click.echo("")
    for entry in entries:
        click.echo(entry["pid"])


@main_group.command("id")
@click.argument("name")
def id_cmd(name: str) -> None:
    """Ids of the apps with this name, as `[ 0, 1 ]`."""
    ids = [entry["pm_id"] for entry in client().call("list") if entry["name"] == name]
    click.echo("[ " + ", ".join(map(str, ids)) + " ]" if ids else "[]")


@main_group.command()
@click.argument("target")
def env(target: str) -> None:
    """The environment an app's process is given."""
    for key, value in sorted(client().call("env", target=target).items()):
        click.echo(f"{key}: {value}")


@main_group.command()
def ping() -> None:
    """Start the daemon if needed and check it answers."""
    result = client().call("ping")
    click.echo(f"{{ msg: '{result['msg']}' }}")


@main_group.command()
def kill() -> None:
    """Stop every app and the daemon (does not save)."""
    if client().kill():
        click.echo(render.prefix("All processes stopped; pm daemon killed"))
    else:
        click.echo(render.prefix("No pm daemon running"))


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and (args[0] == "--host" or args[0].startswith("--host=")):
        from pm.cli import over_ssh  # before click: the remote pm parses its own command line

        names, rest = over_ssh.take_host_options(args)
        sys.exit(over_ssh.main(names, rest))
    if "--" in args:
        cut = args.index("--")
        SCRIPT_ARGS[:] = args[cut + 1 :]
        args = args[:cut]
    if "_PM_COMPLETE" in os.environ:  # shell completion: live app names for target arguments
        from pm.cli.commands.completion import enable_app_names

        enable_app_names(main_group)
    main_group.main(args=args, prog_name="pm")
