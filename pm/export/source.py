"""Where the apps of an export come from: an ecosystem file, read by pm's own readers (so env
profiles, instances, durations and sizes are the values pm itself would use), or the running
list (`pm jlist` entries, which the CLI gets from the daemon)."""

from __future__ import annotations

import os
from typing import Any

from pm.config import support
from pm.config.ecosystem import app_label, load_file
from pm.config.spec import AppSpec
from pm.errors import ConfigError
from pm.export.app import EXTRA_KEYS, ExportApp, export_app, give_keys
from pm.export.notes import Notes


def from_file(
    path: str, env_name: str | None, only: list[str] | None, notes: Notes
) -> list[ExportApp]:
    """The file's apps (those named in only, when given); ConfigError on any bad app."""
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: no such ecosystem file")
    try:
        loaded = load_file(path, env_name, check_scripts=False)
    except ConfigError as exc:  # its lines name file, app and field; "nothing started" is pm
        lines = exc.message.splitlines()  # start's word, not the export's
        if len(lines) > 1 and lines[0].endswith("nothing started:"):
            lines = lines[1:]
        raise ConfigError("\n".join(lines)) from None
    for line in loaded.warnings:
        if _concerns_export(line):
            notes.add(line)
    absolute = os.path.abspath(path)
    apps = [
        export_app(spec, raw, app_label(absolute, index, raw), absolute)
        for index, (spec, raw) in enumerate(zip(loaded.specs, loaded.raw, strict=True))
    ]
    return _only(apps, only, path)


def _concerns_export(line: str) -> bool:
    """Keep the reader's warnings that matter here: not the ones about the export's own
    attributes (unknown to pm's spec), nor those saying pm itself does not honour a value
    (each target maps or warns about that attribute itself)."""
    if any(
        f"unknown attribute '{key}'" in line or f"unknown attribute '{_camel(key)}'" in line
        for key in EXTRA_KEYS
    ):
        return False
    return not any(
        line.endswith(f"'{attr}' {reason}") for attr, (_, reason) in support.WARNED.items()
    )


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _only(apps: list[ExportApp], only: list[str] | None, where: str) -> list[ExportApp]:
    if not only:
        return give_keys(apps)
    missing = [name for name in only if name not in {app.name for app in apps}]
    if missing:
        raise ConfigError(f"{where}: no app named {', '.join(missing)}")
    return give_keys([app for app in apps if app.name in only])


def from_jlist(entries: list[dict[str, Any]], only: list[str] | None) -> list[ExportApp]:
    """One ExportApp per app name of the running list, its instances counted.

    jlist carries every spec field except the app's own `env`, which it merges with the
    shell's environment the app was started from. PM2's shape also puts the app's variables
    at the top of pm2_env, so those are taken (less the ones pm itself sets there, PM_HOME and
    the instance variable): the shell's PATH, HOME and so on stay out of the manifests.
    """
    first: dict[str, dict[str, Any]] = {}
    count: dict[str, int] = {}
    for entry in sorted(entries, key=lambda e: int(e.get("pm_id", 0))):
        name = str(entry.get("name"))
        first.setdefault(name, entry)
        count[name] = count.get(name, 0) + 1
    apps = [_running_app(entry, count[name]) for name, entry in first.items()]
    return _only(apps, only, "the running list")


def _running_app(entry: dict[str, Any], instances: int) -> ExportApp:
    pm2_env = entry.get("pm2_env") or {}
    names = set(AppSpec.field_names())
    fields = {key: pm2_env[key] for key in names if key in pm2_env}
    fields["version"] = None if pm2_env.get("version") == "N/A" else pm2_env.get("version")
    merged = pm2_env.get("env") or {}
    pm_set = {"env", "PM_HOME", str(pm2_env.get("instance_var") or "NODE_APP_INSTANCE")}
    fields["env"] = {
        key: str(value)
        for key, value in merged.items()
        if key in pm2_env and key not in names and key not in pm_set
    }
    fields["instances"] = instances
    label = f"running app '{entry.get('name')}'"
    spec = AppSpec.from_dict(fields, where=label)
    return export_app(spec, pm2_env, label)
