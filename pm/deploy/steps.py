"""What runs on a server, step by step: the shell scripts of setup, deploy and the queries, and
the ssh command line that carries each one. Pure: nothing here starts a process.

The layout on the server, under `path`: `source/` (the git clone), `current` (a symlink to
`source`, the live release), `shared/` (`logs/`, `pids/`, kept across releases) and `.deploys`
(the commit of each deploy, one a line, oldest first).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass

from pm.deploy.target import DeployTarget

#: Host names PM2 runs commands for locally, with bash, instead of over ssh.
LOCAL_HOSTS = frozenset({"localhost"})

#: ssh gives up on a host that does not answer within this many seconds (ssh_options may
#: set another ConnectTimeout: ssh keeps the first value it is given).
CONNECT_TIMEOUT = 10


@dataclass(frozen=True)
class Step:
    """One command run on a host: its name (what an error names), the script, the progress
    line shown before it, and a local file fed to its standard input."""

    name: str
    script: str
    note: str | None = None
    stdin_file: str | None = None


def on_server(target: DeployTarget, *parts: str) -> str:
    """A path under `path` as one shell word; a leading `~` stays the server's home."""
    path = "/".join([target.path, *parts])
    if path == "~" or path.startswith("~/"):
        rest = path[2:]
        return '"$HOME"' + (f"/{shlex.quote(rest)}" if rest else "")
    return shlex.quote(path)


def ssh_command(target: DeployTarget, host: str, script: str) -> list[str]:
    """The command line that runs `script` on `host`: ssh in batch mode (no password or
    host-key prompt can hang a parallel deploy), or bash for PM2's local host names."""
    if host in LOCAL_HOSTS:
        return ["bash", "-c", script]
    command = ["ssh", "-o", "BatchMode=yes"]
    for option in target.ssh_options:
        command += ["-o", option]
    command += ["-o", f"ConnectTimeout={CONNECT_TIMEOUT}"]
    if target.port:
        command += ["-p", str(target.port)]
    if target.key:
        command += ["-i", target.key]
    if target.forward_agent:
        command.append("-A")
    destination = f"{target.user}@{host}" if target.user else host
    return [*command, "--", destination, script]


def _exports(target: DeployTarget) -> str:
    """`export` lines for the deploy `env` and SHARED (the shared folder), as hooks get them."""
    lines = [f"export SHARED={on_server(target, 'shared')}"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in target.env.items()]
    return "\n".join(lines)


def hook_step(target: DeployTarget, hook: str, base_dir: str) -> Step | None:
    """The step of a hook run on the server, in `current` (pre-setup: in the home, before
    anything exists; a pre-setup naming a local script sends that script to `bash -s`)."""
    command = target.hooks.get(hook)
    if not command:
        return None
    note = f"running {hook} `{command}`"
    if hook == "pre-setup":
        words = shlex.split(command)
        local = os.path.join(base_dir, words[0]) if words else ""
        if words and os.path.isfile(local):
            args = " ".join(shlex.quote(word) for word in words[1:])
            return Step(hook, f"bash -s -- {args}".rstrip(), note, stdin_file=local)
        return Step(hook, f"{_exports(target)}\n{command}", note)
    script = f"cd {on_server(target, 'current')} || exit 1\n{_exports(target)}\n{command}"
    return Step(hook, script, note)


def setup_steps(target: DeployTarget, base_dir: str) -> list[Step]:
    """pre-setup, the folders, the clone of `ref`'s branch, `current`, post-setup."""
    source = on_server(target, "source")
    depth = "--depth=5 " if target.fetch == "fast" else ""
    steps = [
        hook_step(target, "pre-setup", base_dir),
        Step(
            "folders",
            f"mkdir -p {on_server(target, 'shared', 'logs')} "
            f"{on_server(target, 'shared', 'pids')} {source}",
            f"creating {target.path}/{{source,shared}}",
        ),
        Step(
            "clone",
            f"git clone {depth}--branch {shlex.quote(target.branch)} "
            f"{shlex.quote(target.repo)} {source}",
            f"cloning {target.repo} ({target.branch})",
        ),
        Step("link", f"ln -sfn {source} {on_server(target, 'current')}", "linking current"),
        hook_step(target, "post-setup", base_dir),
    ]
    return [step for step in steps if step is not None]


def deploy_steps(target: DeployTarget, ref: str, base_dir: str) -> list[Step]:
    """Check the clone, pre-deploy, fetch, reset to `ref`, link and record, post-deploy."""
    source = on_server(target, "source")
    depth = "--depth=5 " if target.fetch == "fast" else ""
    check = (
        f"[ -d {source}/.git ] || {{ echo {shlex.quote(target.path + '/source')} is not a "
        "git clone: run setup first; exit 1; }"
    )
    record = (
        f"ln -sfn {source} {on_server(target, 'current')} && cd {source} && "
        f"git rev-parse HEAD >> {on_server(target, '.deploys')}"
    )
    steps = [
        Step("check", check),
        hook_step(target, "pre-deploy", base_dir),
        Step("fetch", f"cd {source} && git fetch {depth}--all --tags", "fetching updates"),
        Step("reset", f"cd {source} && git reset --hard {shlex.quote(ref)}", f"resetting to {ref}"),
        Step("link", record, "linking current"),
        hook_step(target, "post-deploy", base_dir),
    ]
    return [step for step in steps if step is not None]


def current_step(target: DeployTarget) -> Step:
    return Step("curr", f"cd {on_server(target, 'source')} && git rev-parse --short HEAD")


def history_step(target: DeployTarget) -> Step:
    """Prints `.deploys` (nothing before the first deploy)."""
    deploys = on_server(target, ".deploys")
    return Step("history", f"if [ -f {deploys} ]; then cat {deploys}; fi")


def exec_step(target: DeployTarget, command: str) -> Step:
    script = f"cd {on_server(target, 'current')} || exit 1\n{_exports(target)}\n{command}"
    return Step("exec", script)


def default_post_deploy(file_in_repo: str, env_name: str) -> str:
    """PM2's post-deploy when the file sets none: start or restart the file's apps."""
    return f"pm startOrRestart {shlex.quote(file_in_repo)} --env {shlex.quote(env_name)}"


# ------------------------------------------------------------ the deploy history


def parse_history(text: str) -> list[str]:
    """The commits of `.deploys`, oldest first."""
    return [line.split()[0] for line in text.splitlines() if line.strip()]


def history_lines(commits: list[str]) -> list[str]:
    """`list`: newest first, numbered from 0 as PM2 prints them (`0<TAB>sha`)."""
    return [f"{index}\t{commit}" for index, commit in enumerate(reversed(commits))]


def commit_back(commits: list[str], n: int) -> str | None:
    """The commit deployed `n` deploys before the latest (1: the previous one), or None
    when the history is shorter."""
    return commits[-(n + 1)] if 0 <= n < len(commits) else None
