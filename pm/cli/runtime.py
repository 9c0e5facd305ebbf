"""The `pm-runtime` command, and the hand-over to the foreground runtime for it and for
`pm start --no-daemon`.

The command line turns files and flags into app specs, then execs `python -m pm.daemon.runtime`
with them: the runtime keeps this process's pid (PID 1 in a container stays PID 1) and the
client side never imports the daemon.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from pm.config.ecosystem import plan_start
from pm.errors import PMError


def exec_foreground(
    specs: list[Any],
    home_dir: str | None = None,
    auto_exit: bool = True,
    lock_file: str | None = None,
) -> None:
    """Replace this process with the foreground runtime running specs (never returns)."""
    argv = [
        sys.executable,
        "-m",
        "pm.daemon.runtime",
        "--specs",
        json.dumps([spec.to_dict() for spec in specs]),
    ]
    if home_dir:
        argv += ["--home", home_dir]
    if lock_file:
        argv += ["--lock", lock_file]
    if not auto_exit:
        argv.append("--no-auto-exit")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("targets", nargs=-1, required=True)
@click.option("--only", help="Only these apps of the ecosystem file (a,b).")
@click.option("--env", "env_name", help="Apply env_<name> from the ecosystem file.")
@click.option(
    "-i",
    "--instances",
    help="Instances of each app (a number or max), in place of the file's (PM2's pm2-runtime -i).",
)
@click.option("--no-auto-exit", is_flag=True, help="Keep running when every app has stopped.")
@click.option(
    "--lock", "lock_file", metavar="FILE", help="Refuse to run while another holder locks FILE."
)
@click.option(
    "--home", "home_dir", metavar="DIR", help="Use this PM_HOME instead of a private temporary one."
)
def runtime(
    targets: tuple[str, ...],
    only: str | None,
    env_name: str | None,
    instances: str | None,
    no_auto_exit: bool,
    lock_file: str | None,
    home_dir: str | None,
) -> None:
    """Run apps in the foreground: pm-runtime [start] ecosystem.json|script ..."""
    if targets[0] == "start":
        targets = targets[1:]
    if not targets:
        raise click.UsageError("name an ecosystem file or a script to start")
    try:
        overrides = {} if instances is None else {"instances": instances}
        plan = plan_start(
            list(targets),
            overrides,
            [],
            env_name,
            only.split(",") if only else None,
            lambda target: False,
        )
    except PMError as exc:
        raise click.ClickException(exc.message) from None
    for warning in plan.warnings:
        click.echo(f"[PM][WARN] {warning}", err=True)
    exec_foreground(plan.file_specs + plan.specs, home_dir, not no_auto_exit, lock_file)


def main(argv: list[str] | None = None) -> None:
    """The `pm-runtime` console script."""
    runtime.main(args=argv, prog_name="pm-runtime")


if __name__ == "__main__":
    main()
