"""One environment of an ecosystem file's `deploy` section, read and checked: PM2's attributes,
with every error naming the file, the environment and the field.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pm.errors import ConfigError

#: The hooks PM2 runs, in the order of a setup and then of a deploy.
HOOKS = ("pre-setup", "post-setup", "pre-deploy-local", "pre-deploy", "post-deploy")

#: Attributes whose value is one string.
_STRINGS = ("user", "ref", "repo", "path", "key", "fetch", *HOOKS)

#: Every attribute pm reads (PM2's, as pm2-deploy reads them).
KNOWN = frozenset({*_STRINGS, "host", "port", "ssh_options", "env", "forward-agent"})

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class DeployTarget:
    """What `pm deploy <file> <env>` needs to know about one environment."""

    env_name: str
    hosts: tuple[str, ...]
    repo: str
    ref: str
    path: str
    user: str | None = None
    port: int | None = None
    key: str | None = None
    ssh_options: tuple[str, ...] = ()
    forward_agent: bool = False
    fetch: str | None = None
    hooks: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def branch(self) -> str:
        """The branch `setup` clones: `ref` without its remote (`origin/main` -> `main`)."""
        return self.ref.split("/", 1)[1] if "/" in self.ref else self.ref


def deploy_section(data: Any, path: str) -> dict[str, Any]:
    """The file's `deploy` object; ConfigError when it has none."""
    section = data.get("deploy") if isinstance(data, dict) else None
    if section is None:
        raise ConfigError(
            f"{path}: no 'deploy' section: add one with an environment, e.g. "
            '"deploy": {"production": {"host": ..., "repo": ..., "ref": ..., '
            '"path": ...}}'
        )
    if not isinstance(section, dict) or not section:
        raise ConfigError(f"{path}: field 'deploy': expected an object of environments")
    return section


def read_target(
    data: Any, path: str, env_name: str, warnings: list[str] | None = None
) -> DeployTarget:
    """The environment `env_name` of the file's deploy section, checked in full."""
    section = deploy_section(data, path)
    if env_name not in section:
        known = ", ".join(sorted(section))
        raise ConfigError(
            f"{path}: environment '{env_name}' is not in the deploy section (known: {known})"
        )
    raw = section[env_name]
    label = f"{path}: deploy.{env_name}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{label}: expected an object, got {type(raw).__name__}")
    for key in sorted(set(raw) - KNOWN):
        if warnings is not None:
            warnings.append(f"{label}: unknown attribute '{key}' ignored{_hint(key)}")
    for key in _STRINGS:
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ConfigError(
                f"{label}: field '{key}': expected a string, got {type(raw[key]).__name__}"
            )
    for key in ("host", "repo", "ref", "path"):
        if not raw.get(key):
            raise ConfigError(f"{label}: field '{key}' is required")
    base = str(Path(path).parent) if path != "<stdin>" else os.getcwd()
    return DeployTarget(
        env_name=env_name,
        hosts=_hosts(raw["host"], label),
        repo=raw["repo"],
        ref=raw["ref"],
        path=_remote_path(raw["path"], label),
        user=raw.get("user") or None,
        port=_port(raw.get("port"), label),
        key=_key(raw.get("key"), base, label),
        ssh_options=_ssh_options(raw.get("ssh_options"), label),
        forward_agent=bool(raw.get("forward-agent")),
        fetch=raw.get("fetch"),
        hooks={hook: raw[hook] for hook in HOOKS if raw.get(hook)},
        env=_env(raw.get("env"), label),
    )


def _hint(key: str) -> str:
    import difflib

    close = difflib.get_close_matches(key, sorted(KNOWN), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _hosts(value: Any, label: str) -> tuple[str, ...]:
    hosts = [value] if isinstance(value, str) else value
    if not isinstance(hosts, list) or not hosts:
        raise ConfigError(f"{label}: field 'host': expected a host name or a list of them")
    for host in hosts:
        if (
            not isinstance(host, str)
            or not host.strip()
            or host.startswith("-")
            or any(char.isspace() for char in host)
        ):
            raise ConfigError(f"{label}: field 'host': {host!r} is not a host name")
    if len(set(hosts)) != len(hosts):
        raise ConfigError(f"{label}: field 'host': a host is listed twice")
    return tuple(hosts)


def _remote_path(value: str, label: str) -> str:
    """An absolute path on the server, or one under its home (`~`, `~/...`)."""
    if not (value.startswith(("/", "~/")) or value == "~"):
        raise ConfigError(
            f"{label}: field 'path': {value!r} must be absolute or start with "
            "~/ (a folder on the server)"
        )
    return value.rstrip("/") or "/"


def _port(value: Any, label: str) -> int | None:
    if value is None or value == "":
        return None
    text = str(value)
    if isinstance(value, bool) or not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"{label}: field 'port': {value!r} is not a port number (1-65535)")
    return int(text)


def _key(value: str | None, base: str, label: str) -> str | None:
    """The private key file on this machine, `~` expanded and resolved against the file's
    folder; a missing file is an error now rather than a password prompt per host."""
    if not value:
        return None
    key = os.path.join(base, os.path.expanduser(value))
    if not os.path.isfile(key):
        raise ConfigError(f"{label}: field 'key': {key}: no such file")
    return key


def _ssh_options(value: Any, label: str) -> tuple[str, ...]:
    """`-o` options for ssh: one string or a list; each item may carry several options the
    way PM2 pastes them into its command line (`"A=b -o C=d"`)."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ConfigError(f"{label}: field 'ssh_options': expected a string or a list of strings")
    options: list[str] = []
    for item in items:
        words = shlex.split(item)
        options += [word for word in words if word != "-o"]
    if any(option.startswith("-") or "=" not in option for option in options):
        raise ConfigError(
            f"{label}: field 'ssh_options': {value!r}: expected ssh -o options "
            "such as 'StrictHostKeyChecking=no'"
        )
    return tuple(options)


def _env(value: Any, label: str) -> dict[str, str]:
    """Variables exported on the server, names upper-cased as PM2 does."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{label}: field 'env': expected an object of variables")
    env: dict[str, str] = {}
    for name, item in value.items():
        if not _ENV_NAME.match(name):
            raise ConfigError(f"{label}: field 'env': {name!r} is not a variable name")
        if isinstance(item, (dict, list)) or item is None:
            raise ConfigError(f"{label}: field 'env.{name}': expected a string or a number")
        env[name.upper()] = ("true" if item else "false") if isinstance(item, bool) else str(item)
    return env


@dataclass(frozen=True)
class SshHost:
    """A host of a deploy environment and how ssh reaches it (what `pm --host` needs: no
    repository, ref or path)."""

    env_name: str
    host: str
    user: str | None = None
    port: int | None = None
    key: str | None = None
    ssh_options: tuple[str, ...] = ()


def ssh_hosts(data: Any, path: str) -> list[SshHost]:
    """Every host of every environment of the file's deploy section, in the file's order, each
    checked as `pm deploy` checks it; [] when the file has no deploy section."""
    section = data.get("deploy") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        return []
    base = str(Path(path).parent) if path != "<stdin>" else os.getcwd()
    found: list[SshHost] = []
    for env_name, raw in section.items():
        label = f"{path}: deploy.{env_name}"
        if not isinstance(raw, dict) or not raw.get("host"):
            continue
        for key in ("user", "key"):
            if raw.get(key) is not None and not isinstance(raw[key], str):
                raise ConfigError(
                    f"{label}: field '{key}': expected a string, got {type(raw[key]).__name__}"
                )
        for host in _hosts(raw["host"], label):
            found.append(
                SshHost(
                    env_name,
                    host,
                    user=raw.get("user") or None,
                    port=_port(raw.get("port"), label),
                    key=_key(raw.get("key"), base, label),
                    ssh_options=_ssh_options(raw.get("ssh_options"), label),
                )
            )
    return found
