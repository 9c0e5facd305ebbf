"""How an app's `script` becomes the command line pm execs: a file run by the interpreter PM2
picks from its extension (or its shebang), a program on PATH, or a shell command line.

Kept apart from AppSpec (the attributes) because the client checks a script exists before it
sends a spec and the daemon resolves it again at each start, from the spec alone.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pm.errors import ConfigError

#: Interpreter by file extension, as PM2 chooses it (PM2.md 2.4).
INTERPRETER_BY_EXTENSION = {
    ".sh": "bash",
    ".bash": "bash",
    ".py": "python",
    ".rb": "ruby",
    ".php": "php",
    ".pl": "perl",
    ".js": "node",
    ".cjs": "node",
    ".mjs": "node",
    ".coffee": "coffee",
    ".ls": "lsc",
    ".ts": "bun",
    ".tsx": "bun",
}


@dataclass(frozen=True)
class Command:
    """What to exec for an app, with the facts `jlist` reports about it."""

    argv: list[str]
    exec_path: str
    interpreter: str  # "none" when the file is executed directly


def default_name(script: str) -> str:
    """PM2: the script's basename without its last extension; a command's first word."""
    if " " in script.strip() and not Path(script).exists():
        return Path(shlex.split(script)[0]).name if script.strip() else script
    base = Path(script).name
    stem = Path(base).stem
    return stem or base


def which(name: str, path: str | None = None) -> str | None:
    """shutil.which for Linux: the first executable file called name on path (or PATH).

    Written here because importing shutil costs the daemon ~0.6 MB (it pulls in bz2 and lzma),
    a twentieth of its memory target, for this one function."""
    if "/" in name:
        return name if _is_executable(name) else None
    folders = (os.environ.get("PATH", os.defpath) if path is None else path).split(os.pathsep)
    for folder in folders:
        candidate = os.path.join(folder or ".", name)
        if _is_executable(candidate):
            return candidate
    return None


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def resolve_script_path(script: str, cwd: str, path_env: str | None) -> str | None:
    """Absolute path of the script (relative to cwd, then on PATH), or None for a command line."""
    candidate = Path(script).expanduser()
    if not candidate.is_absolute():
        candidate = Path(cwd) / candidate
    if candidate.is_file():
        return str(candidate.resolve())
    if "/" not in script and " " not in script.strip():
        found = which(script, path=path_env)
        if found:
            return found
    return None


def _has_shebang(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(2) == b"#!"
    except OSError:
        return False


def _is_binary(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(1024)
    except OSError:
        return False
    return head.startswith(b"\x7fELF") or b"\0" in head


def infer_interpreter(exec_path: str, path_env: str | None) -> str:
    """PM2's extension table; binaries and (unlike PM2) shebang scripts run directly."""
    extension = Path(exec_path).suffix.lower()
    interpreter = INTERPRETER_BY_EXTENSION.get(extension)
    if interpreter == "python" and which("python", path=path_env) is None:
        return "python3"
    if interpreter:
        return interpreter
    if _is_binary(exec_path) or _has_shebang(exec_path):
        return "none"
    return "node"


def resolve_command(spec: Any, path_env: str | None) -> Command:
    """Turn script + interpreter into an argv, or raise a clear error."""
    exec_path = resolve_script_path(spec.script, spec.cwd, path_env)
    if exec_path is None:
        if " " in spec.script.strip():
            shell = which("bash", path=path_env) or which("sh", path=path_env) or "/bin/sh"
            return Command([shell, "-c", spec.script, *spec.args], spec.script, "none")
        raise ConfigError(
            f"script not found: {spec.script!r} (looked in {spec.cwd} and on PATH); "
            "check the path or the app's cwd"
        )
    interpreter = spec.interpreter or infer_interpreter(exec_path, path_env)
    if interpreter == "none":
        if not os.access(exec_path, os.X_OK):
            raise ConfigError(f"{exec_path} is not executable; chmod +x it or set an interpreter")
        return Command([exec_path, *spec.args], exec_path, "none")
    interpreter_path = which(interpreter, path=path_env)
    if interpreter_path is None:
        raise ConfigError(
            f"interpreter {interpreter!r} is not available in PATH; install it or pass "
            "--interpreter with a full path"
        )
    argv = [interpreter_path, *spec.interpreter_args, exec_path, *spec.args]
    return Command(argv, exec_path, interpreter)


def is_python(interpreter: str) -> bool:
    return "python" in Path(interpreter).name


def is_node(interpreter: str) -> bool:
    """Node runs the script (PM2 gives such apps an IPC channel: process.send works)."""
    return Path(interpreter).name in ("node", "nodejs") or Path(interpreter).name.startswith(
        "node-"
    )
