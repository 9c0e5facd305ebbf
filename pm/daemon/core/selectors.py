"""Which apps a target names: PM2's selectors (PM2.md 1.1).

A target is `all`, an app name, a namespace, a script path, a pm_id, or a `/regex/` matched
against names; the first kind that matches anything wins.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from pm.daemon.core.app import App
from pm.errors import BadRequest, NotFound


def select(apps: Iterable[App], targets: Iterable[str | int], cwd: str | None = None) -> list[App]:
    """Apps matching any target, in pm_id order; NotFound if a target matches none. A relative
    script path is read against cwd, the caller's working directory."""
    chosen, missing = select_until_unknown(apps, targets, cwd)
    if missing is not None:
        raise missing
    return sorted(chosen, key=lambda app: app.pm_id)


def select_until_unknown(
    apps: Iterable[App], targets: Iterable[str | int], cwd: str | None = None
) -> tuple[list[App], NotFound | None]:
    """PM2's order for a command on several targets: the apps of each target in turn, up to the
    first target that names nothing, whose error comes back to be raised after acting."""
    table = list(apps)
    chosen: dict[int, App] = {}
    for target in targets:
        try:
            found = _select_one(table, str(target), cwd)
        except NotFound as missing:
            return list(chosen.values()), missing
        chosen.update((app.pm_id, app) for app in found if app.pm_id not in chosen)
    return list(chosen.values()), None


def _select_one(apps: list[App], target: str, cwd: str | None) -> list[App]:
    if target == "all":
        return list(apps)
    if len(target) > 2 and target.startswith("/") and target.endswith("/"):
        try:
            pattern = re.compile(target[1:-1])
        except re.error as exc:
            raise BadRequest(f"invalid regex {target}: {exc}") from None
        found = [app for app in apps if pattern.search(app.name)]
    else:
        found = [app for app in apps if app.name == target]
        found = found or [app for app in apps if app.spec.namespace == target]
        found = found or [app for app in apps if app.command.exec_path in _as_paths(target, cwd)]
        if not found and target.isdigit():
            found = [app for app in apps if app.pm_id == int(target)]
    if not found:
        raise NotFound(f"Process or Namespace {target} not found")
    return found


def _as_paths(target: str, cwd: str | None) -> set[str]:
    """The script paths a target may mean: as given, and read against the caller's cwd
    (`pm restart echo.js` from the script's folder, as PM2 resolves it)."""
    paths = {target}
    if cwd and os.path.isabs(cwd):
        paths.add(os.path.normpath(os.path.join(cwd, target)))
    return paths
