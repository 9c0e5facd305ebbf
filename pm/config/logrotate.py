"""The `logrotate:<key>` settings: names, pm2-logrotate defaults, validation.

Values come from `pm set logrotate:<key> <value>` (PM_HOME/module_conf.json, see settings.py)
and from an app's own `logrotate: {...}` in the ecosystem; both are checked here before they are
stored, and parsed into a `RotateConfig` by the daemon's rotation worker at every check.

This module does not read the settings file itself: settings.py validates through it, so the
caller hands it the stored data (`section`), which keeps the two free of an import cycle.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pm.config import cron
from pm.config.spec import parse_size
from pm.errors import ConfigError

#: pm2-logrotate's defaults (its README), as strings the way `pm set` stores values.
DEFAULTS: dict[str, str] = {
    "max_size": "10M",
    "retain": "30",
    "compress": "false",
    "dateFormat": "YYYY-MM-DD_HH-mm-ss",
    "workerInterval": "30",
    "rotateInterval": "0 0 * * *",
    "enabled": "true",
    "lossless": "true",
}

#: Keys an app may set for itself in the ecosystem (`logrotate: {...}`); the check interval
#: is the daemon's, so it stays global.
APP_KEYS = ("max_size", "retain", "compress", "dateFormat", "rotateInterval", "enabled", "lossless")

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class RotateConfig:
    max_size: int
    retain: int | None  # None = keep all
    compress: bool
    date_format: str
    worker_interval: float
    rotate_interval: str | None
    enabled: bool
    lossless: bool


def _bool(key: str, value: str) -> bool:
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"logrotate:{key}: expected true or false, got {value!r}")


def has_five_fields(pattern: str) -> None:
    """The shape check of a rotateInterval: five fields, pm2-logrotate's form."""
    if len(pattern.split()) != 5:
        raise ConfigError(f"logrotate:rotateInterval: expected 5 cron fields, got {pattern!r}")


@functools.lru_cache(maxsize=64)
def check_interval(pattern: str) -> None:
    """Refuse a rotateInterval that is not a valid five-field cron pattern.

    Cached: every app's settings are parsed at every check, and croniter takes ~30 us a look.
    """
    has_five_fields(pattern)
    try:
        cron.check(pattern)
    except ConfigError:
        raise ConfigError(
            f"logrotate:rotateInterval: invalid cron pattern {pattern!r}; expected "
            "minute hour day month weekday, e.g. '0 0 * * *'"
        ) from None


def parse(
    raw: dict[str, Any], check_pattern: Callable[[str], None] = check_interval
) -> RotateConfig:
    """The settings in raw (string values, as stored) over the defaults; ConfigError if bad.

    The daemon passes `has_five_fields` as check_pattern: croniter stays out of it, and its
    `cron.Timetable` reports a pattern croniter refuses when the pattern is first used."""
    values = {**DEFAULTS, **{k: str(v) for k, v in raw.items()}}
    retain_text = values["retain"].strip().lower()
    if retain_text == "all":
        retain = None
    elif retain_text.isdigit() and int(retain_text) >= 1:
        retain = int(retain_text)
    else:
        raise ConfigError(
            f"logrotate:retain: expected a count >= 1 or 'all', got {values['retain']!r}"
        )
    try:
        interval = float(values["workerInterval"])
    except ValueError:
        interval = 0
    if interval < 1:
        raise ConfigError(
            f"logrotate:workerInterval: expected seconds >= 1, got {values['workerInterval']!r}"
        )
    max_size = parse_size(values["max_size"], "logrotate:max_size")
    if max_size <= 0:
        raise ConfigError(f"logrotate:max_size: expected a size > 0, got {values['max_size']!r}")
    pattern = values["rotateInterval"].strip()
    if pattern and pattern.lower() not in ("none", "false", "off"):
        check_pattern(pattern)
    else:
        pattern = ""
    return RotateConfig(
        max_size,
        retain,
        _bool("compress", values["compress"]),
        values["dateFormat"],
        interval,
        pattern or None,
        _bool("enabled", values["enabled"]),
        _bool("lossless", values["lossless"]),
    )


def validate_setting(key: str, value: str) -> None:
    """Refuse a bad `pm set logrotate:<key>` before it is stored."""
    if key not in DEFAULTS:
        raise ConfigError(f"unknown setting logrotate:{key}; known: {', '.join(DEFAULTS)}")
    parse({key: value})


def section(stored: dict[str, Any], source: object) -> dict[str, Any]:
    """The `logrotate` object of the stored settings (`settings.load`); source names the file."""
    found = stored.get("logrotate") or {}
    if not isinstance(found, dict):
        raise ConfigError(f"{source}: 'logrotate' must be an object")
    return found


def app_config(
    shared: dict[str, Any], app: Any, check_pattern: Callable[[str], None] = check_interval
) -> RotateConfig:
    """The global settings (shared, a `section`) overridden by the app's own `logrotate`."""
    own = getattr(app.spec, "logrotate", None) or {}
    return parse({**shared, **own} if own else shared, check_pattern)
