"""Read ecosystem files (JSON, YAML) and CLI flags into `AppSpec`s, with errors naming the
file, the app and the field. A file with any error starts nothing: all or nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pm.errors import ConfigError
from pm.config.settings import app_logrotate
from pm.config.spec import (
    AppSpec,
    canonical_key,
    default_name,
    parse_duration_ms,
    parse_size,
    resolve_command,
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

#: Top-level keys PM2 reads besides the apps; pm reports them instead of dropping them silently.
UNSUPPORTED_SECTIONS = {
    "deploy": "'deploy' (pm2 deploy) is not supported by pm; the section was read and ignored",
    "static": "'static' (static file servers) is not supported by pm; the section was read and ignored",
}

#: Evaluates a JS config the way PM2 loads it (require, then import() for ES modules) and
#: prints the exported object as JSON. The config path is argv[1].
_NODE_LOADER = r"""
const path = require('path'), url = require('url');
const file = path.resolve(process.argv[1]);
(async () => {
  let mod;
  try { mod = require(file); }
  catch (e) {
    if (e.code !== 'ERR_REQUIRE_ESM' && !/\.mjs$/.test(file)) throw e;
    mod = await import(url.pathToFileURL(file).href);
  }
  if (mod && mod.__esModule !== undefined && mod.default !== undefined) mod = mod.default;
  else if (mod && Object.keys(mod).length === 1 && mod.default !== undefined) mod = mod.default;
  process.stdout.write(JSON.stringify(mod === undefined ? null : mod));
})().catch((e) => { process.stderr.write(String(e && e.stack || e) + "\n"); process.exit(1); });
"""

NODE_TIMEOUT = 30.0


def is_js_config(path: str) -> bool:
    name = Path(path).name
    return any(marker in name for marker in (".config.js", ".config.cjs", ".config.mjs"))


def read_file(path: str) -> Any:
    """Parse a config file into Python data; syntax errors name file, line and column."""
    name = Path(path).name
    if is_js_config(path) and ".json" not in name:
        return _read_js(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    if ".yml" in name or ".yaml" in name:
        return _read_yaml(path, text)
    return _read_json(path, text)


_JSON5_ERROR = re.compile(r"^<string>:(\d+) (.*) at column (\d+)$")


def _read_json(path: str, text: str) -> Any:
    """Strict JSON first (fast); then JSON5 as PM2 reads `.json` (comments, trailing commas)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    import json5

    try:
        return json5.loads(text)
    except ValueError as exc:
        match = _JSON5_ERROR.match(str(exc))
        if match:
            line, problem, column = match.groups()
            char = re.fullmatch(r'Unexpected "(.*)"', problem, re.DOTALL)
            problem = f"unexpected character {char.group(1)!r}" if char else problem
            raise ConfigError(f"{path}:{line}:{column}: invalid JSON: {problem}") from None
        raise ConfigError(f"{path}: invalid JSON: {exc}") from None


def _read_yaml(path: str, text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None


def _read_js(path: str) -> Any:
    """Evaluate a JS config with node, as PM2 does; a clear error when node is missing."""
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: cannot read: No such file or directory")
    node = shutil.which("node")
    if node is None:
        raise ConfigError(
            f"{path}: JavaScript config files need 'node' on PATH to be evaluated, and it was not "
            "found; install Node.js or write the same apps as ecosystem.json or ecosystem.yaml")
    try:
        result = subprocess.run(
            [node, "-e", _NODE_LOADER, path], cwd=str(Path(path).parent),
            capture_output=True, text=True, timeout=NODE_TIMEOUT, stdin=subprocess.DEVNULL,
            check=False)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{path}: node did not finish evaluating the file "
                          f"within {NODE_TIMEOUT:.0f}s") from None
    if result.returncode != 0:
        raise ConfigError(f"{path}: node could not evaluate the file:\n{_node_error(result.stderr)}")
    try:
        return json.loads(result.stdout or "null")
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: node printed no usable JSON ({exc.msg})") from None


def _node_error(stderr: str) -> str:
    """The useful head of node's error output (location line, caret, message)."""
    lines = [line for line in stderr.strip().splitlines() if not line.startswith("    at ")]
    return "\n".join("  " + line for line in lines[:8])


def apps_of(data: Any, path: str, warnings: list[str] | None = None) -> list[dict[str, Any]]:
    """The app objects of a parsed file: `apps` (list or object), legacy `pm2`, or bare."""
    if isinstance(data, dict):
        for key, message in UNSUPPORTED_SECTIONS.items():
            if key in data and warnings is not None:
                warnings.append(f"{path}: {message}")
        if "apps" in data or "pm2" in data:
            data = data["apps"] if "apps" in data else data["pm2"]
        elif "script" not in data and any(key in data for key in UNSUPPORTED_SECTIONS):
            raise ConfigError(f"{path}: no 'apps' to start (only {', '.join(sorted(data))})")
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{path}: expected an 'apps' list of app objects, got {_kind(data)}")
    for index, app in enumerate(data):
        if not isinstance(app, dict):
            raise ConfigError(f"{path}: app #{index}: expected an object, got {_kind(app)} {app!r}")
    return data


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             type(None): "nothing", int: "a number", float: "a number"}
    if isinstance(value, list) and not value:
        return "an empty list"
    return names.get(type(value), type(value).__name__)


def app_label(path: str, index: int, raw: dict[str, Any]) -> str:
    """How errors name an app: file, index and name (or script when it has no name)."""
    name = raw.get("name") or raw.get("script") or raw.get("exec") or "?"
    return f"{path}: app #{index} ({name})"


def load_file(path: str, env_name: str | None = None, only: list[str] | None = None,
              overrides: dict[str, Any] | None = None, check_scripts: bool = True) -> Loaded:
    """All apps of an ecosystem file as specs; ConfigError listing every problem found.

    Every app is validated (and, with check_scripts, its script and interpreter resolved)
    before anything is returned, so a caller never starts part of a broken file.
    """
    path = os.path.abspath(path)
    loaded = Loaded([])
    raw_apps = apps_of(read_file(path), path, loaded.warnings)
    base_dir = str(Path(path).parent)
    errors: list[str] = []
    for index, raw in enumerate(raw_apps):
        label = app_label(path, index, raw)
        try:
            spec = build_spec(raw, label, base_dir, env_name, overrides or {}, loaded.warnings)
            if check_scripts:
                check_runnable(spec, label)
        except ConfigError as exc:
            errors.append(exc.message)
            continue
        loaded.specs.append(spec)
    errors = [line for error in errors for line in error.splitlines()]
    if errors:
        count = f"{len(errors)} error{'s' if len(errors) > 1 else ''}"
        raise ConfigError(f"{path}: {count}, nothing started:\n" + "\n".join(errors))
    for name in _duplicate_names(loaded.specs):
        loaded.warnings.append(f"{path}: several apps are named '{name}'; actions by name "
                               "will reach all of them")
    if env_name and not any(f"env_{env_name}" in raw for raw in raw_apps):
        loaded.warnings.append(f"{path}: no app has 'env_{env_name}'; --env {env_name} "
                               "changes no environment")
    loaded.warnings = list(dict.fromkeys(loaded.warnings))
    if only:
        wanted = set(only)
        loaded.specs = [spec for spec in loaded.specs if spec.name in wanted]
        if not loaded.specs:
            raise ConfigError(f"{path}: no app named {', '.join(only)}")
    return loaded


def _duplicate_names(specs: list[AppSpec]) -> list[str]:
    seen: set[str] = set()
    return sorted({spec.name for spec in specs if spec.name in seen or seen.add(spec.name)})


def check_runnable(spec: AppSpec, label: str) -> None:
    """Resolve script, interpreter and cwd now, so a missing one fails before anything starts."""
    if not os.path.isdir(spec.cwd):
        raise ConfigError(f"{label}: field 'cwd': {spec.cwd} is not a directory")
    path_env = spec.env.get("PATH") or os.environ.get("PATH")
    try:
        resolve_command(spec, path_env)
    except ConfigError as exc:
        raise ConfigError(f"{label}: {exc.message}") from None


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
    "watch_options": _object, "kill_retry_time": parse_duration_ms,
    "vizion": _bool, "force": _bool,
    "logrotate": app_logrotate,
}

#: Keys PM2 accepts that have no effect here (Node or PM2 Plus specific); accepted silently.
IGNORED_KEYS = frozenset({
    "windows_hide", "windowsHide", "source_map_support", "sourceMapSupport", "pmx", "automation",
    "trace", "io", "execute_command", "node_version", "post_update", "exec_mode_override",
    "deep_monitoring", "disable_trace", "instance_id", "km_link", "vizion_running",
    "disable_source_map_support", "min_uptime_ms", "ref", "repo", "force_exec",
})


def build_spec(raw: dict[str, Any], label: str, base_dir: str, env_name: str | None,
               overrides: dict[str, Any], warnings: list[str]) -> AppSpec:
    """Normalise one user-written app object (plus CLI overrides) into an AppSpec.

    Every field is checked; the ConfigError raised lists all bad fields of the app at once.
    """
    values: dict[str, Any] = {}
    profiles: dict[str, dict[str, str]] = {}
    errors: list[str] = []
    for key, value in list(raw.items()) + list(overrides.items()):
        try:
            _take(key, value, label, values, profiles, warnings)
        except ConfigError as exc:
            errors.append(exc.message)
    if not values.get("script") and not any("'script'" in error for error in errors):
        errors.append(f"{label}: field 'script' is required (the file or command to run)")
    if errors:
        raise ConfigError("\n".join(errors))
    if env_name:
        values["env"] = {**values.get("env", {}), **profiles.get(env_name, {})}
        if values.get("append_env_to_name"):
            values["name"] = f"{values.get('name') or default_name(values['script'])}-{env_name}"
    cwd = values.get("cwd") or base_dir
    values["cwd"] = os.path.normpath(os.path.join(base_dir, os.path.expanduser(cwd)))
    values.setdefault("name", default_name(values["script"]))
    if values.get("time") and not values.get("log_date_format"):
        values["log_date_format"] = "YYYY-MM-DDTHH:mm:ss"
    if values.get("exec_mode") == "cluster_mode":
        warnings.append(CLUSTER_WARNING)
        values["exec_mode"] = "fork_mode"
    return AppSpec.from_dict(values, where=label)


CLUSTER_WARNING = ("exec_mode 'cluster' is Node-only (it shares a port between Node workers); "
                   "pm runs these apps in fork mode, one process per instance")


def _take(key: str, value: Any, label: str, values: dict[str, Any],
          profiles: dict[str, dict[str, str]], warnings: list[str]) -> None:
    """Read one attribute into values (or an env profile into profiles); raise on a bad value."""
    if not isinstance(key, str):
        raise ConfigError(f"{label}: attribute names must be strings, got {key!r}")
    if key.startswith("env_"):
        profiles[key[4:]] = _env(value, f"{label}: field '{key}'")
        return
    if key in IGNORED_KEYS:
        return
    canonical = canonical_key(key)
    if canonical not in COERCE:
        hint = suggest_key(key)
        warnings.append(f"{label}: unknown attribute '{key}' ignored"
                        + (f" (did you mean '{hint}'?)" if hint else ""))
        return
    if value is None:
        return
    values[canonical] = COERCE[canonical](value, f"{label}: field '{key}'")


# ------------------------------------------------------------ `pm start <targets>`


@dataclass
class StartPlan:
    """What `pm start` should do: new apps to create and known apps to restart."""

    specs: list[AppSpec] = field(default_factory=list)
    restart_targets: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Apps of ecosystem files: started, or restarted with the file's settings when known.
    file_specs: list[AppSpec] = field(default_factory=list)


def plan_start(targets: list[str], overrides: dict[str, Any], script_args: list[str],
               env_name: str | None, only: list[str] | None,
               is_known: Callable[[str], bool]) -> StartPlan:
    """PM2's reading of start targets: config file, known app (restart), or script/command."""
    plan = StartPlan()
    cwd = os.getcwd()
    for target in targets:
        if is_config_file(target) and not os.path.exists(target):
            raise ConfigError(f"File {target} not found (run `pm init` to write a sample)")
        if is_config_file(target) and os.path.isfile(target):
            loaded = load_file(target, env_name, only, overrides)
            plan.file_specs += loaded.specs
            plan.warnings += loaded.warnings
        elif _looks_like_app_ref(target, cwd) and is_known(target):
            plan.restart_targets.append(target)
        else:
            raw = {"script": target, **overrides}
            if script_args:
                raw["args"] = script_args
            plan.specs.append(build_spec(raw, f"pm start {target}", cwd, env_name, {},
                                         plan.warnings))
    if len(plan.specs) + len(plan.file_specs) > 1 and "name" in overrides:
        raise ConfigError("--name applies to one app; start the apps one by one to name them")
    return plan


def _looks_like_app_ref(target: str, cwd: str) -> bool:
    """PM2: no slash, no extension, and not a file here; then it may name a known app."""
    return "/" not in target and "." not in target and not os.path.exists(os.path.join(cwd, target))
