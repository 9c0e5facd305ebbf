"""Every path under PM_HOME, in one table, created with private permissions.

``PM_HOME`` (default ``~/.pm``) mirrors PM2's ``~/.pm2``: the daemon's socket, pid file and log,
the saved process list, the live state used for crash recovery, and the app logs and pid files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pm.errors import ConfigError

#: sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH = 107

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9.\-]")


def default_home() -> Path:
    env = os.environ.get("PM_HOME")
    if env:
        return Path(env).expanduser().absolute()
    return Path.home() / ".pm"


def sanitize_name(name: str) -> str:
    """PM2's file-name rule: every character outside ``[A-Za-z0-9.-]`` becomes ``-``."""
    return _UNSAFE_NAME_CHARS.sub("-", name)


class Home:
    """One PM_HOME. A plain class rather than a dataclass: importing dataclasses (and inspect
    with it) would cost every `pm jlist` several milliseconds."""

    __slots__ = ("root",)

    def __init__(self, root: Path) -> None:
        object.__setattr__(self, "root", root)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Home is immutable; cannot set {name}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Home) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    def __repr__(self) -> str:
        return f"Home(root={self.root!r})"

    @classmethod
    def from_env(cls) -> Home:
        return cls(default_home())

    def _path(self, name: str, override: str) -> Path:
        """A file's place in the home, or where the environment says instead: PM2's path
        overrides (PM2_PID_FILE_PATH, PM2_DEFAULT_LOG_PATH...), spelt PM_ for pm."""
        value = os.environ.get(override)
        return Path(value).expanduser().absolute() if value else self.root / name

    @property
    def socket(self) -> Path:
        return self._path("rpc.sock", "PM_DAEMON_RPC_PORT")

    @property
    def pid_file(self) -> Path:
        return self._path("pm.pid", "PM_PID_FILE_PATH")

    @property
    def lock_file(self) -> Path:
        return self.root / "pm.lock"

    @property
    def daemon_log(self) -> Path:
        return self._path("pm.log", "PM_LOG_FILE_PATH")

    @property
    def dump(self) -> Path:
        return self._path("dump", "PM_DUMP_FILE_PATH")

    @property
    def dump_backup(self) -> Path:
        return self._path("dump.bak", "PM_DUMP_BACKUP_FILE_PATH")

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def config(self) -> Path:
        """Settings written by `pm set` (PM2's module_conf.json)."""
        return self._path("module_conf.json", "PM_MODULE_CONF_FILE")

    @property
    def logs_dir(self) -> Path:
        return self._path("logs", "PM_DEFAULT_LOG_PATH")

    @property
    def pids_dir(self) -> Path:
        return self._path("pids", "PM_DEFAULT_PID_PATH")

    def out_log(self, name: str, pm_id: int | None = None) -> Path:
        return self.logs_dir / _with_id(f"{sanitize_name(name)}-out", pm_id, ".log")

    def err_log(self, name: str, pm_id: int | None = None) -> Path:
        return self.logs_dir / _with_id(f"{sanitize_name(name)}-error", pm_id, ".log")

    def combined_log(self, name: str) -> Path:
        return self.logs_dir / f"{sanitize_name(name)}.log"

    def pid_path(self, name: str, pm_id: int) -> Path:
        return self.pids_dir / f"{sanitize_name(name)}-{pm_id}.pid"

    def check_socket_length(self) -> None:
        if len(os.fsencode(self.socket)) > MAX_SOCKET_PATH:
            raise ConfigError(
                f"PM_HOME {self.root} is too long for a Unix socket path "
                f"({len(os.fsencode(self.socket))} > {MAX_SOCKET_PATH} bytes); "
                "choose a shorter PM_HOME"
            )

    def ensure(self) -> None:
        """Create the home and its folders, private to the user (0700)."""
        self.check_socket_length()
        for folder in (self.root, self.logs_dir, self.pids_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)


def _with_id(stem: str, pm_id: int | None, suffix: str) -> str:
    return f"{stem}{suffix}" if pm_id is None else f"{stem}-{pm_id}{suffix}"


def write_private(path: Path, data: bytes, durable: bool = True) -> None:
    """Write a file atomically (temp, rename) with mode 0600; durable: fsync before the rename,
    so the file survives a power cut too, not only the death of the process writing it."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
