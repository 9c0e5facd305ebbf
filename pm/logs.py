"""Where an app's output goes: its log file paths and the descriptors handed to the child.

By default the daemon stays out of the data path: the child's stdout/stderr are opened directly
on its log files with O_APPEND, so throughput is the disk's and output survives a daemon crash.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pm.paths import Home
from pm.spec import AppSpec

NULL_PATHS = frozenset({"/dev/null", "NULL", "null"})


@dataclass(frozen=True)
class LogPaths:
    out: str
    err: str
    combined: str | None
    pid: str


def per_id_files(spec: AppSpec) -> bool:
    """PM2: one merged file for a single fork instance, `<name>-out-<id>.log` otherwise."""
    if spec.merge_logs is not None:
        return not spec.merge_logs
    return spec.instances > 1


def resolve_paths(home: Home, spec: AppSpec, pm_id: int) -> LogPaths:
    suffix_id = pm_id if per_id_files(spec) else None
    if spec.disable_logs:
        out = err = "/dev/null"
    else:
        out = _custom(spec.out_file, spec.cwd, suffix_id) or str(home.out_log(spec.name, suffix_id))
        err = _custom(spec.error_file, spec.cwd, suffix_id) or str(home.err_log(spec.name, suffix_id))
    combined = None
    if spec.log_file is True:
        combined = str(home.combined_log(spec.name))
    elif isinstance(spec.log_file, str) and spec.log_file:
        combined = _custom(spec.log_file, spec.cwd, suffix_id)
    pid = _custom(spec.pid_file, spec.cwd, pm_id) or str(home.pid_path(spec.name, pm_id))
    return LogPaths(out, err, combined, pid)


def _custom(path: str | None, cwd: str, pm_id: int | None) -> str | None:
    if not path:
        return None
    if path in NULL_PATHS:
        return "/dev/null"
    resolved = Path(path).expanduser()
    if not resolved.is_absolute():
        resolved = Path(cwd) / resolved
    if pm_id is not None:
        resolved = resolved.with_name(f"{resolved.stem}-{pm_id}{resolved.suffix}")
    return str(resolved)


def open_append(path: str) -> int:
    """An O_APPEND descriptor on path, creating its folder as needed."""
    if path != "/dev/null":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)


def open_outputs(paths: LogPaths) -> tuple[int, int]:
    """Descriptors for the child's stdout and stderr (the same one when both name one file)."""
    out = open_append(paths.out)
    if paths.err == paths.out:
        return out, out
    try:
        return out, open_append(paths.err)
    except OSError:
        os.close(out)
        raise
