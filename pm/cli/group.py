"""The `pm` command group: PM2's aliases, the commands loaded only when used, the PM2 commands
pm lacks, and a --help that shows aliases and whole first sentences."""

from __future__ import annotations

import errno
import os
import re
import sys
from typing import Any

import click

from pm.cli import render
from pm.cli.base import quiet_broken_pipe
from pm.errors import NoProcess, PMError

#: PM2's aliases, resolved without listing each alias in --help.
ALIASES = {
    "ls": "list",
    "l": "list",
    "ps": "list",
    "status": "list",
    "del": "delete",
    "show": "describe",
    "info": "describe",
    "desc": "describe",
    "dump": "save",
    "ecosystem": "init",
    "updatePM2": "update",
    "config": "conf",
    "dashboard": "monit",
    "dash": "monit",
    "imonit": "monit",
}


#: Commands that live in pm.cli.commands.*, imported only when used: name -> "module:attribute".
LAZY_COMMANDS: dict[str, str] = {
    "startOrRestart": "pm.cli.commands.ecosystem:start_or_restart",
    "startOrReload": "pm.cli.commands.ecosystem:start_or_reload",
    "startOrGracefulReload": "pm.cli.commands.ecosystem:start_or_graceful_reload",
    "reload": "pm.cli.commands.ecosystem:reload",
    "scale": "pm.cli.commands.ecosystem:scale",
    "init": "pm.cli.commands.ecosystem:init",
    "save": "pm.cli.commands.persist:save",
    "resurrect": "pm.cli.commands.persist:resurrect",
    "cleardump": "pm.cli.commands.persist:cleardump",
    "update": "pm.cli.commands.persist:update",
    "startup": "pm.cli.commands.persist:startup",
    "unstartup": "pm.cli.commands.persist:unstartup",
    "monit": "pm.cli.commands.monit:monit",
    "events": "pm.cli.commands.events:events",
    "completion": "pm.cli.commands.completion:completion",
    "logs": "pm.cli.commands.logs:logs_cmd",
    "flush": "pm.cli.commands.logs:flush_cmd",
    "reloadLogs": "pm.cli.commands.logs:reload_logs_cmd",
    "set": "pm.cli.commands.settings:set_cmd",
    "get": "pm.cli.commands.settings:get_cmd",
    "conf": "pm.cli.commands.settings:conf_cmd",
    "unset": "pm.cli.commands.settings:unset_cmd",
    "multiset": "pm.cli.commands.settings:multiset_cmd",
    "report": "pm.cli.commands.report:report",
    "web": "pm.cli.commands.web:web",
    "deploy": "pm.cli.commands.deploy:deploy",
    "export": "pm.cli.commands.export:export",
}


def first_sentence(text: str) -> str:
    """The help's first sentence, whole: up to the first full stop that ends a sentence."""
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    end = re.search(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)\.(?=\s|$)", paragraph)
    return paragraph[: end.end()] if end else paragraph


class PMGroup(click.Group):
    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        name = ALIASES.get(cmd_name, cmd_name)
        if name in LAZY_COMMANDS:
            import importlib

            module_name, attribute = LAZY_COMMANDS[name].split(":")
            command: click.Command = getattr(importlib.import_module(module_name), attribute)
            return command
        found = super().get_command(ctx, name)
        if found is None:  # a PM2 command pm does not have: say what to use instead
            from pm.cli.commands import pm2_only

            if name in pm2_only.INSTEAD:
                return pm2_only.command_for(name)
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """One row per command with its aliases and the whole first sentence of its help
        (click's short help stops at 45 characters or at the "." of "e.g.")."""
        aliases: dict[str, list[str]] = {}
        for alias, name in ALIASES.items():
            aliases.setdefault(name, []).append(alias)
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            label = ", ".join([name, *aliases.get(name, [])])
            rows.append((label, first_sentence(command.help or "")))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name, cmd, rest = super().resolve_command(ctx, args)
        return (cmd.name if cmd else name), cmd, rest

    def invoke(self, ctx: click.Context) -> Any:
        try:
            refuse_unusable_home(ctx)
            return super().invoke(ctx)
        except NoProcess as exc:  # PM2 warns, and exits 1
            click.echo(render.warn(exc.message), err=True)
            sys.exit(exc.exit_code)
        except PMError as exc:
            click.echo(render.error(exc.message), err=True)
            sys.exit(exc.exit_code)
        except BrokenPipeError:
            quiet_broken_pipe()
        except OSError as exc:  # a file pm could not read or write: one line, no traceback
            if exc.filename is None and exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                raise
            click.echo(render.error(os_error_message(exc)), err=True)
            sys.exit(1)


#: Commands that never read or write PM_HOME: they run whatever the home is.
HOME_FREE = frozenset({"completion", "init", "startup", "unstartup", "deploy"})


def refuse_unusable_home(ctx: click.Context) -> None:
    """Before any command that uses PM_HOME: a home that is not a directory, or is another
    user's, is refused with one line here, so no command reads it or writes into it (`pm set`
    as root would otherwise leave a root-owned file in another user's home)."""
    protected = getattr(ctx, "_protected_args", None)  # click >= 8.2; protected_args before
    args = [*(ctx.protected_args if protected is None else protected), *ctx.args]
    if not args or "--help" in args or "-h" in args or ALIASES.get(args[0], args[0]) in HOME_FREE:
        return
    if args[0] == "export" and "running" not in args:  # a file's apps: no home involved
        return
    from pm.paths import Home

    Home.from_env().check_usable()


def os_error_message(exc: OSError) -> str:
    """One line for a file error a command met: the home's own message (read-only, full, not
    a directory...) when the file is in PM_HOME, else the file and the system's reason."""
    from pathlib import Path

    from pm.paths import Home, home_error

    home = Home.from_env()
    if exc.filename is None:  # a write that failed for want of space: the home's message
        return home_error(home.root, exc).message
    path = Path(os.fsdecode(exc.filename)).absolute()
    if path == home.root or home.root in path.parents:
        return home_error(home.root, exc).message
    return f"{path}: {exc.strerror or exc}"
