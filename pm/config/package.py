"""The version of the package an app belongs to: PM2 shows the `version` of the nearest
package.json above the app's script (its folder, then each parent, `/` excepted), read again at
each launch, for apps in any language."""

from __future__ import annotations

import json
import os


def package_version(exec_path: str, cwd: str) -> str | None:
    """The version in the nearest package.json above exec_path (cwd for a command line), or
    None. As PM2: the first package.json that parses ends the search, version or not."""
    start = exec_path if os.path.isabs(exec_path) else cwd
    folder = start if os.path.isdir(start) else os.path.dirname(start)
    while folder and folder != os.path.dirname(folder):  # stop at "/", as PM2 does
        found = _read(os.path.join(folder, "package.json"))
        if found is not None:
            version = found.get("version")
            return version if isinstance(version, str) and version else None
        folder = os.path.dirname(folder)
    return None


def _read(path: str) -> dict[str, object] | None:
    """The object a package.json holds; None when it is missing, unreadable or no JSON object."""
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read(1 << 20).decode("utf-8-sig"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
