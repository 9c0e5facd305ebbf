"""Settings in PM_HOME/module_conf.json: `pm set`, `pm get`, and PM2's `conf`/`config`,
`unset` and `multiset`."""

from __future__ import annotations

import json

import click

from pm.cli import render
from pm.cli.base import client
from pm.errors import ConfigError


@click.command("set")
@click.argument("key")
@click.argument("value")
def set_cmd(key: str, value: str) -> None:
    """Store a setting, e.g. `pm set logrotate:max_size 1G` (PM_HOME/module_conf.json)."""
    from pm.config import settings

    home = client().home
    data = settings.set_value(home, key, value)
    click.echo(render.prefix(f"Setting {key} = {value} saved in {home.config}"))
    module, _ = settings.split_key(key)
    click.echo(json.dumps(data.get(module) if module else data, indent=2))


@click.command("get")
@click.argument("key", required=False)
def get_cmd(key: str | None) -> None:
    """Print a setting, a module's settings, or all of them."""
    from pm.config import settings

    value = settings.get_value(client().home, key)
    if isinstance(value, (dict, list)):
        click.echo(json.dumps(value, indent=2))
    elif value is not None:
        click.echo(value)


@click.command("conf")
@click.argument("key", required=False)
@click.argument("value", required=False)
def conf_cmd(key: str | None, value: str | None) -> None:
    """Print a setting (or all), or store one when a value is given (PM2's `conf`)."""
    ctx = click.get_current_context()
    if value is None:
        ctx.invoke(get_cmd, key=key)
    else:
        ctx.invoke(set_cmd, key=key, value=value)


@click.command("unset")
@click.argument("key")
def unset_cmd(key: str) -> None:
    """Remove a setting, e.g. `pm unset logrotate:max_size` (its default applies again)."""
    from pm.config import settings

    if not settings.unset_value(client().home, key):
        raise ConfigError(f"setting {key} is not set")
    click.echo(render.prefix(f"Setting {key} removed"))


@click.command("multiset")
@click.argument("pairs")
def multiset_cmd(pairs: str) -> None:
    """Store several settings at once: `pm multiset "key1 value1 key2 value2"`."""
    words = pairs.split()
    if not words or len(words) % 2:
        raise ConfigError('multiset takes pairs: "<key> <value> [<key> <value> ...]"')
    for key, value in zip(words[::2], words[1::2], strict=True):
        click.get_current_context().invoke(set_cmd, key=key, value=value)
