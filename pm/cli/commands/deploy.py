"""`pm deploy`: PM2's deploy, reading the ecosystem file's `deploy` section and running its
steps on every host at once over the system's ssh (docs/deploy.md)."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable

import click

from pm.cli import render
from pm.config.ecosystem import is_config_file
from pm.config.readers import read_file
from pm.deploy import local, operations, steps
from pm.deploy.session import DeployFailed, HostSession, run_on_hosts
from pm.deploy.target import DeployTarget, read_target
from pm.errors import ConfigError

#: Files looked for when the first word is an environment, in PM2's order.
DEFAULT_FILES = (
    "ecosystem.json",
    "ecosystem.yml",
    "ecosystem.yaml",
    "ecosystem.config.js",
    "ecosystem.config.cjs",
    "ecosystem.config.mjs",
    "ecosystem.json5",
    "package.json",
)

HELP = """Deploy a git repository to servers over ssh, and run its hooks, as PM2's deploy.

\b
pm deploy <file> <env> setup       clone `repo` into <path>/source on every host
pm deploy <file> <env> [update]    fetch, reset to `ref`, link <path>/current, run post-deploy
pm deploy <file> <env> ref <ref>   deploy another ref
pm deploy <file> <env> revert [n]  deploy again the release n deploys back (1)
pm deploy <file> <env> curr|prev   the live commit, the one deployed before it
pm deploy <file> <env> list        the deployed commits, newest first
pm deploy <file> <env> exec "cmd"  run a command in <path>/current on every host

The file is an ecosystem file with a `deploy` section (without it: ecosystem.json,
ecosystem.config.js... in this folder). Hosts run in parallel, each line prefixed with its
host; the exit code is 1 when any host failed. update and ref refuse to run with uncommitted,
staged or unpushed changes in the file's repository unless --force.
"""


@click.command("deploy", help=HELP, context_settings={"ignore_unknown_options": True})
@click.argument("file_or_env", metavar="[FILE] ENV")
@click.argument("words", nargs=-1, type=click.UNPROCESSED, metavar="[COMMAND [ARG]]")
@click.option("-f", "--force", is_flag=True, help="Deploy even with local changes.")
@click.pass_context
def deploy(ctx: click.Context, file_or_env: str, words: tuple[str, ...], force: bool) -> None:
    file, words_left = _file_and_words(file_or_env, list(words))
    if file_or_env == "help" or not words_left:
        click.echo(ctx.get_help())
        return
    env_name, action = words_left[0], operations.parse_action(words_left[1:])
    file = os.path.abspath(file)
    base_dir = os.path.dirname(file)
    warnings: list[str] = []
    target = read_target(read_file(file), file, env_name, warnings)
    if action.deploys:
        target = _with_default_post_deploy(target, file)
    for warning in warnings:
        click.echo(render.warn(warning), err=True)
    if action.checks_local_changes and not force:
        problem = local.local_changes(base_dir)
        if problem:
            raise ConfigError(f"{base_dir}: {problem} (--force deploys anyway)")
    click.echo(f"--> Deploying to {env_name} environment")
    lock = threading.Lock()

    def emit(line: str) -> None:
        with lock:
            click.echo(line)

    if action.deploys and target.hooks.get("pre-deploy-local"):
        _pre_deploy_local(target, base_dir, emit)
    errors = run_on_hosts(
        target.hosts,
        lambda session: operations.run_action(action, session, target, base_dir),
        lambda host: _session(target, host, emit),
    )
    for error in errors:
        click.echo(render.error(f"deploy {env_name}: {error}"), err=True)
    if errors:
        ctx.exit(1)
    click.echo("--> Success")


def _file_and_words(first: str, words: list[str]) -> tuple[str, list[str]]:
    """PM2's rule: a first word that names a config file is the file; otherwise it is the
    environment, and the file is the first of DEFAULT_FILES found here."""
    if first == "help" or is_config_file(first):
        return first, words
    for name in DEFAULT_FILES:
        if os.path.isfile(name):
            return name, [first, *words]
    raise ConfigError(
        f"'{first}' is not an ecosystem file, and none of "
        f"{', '.join(DEFAULT_FILES)} is in {os.getcwd()}"
    )


def _with_default_post_deploy(target: DeployTarget, file: str) -> DeployTarget:
    """PM2 starts or restarts the file's apps after a deploy when no post-deploy is set."""
    if target.hooks.get("post-deploy"):
        return target
    command = steps.default_post_deploy(local.path_in_repository(file), target.env_name)
    return dataclasses.replace(target, hooks={**target.hooks, "post-deploy": command})


def _session(target: DeployTarget, host: str, emit: Callable[[str], None]) -> HostSession:
    return HostSession(
        host,
        lambda script: steps.ssh_command(target, host, script),
        emit,
        over_ssh=host not in steps.LOCAL_HOSTS,
    )


def _pre_deploy_local(target: DeployTarget, base_dir: str, emit: Callable[[str], None]) -> None:
    """pre-deploy-local, once, here, before any host is touched."""
    session = HostSession(
        "local", lambda script: ["bash", "-c", script], emit, cwd=base_dir, over_ssh=False
    )
    command = target.hooks["pre-deploy-local"]
    try:
        session.run(
            steps.Step("pre-deploy-local", command, f"running pre-deploy-local `{command}`")
        )
    except DeployFailed as exc:
        raise DeployFailed(
            f"deploy {target.env_name}: {exc.message}; no host was touched"
        ) from None
