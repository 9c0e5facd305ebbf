"""The daemon's commands: one small function per command, in one table built here.

Each module answers one area (apps, ecosystem files and scale, logs, the saved list, watching)
and lists its commands in `COMMANDS`; nothing registers itself on import.
"""

from __future__ import annotations

from pm.daemon.handlers import apps, ecosystem, logs, persist, watch
from pm.daemon.handlers.context import Context, Handler

__all__ = ["Context", "Handler", "HANDLERS"]

#: Wire name -> handler, for the server and the foreground runtime.
HANDLERS: dict[str, Handler] = {
    name: handler
    for module in (apps, ecosystem, logs, persist, watch)
    for name, handler in module.COMMANDS.items()
}
