"""Read ecosystem files (JSON, YAML) and CLI flags into `AppSpec`s, with errors naming the
file, the app and the field. A file with any error starts nothing: all or nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pm.config.attributes import build_spec, collect_spec
from pm.config.command import resolve_command
from pm.config.readers import STDIN, apps_of, read_file
from pm.config.spec import AppSpec
from pm.errors import ConfigError

CONFIG_MARKERS = (".json", ".yml", ".yaml", ".config.js", ".config.cjs", ".config.mjs")


def is_config_file(path: str) -> bool:
    """PM2's rule: a name that *contains* one of the config markers."""
    name = Path(path).name
    return any(marker in name for marker in CONFIG_MARKERS)


def is_ecosystem_source(target: str) -> bool:
    """A target whose apps come from an ecosystem: an existing config file, or `-` (stdin)."""
    return target == STDIN or (is_config_file(target) and os.path.isfile(target))


@dataclass
class Loaded:
    specs: list[AppSpec]
    warnings: list[str] = field(default_factory=list)
    #: The apps as written, one per spec in the same order (`pm export` reads more of them).
    raw: list[dict[str, Any]] = field(default_factory=list)


def app_label(path: str, index: int, raw: dict[str, Any]) -> str:
    """How errors name an app: file, index and name (or script when it has no name)."""
    name = raw.get("name") or raw.get("script") or raw.get("exec") or "?"
    return f"{path}: app #{index} ({name})"


def load_file(
    path: str,
    env_name: str | None = None,
    only: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
    check_scripts: bool = True,
) -> Loaded:
    """All apps of an ecosystem file as specs; ConfigError listing every problem found.

    Every app is validated (and, with check_scripts, its script and interpreter resolved)
    before anything is returned, so a caller never starts part of a broken file.
    """
    loaded = Loaded([])
    if path == STDIN:  # relative paths in piped JSON are read from where the user stands
        base_dir, path = os.getcwd(), "<stdin>"
        data = read_file(STDIN)
    else:
        path = os.path.abspath(path)
        data = read_file(path)
        base_dir = str(Path(path).parent)
    raw_apps = apps_of(data, path, loaded.warnings)
    deploy_env = _deploy_env(data, env_name)
    if deploy_env:  # PM2: the deploy target's env is the lowest layer, under env and env_<name>
        raw_apps = [
            {**raw, "env": {**deploy_env, **(raw.get("env") or {})}}
            if isinstance(raw.get("env") or {}, dict)
            else raw
            for raw in raw_apps
        ]
    errors: list[str] = []
    for index, raw in enumerate(raw_apps):
        label = app_label(path, index, raw)
        built = collect_spec(raw, label, base_dir, env_name, overrides or {}, loaded.warnings)
        errors += built.errors
        if built.spec is not None and check_scripts and not built.bad_fields & _COMMAND_FIELDS:
            try:  # the command of an app with other bad fields is checked too: one round
                check_runnable(built.spec, label)
            except ConfigError as exc:
                errors.append(exc.message)
                continue
        if built.spec is not None and not built.errors:
            loaded.specs.append(built.spec)
            loaded.raw.append(raw)
    errors = [line for error in errors for line in error.splitlines()]
    if errors:
        count = f"{len(errors)} error{'s' if len(errors) > 1 else ''}"
        raise ConfigError(f"{path}: {count}, nothing started:\n" + "\n".join(errors))
    for name in _duplicate_names(loaded.specs):
        loaded.warnings.append(
            f"{path}: several apps are named '{name}'; actions by name will reach all of them"
        )
    if env_name and not deploy_env and not any(f"env_{env_name}" in raw for raw in raw_apps):
        loaded.warnings.append(
            f"{path}: no app has 'env_{env_name}'; --env {env_name} changes no environment"
        )
    loaded.warnings = list(dict.fromkeys(loaded.warnings))
    if only:
        wanted = set(only)
        kept = [
            (spec, raw)
            for spec, raw in zip(loaded.specs, loaded.raw, strict=True)
            if spec.name in wanted
        ]
        loaded.specs, loaded.raw = [spec for spec, _ in kept], [raw for _, raw in kept]
        if not loaded.specs:
            raise ConfigError(f"{path}: no app named {', '.join(only)}")
    return loaded


#: Fields the command is resolved from: when one was refused, check_runnable would only guess.
_COMMAND_FIELDS = frozenset({"script", "interpreter", "interpreter_args", "cwd", "env"})


def _deploy_env(data: Any, env_name: str | None) -> dict[str, Any]:
    """`deploy.<env_name>.env` of the file, which PM2 applies with `--env <env_name>`."""
    if not env_name or not isinstance(data, dict) or not isinstance(data.get("deploy"), dict):
        return {}
    target = data["deploy"].get(env_name)
    env = target.get("env") if isinstance(target, dict) else None
    return env if isinstance(env, dict) else {}


def _duplicate_names(specs: list[AppSpec]) -> list[str]:
    names = [spec.name for spec in specs]
    return sorted({name for name in names if names.count(name) > 1})


def check_runnable(spec: AppSpec, label: str) -> None:
    """Resolve script, interpreter and cwd now, so a missing one fails before anything starts."""
    if not os.path.isdir(spec.cwd):
        raise ConfigError(f"{label}: field 'cwd': {spec.cwd} is not a directory")
    path_env = spec.env.get("PATH") or os.environ.get("PATH")
    try:
        resolve_command(spec, path_env)
    except ConfigError as exc:
        raise ConfigError(f"{label}: {exc.message}") from None


# ------------------------------------------------------------ `pm start <targets>`


@dataclass
class StartPlan:
    """What `pm start` should do: new apps to create and known apps to restart."""

    specs: list[AppSpec] = field(default_factory=list)
    restart_targets: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Apps of ecosystem files: started, or restarted with the file's settings when known.
    file_specs: list[AppSpec] = field(default_factory=list)


def plan_start(
    targets: list[str],
    overrides: dict[str, Any],
    script_args: list[str],
    env_name: str | None,
    only: list[str] | None,
    is_known: Callable[[str], bool],
) -> StartPlan:
    """PM2's reading of start targets: config file, known app (restart), or script/command."""
    plan = StartPlan()
    cwd = os.getcwd()
    errors: list[str] = []
    for target in targets:
        if is_config_file(target) and not os.path.exists(target):
            raise ConfigError(f"File {target} not found (run `pm init` to write a sample)")
        if is_ecosystem_source(target):
            try:
                loaded = load_file(target, env_name, only, overrides)
            except ConfigError as exc:
                errors.append(exc.message)
                continue
            plan.file_specs += loaded.specs
            plan.warnings += loaded.warnings
        elif _looks_like_app_ref(target, cwd) and is_known(target):
            plan.restart_targets.append(target)
        else:
            raw = {"script": target, **overrides}
            if script_args:
                raw["args"] = script_args
            label = f"pm start {target}"
            try:  # resolved here too, so a missing script is an error before "Starting ..."
                spec = build_spec(raw, label, cwd, env_name, {}, plan.warnings)
                check_runnable(spec, label)
                plan.specs.append(spec)
            except ConfigError as exc:  # every target's problems in one report
                errors.append(exc.message)
    if errors:
        raise ConfigError("\n".join(errors))
    if len(plan.specs) + len(plan.file_specs) > 1 and "name" in overrides:
        raise ConfigError("--name applies to one app; start the apps one by one to name them")
    return plan


def _looks_like_app_ref(target: str, cwd: str) -> bool:
    """PM2: no slash, no extension, and not a file here; then it may name a known app."""
    return "/" not in target and "." not in target and not os.path.exists(os.path.join(cwd, target))
