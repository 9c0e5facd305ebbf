"""Read ecosystem files (JSON, YAML) and CLI flags into `AppSpec`s, with errors naming the
file, the app and the field. A file with any error starts nothing: all or nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pm.errors import ConfigError
from pm.spec import (
    AppSpec,
    canonical_key,
    default_name,
    parse_duration_ms,
    parse_size,
    resolve_instances,
    split_args,
    suggest_key,
)

CONFIG_MARKERS = (".json", ".yml", ".yaml", ".config.js", ".config.cjs", ".config.mjs")


def is_config_file(path: str) -> bool:
    """PM2's rule: a name that *contains* one of the config markers."""
    name = Path(path).name
    return any(marker in name for marker in CONFIG_MARKERS)


@dataclass
class Loaded:
    specs: list[AppSpec]
    warnings: list[str] = field(default_factory=list)


# ------------------------------------------------------------ reading files


def read_file(path: str) -> Any:
    """Parse a config file into Python data; syntax errors name file, line and column."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    name = Path(path).name
    if ".yml" in name or ".yaml" in name:
        return _read_yaml(path, text)
    if ".config." in name and name.rsplit(".", 1)[-1] in ("js", "cjs", "mjs"):
        raise ConfigError(f"{path}: JavaScript config files are not supported yet; use JSON or YAML")
    return _read_json(path, text)


def _read_json(path: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None


def _read_yaml(path: str, text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None


def apps_of(data: Any, path: str) -> list[dict[str, Any]]:
    """The app objects of a parsed file: `apps` (list or object), legacy `pm2`, or bare."""
    if isinstance(data, dict) and ("apps" in data or "pm2" in data):
        data = data.get("apps", data.get("pm2"))
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{path}: expected an 'apps' list of app objects")
    for index, app in enumerate(data):
        if not isinstance(app, dict):
            raise ConfigError(f"{path}: app #{index}: expected an object, got {type(app).__name__}")
    return data


def load_file(path: str, env_name: str | None = None, only: list[str] | None = None,
              overrides: dict[str, Any] | None = None) -> Loaded:
    """All apps of an ecosystem file as specs, or ConfigError for the first problem found."""
    path = os.path.abspath(path)
    raw_apps = apps_of(read_file(path), path)
    base_dir = str(Path(path).parent)
    loaded = Loaded([])
    for index, raw in enumerate(raw_apps):
        label = f"{path}: app #{index} ({raw.get('name', raw.get('script', '?'))})"
        spec = build_spec(raw, label, base_dir, env_name, overrides or {}, loaded.warnings)
        loaded.specs.append(spec)
    if only:
        wanted = set(only)
        loaded.specs = [spec for spec in loaded.specs if spec.name in wanted]
        if not loaded.specs:
            raise ConfigError(f"{path}: no app named {', '.join(only)}")
    return loaded


# ------------------------------------------------------------ normalising one app

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
        return json.dumps(value)
    return "" if value is None else str(value)


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
    "script": _str, "name": _str, "namespace": _str, "cwd": _str, "version": _str,
    "args": _str_list, "interpreter_args": _str_list, "ignore_watch": _str_list,
    "depends_on": _str_list,
    "interpreter": _str,
    "instances": resolve_instances,
    "exec_mode": _exec_mode,
    "env": _env,
    "autorestart": _bool, "autostart": _bool, "wait_ready": _bool, "treekill": _bool,
    "shutdown_with_message": _bool, "time": _bool, "disable_logs": _bool,
    "append_env_to_name": _bool, "merge_logs": _bool, "restart_group": _bool,
    "max_restarts": _int, "port": _int, "priority": _int,
    "min_uptime": parse_duration_ms, "restart_delay": parse_duration_ms,
    "exp_backoff_restart_delay": parse_duration_ms, "kill_timeout": parse_duration_ms,
    "listen_timeout": parse_duration_ms,
    "watch_delay": parse_duration_ms,
    "stop_exit_codes": _codes,
    "cron_restart": _cron,
    "max_memory_restart": parse_size,
    "watch": _watch,
    "log_date_format": _str, "log_type": _str,
    "out_file": _str, "error_file": _str, "pid_file": _str,
    "log_file": _bool_or_str,
    "instance_var": _str, "increment_var": _str,
    "filter_env": _filter_env,
    "uid": _optional_id, "gid": _optional_id,
    "hooks": _hooks,
}

#: Keys PM2 accepts that have no effect here (Node or PM2 Plus specific); accepted silently.
IGNORED_KEYS = frozenset({
    "vizion", "force", "windows_hide", "windowsHide", "source_map_support", "pmx", "automation",
    "trace", "io", "kill_retry_time", "execute_command", "node_version", "watch_options",
    "post_update", "exec_mode_override", "deep_monitoring", "disable_trace",
})


def build_spec(raw: dict[str, Any], label: str, base_dir: str, env_name: str | None,
               overrides: dict[str, Any], warnings: list[str]) -> AppSpec:
    """Normalise one user-written app object (plus CLI overrides) into an AppSpec."""
    values: dict[str, Any] = {}
    profiles: dict[str, Any] = {}
    for key, value in list(raw.items()) + list(overrides.items()):
        if key.startswith("env_"):
            profiles[key[4:]] = value
            continue
        if key in IGNORED_KEYS:
            continue
        canonical = canonical_key(key)
        if canonical not in COERCE:
            hint = suggest_key(key)
            warnings.append(f"{label}: unknown attribute '{key}' ignored"
                            + (f" (did you mean '{hint}'?)" if hint else ""))
            continue
        if value is None:
            continue
        values[canonical] = COERCE[canonical](value, f"{label}: field '{key}'")
    if not values.get("script"):
        raise ConfigError(f"{label}: field 'script' is required")
    if env_name:
        if env_name in profiles:
            profile = _env(profiles[env_name], f"{label}: field 'env_{env_name}'")
            values["env"] = {**values.get("env", {}), **profile}
        if values.get("append_env_to_name"):
            values["name"] = f"{values.get('name') or default_name(values['script'])}-{env_name}"
    cwd = values.get("cwd") or base_dir
    values["cwd"] = os.path.normpath(os.path.join(base_dir, os.path.expanduser(cwd)))
    values.setdefault("name", default_name(values["script"]))
    if values.get("time") and not values.get("log_date_format"):
        values["log_date_format"] = "YYYY-MM-DDTHH:mm:ss"
    if values.get("exec_mode") == "cluster_mode":
        warnings.append(f"{label}: exec_mode 'cluster' is Node-only; running in fork mode")
        values["exec_mode"] = "fork_mode"
    return AppSpec.from_dict(values, where=label)


# ------------------------------------------------------------ `pm start <targets>`


@dataclass
class StartPlan:
    """What `pm start` should do: new apps to create and known apps to restart."""

    specs: list[AppSpec] = field(default_factory=list)
    restart_targets: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def plan_start(targets: list[str], overrides: dict[str, Any], script_args: list[str],
               env_name: str | None, only: list[str] | None,
               is_known: Callable[[str], bool]) -> StartPlan:
    """PM2's reading of start targets: config file, known app (restart), or script/command."""
    plan = StartPlan()
    cwd = os.getcwd()
    for target in targets:
        if is_config_file(target) and os.path.isfile(target):
            loaded = load_file(target, env_name, only, overrides)
            plan.specs += loaded.specs
            plan.warnings += loaded.warnings
        elif _looks_like_app_ref(target, cwd) and is_known(target):
            plan.restart_targets.append(target)
        else:
            raw = {"script": target, **overrides}
            if script_args:
                raw["args"] = script_args
            plan.specs.append(build_spec(raw, f"pm start {target}", cwd, env_name, {},
                                         plan.warnings))
    if len(plan.specs) > 1 and "name" in overrides:
        raise ConfigError("--name applies to one app; start the apps one by one to name them")
    return plan


def _looks_like_app_ref(target: str, cwd: str) -> bool:
    """PM2: no slash, no extension, and not a file here; then it may name a known app."""
    return "/" not in target and "." not in target and not os.path.exists(os.path.join(cwd, target))
