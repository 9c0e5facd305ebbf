"""One app of an ecosystem file (or of CLI flags) turned into an AppSpec: each attribute
checked and normalised, with errors naming the file, the app and the field."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pm.config import support
from pm.config.command import INTERPRETER_BY_EXTENSION, default_name, is_node
from pm.config.probes import parse_health_check, parse_listen
from pm.config.settings import app_logrotate
from pm.config.spec import (
    AppSpec,
    canonical_key,
    parse_duration_ms,
    parse_signal,
    parse_size,
    resolve_instances,
    split_args,
    suggest_key,
    validation_errors,
)
from pm.errors import ConfigError

Coerce = Callable[[Any, str], Any]


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ConfigError(f"{where}: expected true or false, got {value!r}")


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{where}: expected a number, got {value!r}") from None


def _str(value: Any, where: str) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(f"{where}: expected a string, got {value!r}")


def _env(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected an object of variables, got {value!r}")
    return {str(k): _env_string(v) for k, v in value.items()}


def _env_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))  # as JSON.stringify writes it
    return "" if value is None else str(value)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected an object, got {value!r}")
    return value


def _codes(value: Any, where: str) -> list[int]:
    items = value if isinstance(value, list) else [value]
    return [_int(item, where) for item in items]


def _str_list(value: Any, where: str) -> list[str]:
    return split_args(value, where)


def _watch(value: Any, where: str) -> bool | list[str]:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ConfigError(f"{where}: expected true/false, a path or a list of paths, got {value!r}")


def _bool_or_str(value: Any, where: str) -> bool | str:
    return value if isinstance(value, (bool, str)) else _str(value, where)


def _filter_env(value: Any, where: str) -> bool | list[str]:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value]
    raise ConfigError(f"{where}: expected true/false, a string or a list, got {value!r}")


def _cron(value: Any, where: str) -> str | None:
    if value in (0, "0", None, ""):
        return None
    return _str(value, where)


def _hooks(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected an object of event: command, got {value!r}")
    return {str(k): _str(v, f"{where}.{k}") for k, v in value.items()}


def _optional_id(value: Any, where: str) -> int | str | None:
    if value is None or isinstance(value, bool):
        raise ConfigError(f"{where}: expected a user/group name or number, got {value!r}")
    return value if isinstance(value, int) else str(value)


def _exec_mode(value: Any, where: str) -> str:
    mode = _str(value, where)
    if mode in ("fork", "fork_mode"):
        return "fork_mode"
    if mode in ("cluster", "cluster_mode"):
        return "cluster_mode"
    raise ConfigError(f"{where}: expected 'fork' or 'cluster', got {value!r}")


COERCE: dict[str, Coerce] = {
    "script": _str,
    "name": _str,
    "namespace": _str,
    "cwd": _str,
    "version": _str,
    "args": _str_list,
    "interpreter_args": _str_list,
    "ignore_watch": _str_list,
    "depends_on": _str_list,
    "interpreter": _str,
    "instances": resolve_instances,
    "exec_mode": _exec_mode,
    "env": _env,
    "autorestart": _bool,
    "autostart": _bool,
    "wait_ready": _bool,
    "treekill": _bool,
    "shutdown_with_message": _bool,
    "time": _bool,
    "disable_logs": _bool,
    "append_env_to_name": _bool,
    "merge_logs": _bool,
    "restart_group": _bool,
    "max_restarts": _int,
    "port": _int,
    "priority": _int,
    "min_uptime": parse_duration_ms,
    "restart_delay": parse_duration_ms,
    "exp_backoff_restart_delay": parse_duration_ms,
    "kill_timeout": parse_duration_ms,
    "kill_signal": parse_signal,
    "listen_timeout": parse_duration_ms,
    "watch_delay": parse_duration_ms,
    "stop_exit_codes": _codes,
    "cron_restart": _cron,
    "max_memory_restart": parse_size,
    "watch": _watch,
    "log_date_format": _str,
    "log_type": _str,
    "out_file": _str,
    "error_file": _str,
    "pid_file": _str,
    "log_file": _bool_or_str,
    "instance_var": _str,
    "increment_var": _str,
    "filter_env": _filter_env,
    "uid": _optional_id,
    "gid": _optional_id,
    "hooks": _hooks,
    "watch_options": _object,
    "kill_retry_time": parse_duration_ms,
    "vizion": _bool,
    "force": _bool,
    "logrotate": app_logrotate,
    "listen": parse_listen,
    "health_check": parse_health_check,
}

#: Keys PM2 accepts that pm does not store (each with its reason in pm.config.support).
IGNORED_KEYS = support.IGNORED_KEYS


def build_spec(
    raw: dict[str, Any],
    label: str,
    base_dir: str,
    env_name: str | None,
    overrides: dict[str, Any],
    warnings: list[str],
) -> AppSpec:
    """Normalise one user-written app object (plus CLI overrides) into an AppSpec.

    Every field is checked; the ConfigError raised lists all bad fields of the app at once.
    """
    built = collect_spec(raw, label, base_dir, env_name, overrides, warnings)
    if built.errors or built.spec is None:
        raise ConfigError("\n".join(built.errors))
    return built.spec


@dataclass
class Built:
    """An app read with every problem collected: spec is None only without a usable script;
    bad_fields are the canonical names whose values were refused (left at their defaults)."""

    spec: AppSpec | None
    errors: list[str]
    bad_fields: set[str]


def collect_spec(
    raw: dict[str, Any],
    label: str,
    base_dir: str,
    env_name: str | None,
    overrides: dict[str, Any],
    warnings: list[str],
) -> Built:
    """build_spec without raising: every error of the app (coercion, then the checks on the
    values that passed, cron patterns included), one line each, so none waits for a next run."""
    values: dict[str, Any] = {}
    profiles: dict[str, dict[str, str]] = {}
    errors: list[str] = []
    bad: set[str] = set()
    for key, value in list(raw.items()) + list(overrides.items()):
        try:
            _take(key, value, label, values, profiles, warnings)
        except ConfigError as exc:
            errors.append(exc.message)
            bad.add(canonical_key(key) if isinstance(key, str) else str(key))
    if not values.get("script"):
        if "script" not in bad:
            errors.append(_missing_script(raw, label))
        return Built(None, errors, bad | {"script"})
    if raw.get("execute_command") is True:  # PM2 turns it into fork mode, whatever else is set
        values["exec_mode"] = "fork_mode"
    if env_name:
        values["env"] = {**values.get("env", {}), **profiles.get(env_name, {})}
        if values.get("append_env_to_name"):
            values["name"] = f"{values.get('name') or default_name(values['script'])}-{env_name}"
    cwd = values.get("cwd") or base_dir
    values["cwd"] = os.path.normpath(os.path.join(base_dir, os.path.expanduser(cwd)))
    values.setdefault("name", default_name(values["script"]))
    if values.get("time") and not values.get("log_date_format"):
        values["log_date_format"] = "YYYY-MM-DDTHH:mm:ss"
    node = _runs_on_node(values)
    if "exec_mode" not in values and "instances" in values and node and not values.get("listen"):
        # PM2: a Node script given instances is clustered; one with `listen` (pm's, no PM2
        # attribute) keeps fork mode, its instances serving the socket handed over at fd 3
        values["exec_mode"] = "cluster_mode"
    if values.get("exec_mode") == "cluster_mode" and not node:  # support.WARNED's exec_mode
        warnings.append(CLUSTER_WARNING)
        values["exec_mode"] = "fork_mode"
    if values.get("shutdown_with_message") and not node:
        warnings.append(
            f"{label}: 'shutdown_with_message' needs a Node app (the 'shutdown' "
            "message goes over Node's IPC channel); this app gets the kill signal"
        )
    spec = AppSpec(**values)
    checked = validation_errors(spec, label)
    errors += checked
    bad |= {name for name in values if any(f"field '{name}'" in line for line in checked)}
    warnings += support.unsupported_warnings(values, _defaults(), label, spec.name)
    return Built(spec, errors, bad)


def _missing_script(raw: dict[str, Any], label: str) -> str:
    """'script' is required, naming a misspelt key the user may have meant for it (`scrpt`),
    else the unknown keys: their warnings would not be seen beside this error."""
    message = f"{label}: field 'script' is required (the file or command to run)"
    unknown = [key for key in raw if isinstance(key, str) and _is_unknown(key)]
    for key in unknown:
        hint = suggest_key(key)
        if hint is not None and canonical_key(hint) == "script":
            return f"{message}; unknown attribute '{key}' (did you mean '{hint}'?)"
    if unknown:
        return f"{message}; unknown attributes: {', '.join(repr(key) for key in unknown)}"
    return message


def _is_unknown(key: str) -> bool:
    return not (
        key.startswith("env_") or key in support.IGNORED_KEYS or canonical_key(key) in COERCE
    )


@functools.cache
def _defaults() -> dict[str, Any]:
    return AppSpec(script="-").to_dict()


CLUSTER_WARNING = (
    "exec_mode 'cluster' is Node-only (it shares a port between Node workers); "
    "pm runs other apps in fork mode, one process per instance: give the app "
    "'listen' to share a port between its instances"
)


def _runs_on_node(values: dict[str, Any]) -> bool:
    """Whether the app's script runs on Node (by its interpreter, else its extension)."""
    interpreter = values.get("interpreter")
    if interpreter:
        return is_node(interpreter)
    extension = os.path.splitext(str(values.get("script", "")).split()[0] or "")[1]
    return INTERPRETER_BY_EXTENSION.get(extension) == "node"


def _take(
    key: str,
    value: Any,
    label: str,
    values: dict[str, Any],
    profiles: dict[str, dict[str, str]],
    warnings: list[str],
) -> None:
    """Read one attribute into values (or an env profile into profiles); raise on a bad value."""
    if not isinstance(key, str):
        raise ConfigError(f"{label}: attribute names must be strings, got {key!r}")
    if key.startswith("env_"):
        profiles[key[4:]] = _env(value, f"{label}: field '{key}'")
        return
    if key in support.IGNORED_KEYS:
        warning = support.ignored_key_warning(key, value, label)
        if warning:
            warnings.append(warning)
        return
    canonical = canonical_key(key)
    if canonical not in COERCE:
        hint = suggest_key(key)
        warnings.append(
            f"{label}: unknown attribute '{key}' ignored"
            + (f" (did you mean '{hint}'?)" if hint else "")
        )
        return
    if value is None:
        return
    values[canonical] = COERCE[canonical](value, f"{label}: field '{key}'")
