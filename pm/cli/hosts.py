"""Which hosts `pm --host NAME` and `pm list --all-hosts` mean.

A NAME is looked up in the deploy section of the ecosystem file in the current folder (the
file `pm deploy` would use): an environment's name means all its hosts, a host's name that
host, each with the environment's user, port, key and ssh_options. Any other NAME goes to ssh
as it is, so `~/.ssh/config` (Host aliases, HostName, User, Port, IdentityFile) resolves it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from pm.client.remote import RemoteHost
from pm.errors import ConfigError


def ecosystem_file() -> str | None:
    """The first of pm deploy's default files in the current folder, or None."""
    from pm.cli.commands.deploy import DEFAULT_FILES

    return next((name for name in DEFAULT_FILES if os.path.isfile(name)), None)


def deploy_hosts() -> list[RemoteHost]:
    """Every host of the deploy section (each once, the first environment naming it wins)."""
    from pm.config.readers import read_file
    from pm.deploy.target import ssh_hosts

    path = ecosystem_file()
    if path is None:
        return []
    seen: dict[str, RemoteHost] = {}
    for found in ssh_hosts(read_file(path), os.path.abspath(path)):
        seen.setdefault(
            found.host,
            RemoteHost(
                label=found.host,
                destination=found.host,
                user=found.user,
                port=found.port,
                key=found.key,
                ssh_options=found.ssh_options,
            ),
        )
    return list(seen.values())


def environments() -> dict[str, list[str]]:
    """Environment name -> its hosts, from the same file."""
    from pm.config.readers import read_file
    from pm.deploy.target import ssh_hosts

    path = ecosystem_file()
    names: dict[str, list[str]] = {}
    if path is not None:
        for found in ssh_hosts(read_file(path), os.path.abspath(path)):
            names.setdefault(found.env_name, []).append(found.host)
    return names


def resolve(names: Iterable[str]) -> list[RemoteHost]:
    """The hosts NAMEs mean (comma lists allowed), each once, in the order given."""
    wanted = [part.strip() for name in names for part in name.split(",") if part.strip()]
    if not wanted:
        return []
    known = {host.label: host for host in deploy_hosts()}
    groups = environments()
    chosen: dict[str, RemoteHost] = {}
    for name in wanted:
        if name.startswith("-") or any(char.isspace() for char in name):
            raise ConfigError(f"--host {name!r}: not a host name")
        for label in groups.get(name, [name]):
            chosen.setdefault(label, known.get(label) or RemoteHost(label, label))
    return list(chosen.values())


def all_hosts() -> list[RemoteHost]:
    hosts = deploy_hosts()
    if not hosts:
        raise ConfigError(
            f"--all-hosts: no hosts; it reads the `deploy` section of the ecosystem file in "
            f"{os.getcwd()} (ecosystem.json, ecosystem.config.js...); or name them: "
            "pm --host web1,web2 list"
        )
    return hosts
