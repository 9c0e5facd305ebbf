"""Where an app's output goes: its log file paths and the descriptors handed to the child.

The child's stdout and stderr are pipes the daemon reads and copies to the log files in big
chunks (logpipe.py), as PM2 and supervisord do: the app's writes cost a pipe write, not a
file append, and rotation is a rename. The pipes outlive a daemon crash (pipes.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pm.config import dateformat
from pm.config.spec import AppSpec
from pm.paths import Home

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
        err = _custom(spec.error_file, spec.cwd, suffix_id) or str(
            home.err_log(spec.name, suffix_id)
        )
    combined = None
    if spec.log_file is True or spec.log_file == "true":  # `-l` without a path on the CLI
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


def needs_pipe(spec: AppSpec, paths: LogPaths) -> bool:
    """Pipes (read by the daemon) unless the output goes nowhere."""
    if spec.disable_logs:
        return False
    return not (paths.out == paths.err == "/dev/null" and not paths.combined)


@dataclass
class Outputs:
    """What `_spawn` hands the child (stdout, stderr fds) and what the daemon keeps (readers).

    Pipe mode (the normal case): the fds are the pipes' read-write child ends, and `start()`
    (after the spawn) begins reading the read ends. Direct mode (logs disabled, or an app run
    with no daemon reader): both fds are O_APPEND files (or /dev/null) and `readers` is empty.
    """

    stdout: int
    stderr: int
    readers: list[Any] = field(default_factory=list)
    _child_closed: bool = False

    def close_child_ends(self) -> None:
        """The daemon's copies of the child's fds; call once the child holds its own."""
        if self._child_closed:
            return
        self._child_closed = True
        os.close(self.stdout)
        if self.stderr != self.stdout:
            os.close(self.stderr)

    def start(self) -> None:
        for reader in self.readers:
            reader.start()

    def close(self) -> None:
        """Give everything back (the spawn failed)."""
        self.close_child_ends()
        for reader in self.readers:
            reader.close()


def open_outputs(
    paths: LogPaths, spec: AppSpec | None = None, pm_id: int = 0, owner: str = ""
) -> Outputs:
    """The child's stdout/stderr: pipes the daemon reads, or the files themselves (no spec).

    owner (the app's unique_id) lets state.json name the pipes, so a daemon started after a
    crash reads them again (pm/daemon/persist/pipe_recovery.py).
    """
    if spec is not None and needs_pipe(spec, paths):
        return _open_pipes(paths, spec, pm_id, owner)
    out = open_append(paths.out)
    if paths.err == paths.out:
        return Outputs(out, out)
    try:
        return Outputs(out, open_append(paths.err))
    except OSError:
        os.close(out)
        raise


def pipe_targets(paths: LogPaths, spec: AppSpec, pm_id: int, kind: str) -> list[Any]:
    """Where the `kind` ("out"/"err") stream of a pipe-mode app goes, transformed."""
    # only the daemon in pipe mode needs these
    from pm.daemon.output import line_transforms as lines
    from pm.daemon.output.logtargets import Target

    fmt = spec.log_date_format or (dateformat.TIME_FORMAT if spec.time else None)
    if spec.log_type == "json":
        transform = lines.json_lines(kind, pm_id, spec.name, spec.log_date_format)
    elif fmt:
        transform = lines.date_prefix(fmt)
    else:
        transform = lines.identity
    targets = [Target(paths.out if kind == "out" else paths.err, transform)]
    if paths.combined:
        targets.append(Target(paths.combined, transform))
    return targets


def _open_pipes(paths: LogPaths, spec: AppSpec, pm_id: int, owner: str) -> Outputs:
    from pm.daemon.output import logpipe, pipes

    opened: list[int] = []
    readers: list[logpipe.StreamReader] = []
    # Out and err in one file: whole lines only, so the two streams never interleave in a line.
    whole_lines = True if paths.out == paths.err else None
    try:
        ends = {}
        for kind in pipes.KINDS:
            if getattr(paths, kind) == "/dev/null" and not paths.combined:
                ends[kind] = open_append("/dev/null")  # nothing to read
                opened.append(ends[kind])
                continue
            read_end, child_end = pipes.open_pair()
            opened += [read_end, child_end]
            readers.append(
                logpipe.StreamReader(
                    read_end,
                    pipe_targets(paths, spec, pm_id, kind),
                    owner=owner,
                    kind=kind,
                    whole_lines=whole_lines,
                )
            )
            ends[kind] = child_end
    except OSError:
        for reader in readers:
            reader.close()
        for fd in opened:
            if not any(reader.fd == fd for reader in readers):
                _close_quietly(fd)
        raise
    return Outputs(ends["out"], ends["err"], readers)


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
