"""`AppSpec`: every ecosystem attribute, its type, its PM2 default and its normalisation.

An AppSpec is what the CLI sends the daemon and what the dump stores: plain data, resolved on the
client side (absolute paths, captured environment) so the daemon can start it again as-is.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pm.errors import ConfigError

DEFAULT_KILL_TIMEOUT_MS = 1600
DEFAULT_MAX_RESTARTS = 16
DEFAULT_MIN_UPTIME_MS = 1000
DEFAULT_LISTEN_TIMEOUT_MS = 3000

#: Other spellings PM2 accepts for an attribute, mapped to the canonical name.
ALIASES = {
    "exec": "script",
    "cmd": "script",
    "command": "script",
    "exec_interpreter": "interpreter",
    "node_args": "interpreter_args",
    "out": "out_file",
    "output": "out_file",
    "out_log": "out_file",
    "error": "error_file",
    "err": "error_file",
    "err_file": "error_file",
    "err_log": "error_file",
    "log": "log_file",
    "pid": "pid_file",
    "combine_logs": "merge_logs",
    "cron": "cron_restart",
    "user": "uid",
}


def _camel_to_snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


@dataclass
class AppSpec:
    """One app as configured. Field names and defaults are PM2's (PM2.md 2.3)."""

    script: str
    name: str = ""
    namespace: str = "default"
    cwd: str = ""
    args: list[str] = field(default_factory=list)
    interpreter: str | None = None
    interpreter_args: list[str] = field(default_factory=list)
    instances: int = 1
    exec_mode: str = "fork_mode"
    env: dict[str, str] = field(default_factory=dict)
    autorestart: bool = True
    autostart: bool = True
    max_restarts: int = DEFAULT_MAX_RESTARTS
    min_uptime: int = DEFAULT_MIN_UPTIME_MS
    restart_delay: int = 0
    exp_backoff_restart_delay: int = 0
    stop_exit_codes: list[int] = field(default_factory=list)
    kill_timeout: int = DEFAULT_KILL_TIMEOUT_MS
    kill_signal: str | None = None  # pm addition; None: the daemon's (PM_KILL_SIGNAL, SIGINT)
    listen_timeout: int = DEFAULT_LISTEN_TIMEOUT_MS
    wait_ready: bool = False
    shutdown_with_message: bool = False
    cron_restart: str | None = None
    max_memory_restart: int | None = None
    watch: bool | list[str] = False
    ignore_watch: list[str] = field(default_factory=list)
    watch_delay: int = 0
    time: bool = False
    log_date_format: str | None = None
    log_type: str | None = None
    out_file: str | None = None
    error_file: str | None = None
    log_file: str | bool | None = None
    merge_logs: bool | None = None
    disable_logs: bool = False
    pid_file: str | None = None
    port: int | None = None
    instance_var: str = "NODE_APP_INSTANCE"
    increment_var: str | None = None
    filter_env: bool | list[str] = False
    append_env_to_name: bool = False
    treekill: bool = True
    uid: int | str | None = None
    gid: int | str | None = None
    version: str | None = None
    watch_options: dict[str, Any] = field(default_factory=dict)
    kill_retry_time: int = 100
    vizion: bool = True
    force: bool = False
    # pm additions (documented in the README): event hooks and start ordering.
    hooks: dict[str, str] = field(default_factory=dict)
    priority: int = 0
    depends_on: list[str] = field(default_factory=list)
    restart_group: bool = False
    logrotate: dict[str, str] | None = None  # per-app rotation settings (pm.daemon.output.rotation)
    # pm additions for zero-downtime work (pm.config.probes): handed-over sockets, health checks.
    listen: list[str] = field(default_factory=list)
    health_check: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A plain, independent copy. Not dataclasses.asdict: that deep-copies through its
        dataclass checks and was half the daemon's CPU when starting apps (state writes)."""
        return {name: _plain_copy(getattr(self, name)) for name in _field_names(AppSpec)}

    @classmethod
    def field_names(cls) -> list[str]:
        return list(_field_names(AppSpec))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str = "app") -> AppSpec:
        """Build a spec from an already canonical dict (the wire and the dump)."""
        known = set(cls.field_names())
        values = {key: value for key, value in raw.items() if key in known}
        if not values.get("script"):
            raise ConfigError(f"{where}: field 'script' is required")
        spec = cls(**values)
        validate(spec, where)
        return spec


@functools.cache
def _field_names(cls: type[AppSpec]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _plain_copy(value: Any) -> Any:
    """Copy the lists and dicts a spec holds (JSON-like data) so callers may change them."""
    if isinstance(value, dict):
        return {key: _plain_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_copy(item) for item in value]
    return value


def canonical_key(key: str) -> str:
    """The canonical attribute name for a key as a user may write it (alias, camelCase)."""
    if key in ALIASES:
        return ALIASES[key]
    snake = _camel_to_snake(key)
    return ALIASES.get(snake, snake)


def suggest_key(key: str) -> str | None:
    """The nearest known attribute name, for "did you mean" warnings."""
    import difflib  # only for warnings: kept out of the daemon's memory

    candidates = AppSpec.field_names() + list(ALIASES)
    close = difflib.get_close_matches(canonical_key(key), candidates, n=1, cutoff=0.6)
    return close[0] if close else None


# ---------------------------------------------------------------- value parsing

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)
_DURATION_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG])?B?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3}


def parse_duration_ms(value: Any, where: str, default_unit: str = "ms") -> int:
    """Milliseconds from a number (in default_unit) or a string like '500', '5s', '1m', '1h'."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a duration (ms or '5s'/'1m'/'1h'), got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):  # JSON Infinity, YAML .inf
        raise ConfigError(f"{where}: expected a finite duration, got {value!r}")
    if isinstance(value, (int, float)):
        return int(value * _DURATION_UNITS_MS[default_unit])
    match = _DURATION.match(str(value))
    if not match:
        raise ConfigError(f"{where}: expected a duration (ms or '5s'/'1m'/'1h'), got {value!r}")
    unit = (match.group(2) or default_unit).lower()
    return int(float(match.group(1)) * _DURATION_UNITS_MS[unit])


def parse_size(value: Any, where: str) -> int:
    """Bytes from a number or a string like '150M', '1G', '512K'."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a size like '150M' or '1G', got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite size, got {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    match = _SIZE.match(str(value))
    if not match:
        raise ConfigError(f"{where}: expected a size like '150M' or '1G', got {value!r}")
    unit = (match.group(2) or "").upper()
    return int(float(match.group(1)) * _SIZE_UNITS.get(unit, 1))


#: Signals that cannot stop an app: SIGSTOP only freezes it (it cannot be caught either).
_NOT_STOP_SIGNALS = ("SIGSTOP",)


def parse_signal(value: Any, where: str) -> str:
    """A signal's canonical name from a name ('SIGTERM', 'TERM', 'sigterm') or a number (15,
    '15'), as `kill -s` and PM2_KILL_SIGNAL take them."""
    import signal

    expected = f"{where}: expected a signal name or number (e.g. SIGTERM or 15), got {value!r}"
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(expected)
    text = str(value).strip().upper()
    try:
        if text.isdigit():
            name = signal.Signals(int(text)).name
        else:
            name = signal.Signals[text if text.startswith("SIG") else f"SIG{text}"].name
    except (KeyError, ValueError):
        raise ConfigError(expected) from None
    if name in _NOT_STOP_SIGNALS:
        raise ConfigError(f"{where}: {name} cannot stop an app (it only freezes it)")
    return name


def split_args(value: Any, where: str) -> list[str]:
    """A list of strings from a list or a shell-quoted string, as PM2 splits `args`."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: cannot split {value!r}: {exc}") from None
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [str(value)]
    raise ConfigError(f"{where}: expected a string or a list of strings, got {value!r}")


def resolve_instances(value: Any, where: str) -> int:
    """PM2's rule: 'max' or 0 = CPU count, -N = CPUs - N, never below 1."""
    cpus = os.cpu_count() or 1
    if value in ("max", "MAX", "Max"):
        return cpus
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{where}: expected a number or 'max', got {value!r}") from None
    if number == 0:
        return cpus
    if number < 0:
        return max(1, cpus + number)
    return number


def validate(spec: AppSpec, where: str) -> None:
    """Check the types of a canonical spec; raise one ConfigError listing every bad field."""
    errors = validation_errors(spec, where)
    if errors:
        raise ConfigError("\n".join(errors))


def validation_errors(spec: AppSpec, where: str) -> list[str]:
    """Every problem of a canonical spec, one line each naming the field (none: it is valid)."""
    wrong = _declared_type_errors(spec, where)
    errors, bad = list(wrong.values()), set(wrong)  # one message per field
    checks: list[tuple[str, tuple[type, ...]]] = [
        ("script", (str,)),
        ("name", (str,)),
        ("namespace", (str,)),
        ("cwd", (str,)),
        ("instances", (int,)),
        ("max_restarts", (int,)),
        ("min_uptime", (int,)),
        ("restart_delay", (int,)),
        ("exp_backoff_restart_delay", (int,)),
        ("kill_timeout", (int,)),
        ("autorestart", (bool,)),
        ("autostart", (bool,)),
        ("treekill", (bool,)),
        ("env", (dict,)),
    ]
    for name, types in checks:
        value = getattr(spec, name)
        if name in bad:
            continue
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            expected = " or ".join(t.__name__ for t in types)
            errors.append(f"{where}: field '{name}' expects {expected}, got {value!r}")
            bad.add(name)
    for name in ("max_restarts", "min_uptime", "restart_delay", "kill_timeout", "instances"):
        if name not in bad and getattr(spec, name) < 0:
            errors.append(f"{where}: field '{name}' must not be negative")
    if "args" not in bad and not all(isinstance(arg, str) for arg in spec.args):
        errors.append(f"{where}: field 'args' expects strings, got {spec.args!r}")
    if "stop_exit_codes" not in bad and not all(
        isinstance(code, int) for code in spec.stop_exit_codes
    ):
        errors.append(f"{where}: field 'stop_exit_codes' expects integers")
    if spec.kill_signal is not None and "kill_signal" not in bad:
        try:
            parse_signal(spec.kill_signal, f"{where}: field 'kill_signal'")
        except ConfigError as exc:
            errors.append(exc.message)
    if spec.cron_restart is not None and "cron_restart" not in bad:
        from pm.config.cron import check as check_cron

        try:
            check_cron(spec.cron_restart, where)
        except ConfigError as exc:
            errors.append(exc.message)
    return errors


def _declared_type_errors(spec: AppSpec, where: str) -> dict[str, str]:
    """Every field against its annotation, so a wrong type from the wire (e.g. `args: 5`)
    is a ConfigError naming the field, not a TypeError deep inside the spawn code."""
    return {
        name: f"{where}: field '{name}' expects {_hint_name(hint)}, got {getattr(spec, name)!r}"
        for name, hint, matches in _field_checks()
        if not matches(getattr(spec, name))
    }


Predicate = Callable[[Any], bool]


@functools.cache
def _field_checks() -> list[tuple[str, Any, Predicate]]:
    """(field, annotation, predicate) for every AppSpec field, built once per process:
    walking typing objects per value made validation most of the daemon's start-up CPU."""
    import typing

    hints = typing.get_type_hints(AppSpec)
    return [(name, hint, _predicate(hint)) for name, hint in hints.items()]


def _predicate(hint: Any) -> Predicate:
    """A function telling whether a JSON-like value fits the annotation hint."""
    import types
    import typing

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is typing.Any or not (origin or isinstance(hint, type)):
        return lambda value: True
    if origin in (typing.Union, types.UnionType):
        options = [_predicate(arg) for arg in args]
        return lambda value: any(option(value) for option in options)
    if hint is type(None):
        return lambda value: value is None
    if origin is list:
        item = _predicate(args[0])
        return lambda value: isinstance(value, list) and all(map(item, value))
    if origin is dict:
        key, item = _predicate(args[0]), _predicate(args[1])
        return lambda value: (
            isinstance(value, dict) and all(key(k) and item(v) for k, v in value.items())
        )
    if hint is int:
        return lambda value: isinstance(value, int) and not isinstance(value, bool)
    return lambda value: isinstance(value, hint)


def _hint_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


# ---------------------------------------------------------------- command resolution
