"""PM2 commands pm does not have: each answers in one line what to use instead, and exits 1,
so a script written for PM2 stops with a reason instead of 'No such command'.

They are hidden from `pm --help`; the README lists them.
"""

from __future__ import annotations

from typing import Any

import click

from pm.errors import PMError

_PM2_IO = "needs PM2.io (Keymetrics), a network service pm does not use"
_NODE = "is a Node.js instrumentation feature of PM2; pm has none"
_MODULES = (
    "PM2 modules are Node packages; pm has no module system. Log rotation, the usual "
    "module, is built in: `pm set logrotate:<key> <value>` (see `pm get logrotate`)"
)

#: Command -> what to use instead (or why pm has none).
INSTEAD: dict[str, str] = {
    **{
        name: f"`pm {name}` {_PM2_IO}"
        for name in (
            "link",
            "unlink",
            "plus",
            "register",
            "login",
            "logout",
            "monitor",
            "unmonitor",
            "open",
            "install-otel",
            "uninstall-otel",
        )
    },
    **{
        name: f"`pm {name}` {_NODE}"
        for name in ("trigger", "profile:cpu", "profile:mem", "inspect")
    },
    **{
        name: _MODULES
        for name in (
            "install",
            "module:install",
            "module:update",
            "module:generate",
            "uninstall",
            "module:uninstall",
            "package",
            "publish",
            "module:publish",
            "autoinstall",
        )
    },
    "logrotate": "pm rotates its logs itself (no system logrotate file needed): "
    "`pm set logrotate:<key> <value>`",
    "serve": "pm serves no static files; run a server as an app, e.g. "
    '`pm start "python3 -m http.server 8080" --name static`',
    "expose": "pm serves no static files; run a server as an app, e.g. "
    '`pm start "python3 -m http.server 8080" --name static`',
    "pull": "pm keeps no version-control metadata (vizion); update the code with git, then "
    "`pm restart <app>`",
    "forward": "pm keeps no version-control metadata (vizion); use git, then `pm restart <app>`",
    "backward": "pm keeps no version-control metadata (vizion); use git, then `pm restart <app>`",
    "send": "pm gives apps no standard input to write to; signal them with `pm sendSignal`",
    "attach": "pm gives apps no standard input; follow their output with `pm logs <app>`",
    "deepUpdate": "`pm update` replaces the daemon; upgrade pm itself with pip",
    "slist": "`pm report` prints pm's and the machine's details",
    "sysinfos": "`pm report` prints pm's and the machine's details",
    "create": "`pm init` writes a sample ecosystem file",
    "examples": "see `pm --help` and the README's Quick start",
}


def command_for(name: str) -> click.Command:
    """A hidden command that takes any arguments and says what to use instead of `name`."""

    def answer(**_: Any) -> None:
        raise PMError(INSTEAD[name])

    return click.Command(
        name,
        callback=answer,
        hidden=True,
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        help=f"(PM2's `{name}`: not in pm.)",
    )
