"""The saved process list (`~/.pm/dump`): atomic writes that never replace a good list with junk.

Each entry holds everything needed to start that app instance again (the resolved spec, the
environment captured at start, its id and status) so `pm resurrect` needs nothing else.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pm.app import App
from pm.errors import Conflict
from pm.paths import Home, write_private

DUMP_FORMAT = 1


def entry(app: App) -> dict[str, Any]:
    return {
        "format": DUMP_FORMAT,
        "pm_id": app.pm_id,
        "status": str(app.status),
        "instance": app.instance,
        "spec": app.spec.to_dict(),
        "shell_env": app.shell_env,
        "restart_time": app.counters.restart_time,
    }


def save(home: Home, apps: list[App], force: bool = False) -> int:
    """Write the dump (keeping the previous one as dump.bak); return how many apps it lists."""
    if not apps and not force:
        raise Conflict("pm is not managing any process, skipping save (use --force to save an empty list)")
    data = json.dumps([entry(app) for app in apps], indent=2).encode()
    if home.dump.exists():
        os.replace(home.dump, home.dump_backup)
    write_private(home.dump, data)
    return len(apps)
