"""The daemon's commands: one small function per command, in one table built here.

Each module answers one area (apps, starting apps, scale, logs, the saved list, watching)
and lists its commands in `COMMANDS`; nothing registers itself on import.
"""

from __future__ import annotations

from pm.daemon.handlers import apps, logs, persist, scale, start, watch
from pm.daemon.handlers.context import Context, Handler

__all__ = ["HANDLERS", "READ_ONLY", "Context", "Handler"]

#: Commands that change nothing: every other command's reply waits until the live state
#: (state.json) holds what it did, so an acknowledged change survives the daemon's death.
READ_ONLY = frozenset({"hello", "ping", "list", "describe", "env", "saved_names"})

#: Wire name -> handler, for the server and the foreground runtime.
HANDLERS: dict[str, Handler] = {
    name: handler
    for module in (apps, start, scale, logs, persist, watch)
    for name, handler in module.COMMANDS.items()
}
