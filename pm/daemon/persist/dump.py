"""The saved process list (`~/.pm/dump`): atomic writes that never replace a good list with junk.

Each entry holds everything needed to start that app instance again (the resolved spec, the
environment captured at start, its id and status) so `pm resurrect` needs nothing else.

Writing is crash-safe at every instant: the previous dump is hard-linked to `dump.bak` (so
`dump` never disappears), the new list goes to a temp file that is fsynced, then renamed over
`dump`, and the folder is fsynced. A reader therefore sees the old list or the new one, whole.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pm.daemon.core.app import App
from pm.errors import ConfigError, NoProcess, NotFound
from pm.paths import Home, write_private

DUMP_FORMAT = 1


def mapping_at(item: dict[str, Any], key: str) -> dict[str, Any]:
    """item[key] when it is an object, else an empty one (dumps are read as they come)."""
    value = item.get(key)
    return value if isinstance(value, dict) else {}


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
        raise NoProcess("pm is not managing any process, skipping save")
    data = json.dumps([entry(app) for app in apps], indent=2).encode()
    write_list(home, data)
    return len(apps)


def write_list(home: Home, data: bytes) -> None:
    """Replace the dump with data atomically; a readable previous dump becomes dump.bak."""
    _remove_stale_temps(home.dump)
    if _readable(home.dump) and not _same_file(home.dump, home.dump_backup):
        tmp = home.dump_backup.with_name(f".{home.dump_backup.name}.tmp{os.getpid()}")
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        os.link(home.dump, tmp)  # same inode: dump stays in place until the rename below
        os.replace(tmp, home.dump_backup)
    write_private(home.dump, data)
    _fsync_dir(home.dump.parent)


def clear(home: Home) -> None:
    """`pm cleardump`: an empty list (PM2 writes `[]`); the previous one stays in dump.bak."""
    write_list(home, b"[]\n")


def _same_file(first: Path, second: Path) -> bool:
    """True after a save killed between its two renames: rename() of one hard link over
    another of the same inode does nothing, so the backup step is skipped."""
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def _readable(path: Path) -> bool:
    try:
        return isinstance(json.loads(path.read_bytes()), list)
    except (OSError, ValueError):
        return False


def _remove_stale_temps(path: Path) -> None:
    """Temp files left by a save that was killed mid-write."""
    for stale in path.parent.glob(f".{path.name}*.tmp*"):
        try:
            pid = int(stale.name.rsplit(".tmp", 1)[1])
        except ValueError:
            continue
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
            stale.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------ reading


@dataclass
class Loaded:
    """Entries read from a dump, where they came from, and what the user should know."""

    entries: list[dict[str, Any]]
    source: str
    warnings: list[str] = field(default_factory=list)


def read_entries(path: Path) -> list[dict[str, Any]]:
    """Parse one dump file (pm's or PM2's: both are JSON arrays of objects)."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise NotFound(f"{path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ConfigError(f"{path}: expected a JSON array of app objects")
    return data


def load(home: Home) -> Loaded:
    """The saved list, falling back to dump.bak (with a warning) when dump is unusable.

    A dump that exists but cannot be read is moved aside to `dump.broken` once the backup has
    been read: PM2 deletes it so the next save starts clean; pm keeps it for a look."""
    try:
        return Loaded(read_entries(home.dump), str(home.dump))
    except (ConfigError, NotFound) as first:
        try:
            entries = read_entries(home.dump_backup)
        except (ConfigError, NotFound):
            if isinstance(first, NotFound):
                raise NotFound(
                    f"no processes saved: {home.dump} does not exist (run `pm save` first)"
                ) from None
            raise ConfigError(
                f"{first.message}, and {home.dump_backup} is not usable either; "
                "nothing to resurrect"
            ) from None
        warnings = [f"{first.message}; using the previous list {home.dump_backup}"]
        if isinstance(first, ConfigError):
            aside = home.dump.with_name(home.dump.name + ".broken")
            with contextlib.suppress(OSError):
                os.replace(home.dump, aside)
                warnings.append(f"the unreadable {home.dump} was moved to {aside}")
        return Loaded(entries, str(home.dump_backup), warnings)


def saved_names(home: Home) -> list[str] | None:
    """Names in the saved list (for `pm list`'s out-of-sync warning); None without a dump."""
    try:
        entries = read_entries(home.dump)
    except (ConfigError, NotFound):
        return None
    names = []
    for item in entries:
        spec = mapping_at(item, "spec") or item
        names.append(str(spec.get("name", "")))
    return names


# ------------------------------------------------------------ PM2's dump.pm2

#: Variables PM2 adds to every app's `env` that mean nothing to pm.
_PM2_ENV_NOISE = frozenset(
    {"PM2_HOME", "PM2_USAGE", "PM2_INTERACTOR_PROCESSING", "PM2_JSON_PROCESSING", "unique_id", "_"}
)
#: pm2_env keys that are PM2 runtime facts, not configuration.
_PM2_RUNTIME = frozenset(
    {
        "pm_id",
        "status",
        "pm_uptime",
        "created_at",
        "restart_time",
        "unstable_restarts",
        "exit_code",
        "version",
        "node_version",
        "username",
        "unique_id",
        "instances",
        "prev_restart_delay",
    }
)


def is_pm2_entry(item: dict[str, Any]) -> bool:
    return "spec" not in item and ("pm_exec_path" in item or "script" in item)


def from_pm2(entries: list[dict[str, Any]], where: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Turn PM2 dump entries (one pm2_env per process, PM2.md 3.6) into pm dump entries.

    PM2 merges the shell and the app env into one `env`; it all becomes the app's captured
    shell env. Entries sharing a name become one app with that many instances. Log and pid
    paths under PM2's home are dropped so pm writes its own; custom paths are kept.
    """
    from pm.config.attributes import build_spec

    counts: dict[str, int] = {}
    for item in entries:
        counts[str(item.get("name", ""))] = counts.get(str(item.get("name", "")), 0) + 1
    converted: list[dict[str, Any]] = []
    warnings: list[str] = []
    for index, item in enumerate(entries):
        label = f"{where}: entry #{index} ({item.get('name', '?')})"
        raw = _pm2_raw_spec(item)
        raw["instances"] = counts.get(str(item.get("name", "")), 1)
        spec = build_spec(raw, label, str(raw.get("cwd") or "/"), None, {}, warnings)
        env = mapping_at(item, "env")
        shell_env = {
            str(k): str(v) for k, v in env.items() if k not in _PM2_ENV_NOISE and k != spec.name
        }
        converted.append(
            {
                "format": DUMP_FORMAT,
                "status": str(item.get("status", "online")),
                "spec": spec.to_dict(),
                "shell_env": shell_env,
            }
        )
    return converted, warnings


def _pm2_raw_spec(item: dict[str, Any]) -> dict[str, Any]:
    """The configuration part of a pm2_env, as an ecosystem app object."""
    from pm.config.attributes import COERCE
    from pm.config.command import INTERPRETER_BY_EXTENSION
    from pm.config.spec import canonical_key

    env = mapping_at(item, "env")
    pm2_home = str(env.get("PM2_HOME") or item.get("PM2_HOME") or "")
    raw: dict[str, Any] = {}
    for key, value in item.items():
        if key in _PM2_RUNTIME or key == "env" or (key in env and key not in COERCE):
            continue
        canonical = canonical_key(key)
        if canonical in COERCE and canonical not in ("env", "instances", "script", "cwd"):
            raw[canonical] = value
    raw["script"] = item.get("pm_exec_path") or item.get("script")
    raw["cwd"] = item.get("pm_cwd") or item.get("cwd") or "/"
    interpreter = item.get("exec_interpreter")
    extension = Path(str(raw["script"])).suffix.lower()
    if interpreter and interpreter != INTERPRETER_BY_EXTENSION.get(extension):
        raw["interpreter"] = interpreter
    else:
        raw.pop("interpreter", None)  # let pm pick it (python -> python3 where needed)
    for ours, theirs in (
        ("out_file", "pm_out_log_path"),
        ("error_file", "pm_err_log_path"),
        ("pid_file", "pm_pid_path"),
    ):
        path = str(item.get(theirs) or "")
        raw.pop(ours, None)
        if path and not (pm2_home and path.startswith(pm2_home.rstrip("/") + "/")):
            raw[ours] = path
    return raw
