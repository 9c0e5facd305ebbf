"""Every path under PM_HOME, in one table, created with private permissions.

``PM_HOME`` (default ``~/.pm``) mirrors PM2's ``~/.pm2``: the daemon's socket, pid file and log,
the saved process list, the live state used for crash recovery, and the app logs and pid files.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

from pm.errors import ConfigError

#: sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH = 107

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9.\-]")

#: What a message about an unusable home tells the user to do.
_FIX = "set PM_HOME to a directory pm can create and write"


class HomeError(ConfigError):
    """PM_HOME cannot be created or used (read-only, not a directory, another user's, full).

    A ConfigError, so it crosses the wire as one, and the CLI prints it as one line."""


def home_error(root: Path, exc: OSError) -> HomeError:
    """The one-line error for an OSError met while creating or using the home at root: it names
    the path and says what to do, chosen by errno (never a traceback)."""
    path = os.fsdecode(exc.filename) if exc.filename is not None else str(root)
    where = f"PM_HOME {root}" if path == str(root) else f"{path} (in PM_HOME {root})"
    code = exc.errno
    if code in (errno.ENOTDIR, errno.EEXIST):
        blocker = _first_non_directory(root)
        if blocker is not None:
            return _not_a_directory(root, blocker)
    if code == errno.EROFS:
        return HomeError(f"{where} is on a read-only file system; {_FIX}")
    if code in (errno.EACCES, errno.EPERM):
        return HomeError(f"{where}: permission denied; {_FIX}")
    if code in (errno.ENOSPC, errno.EDQUOT):
        return HomeError(
            f"{where}: no space left on the device (disk or quota full); "
            "free some space, or set PM_HOME to a directory on another disk"
        )
    if code == errno.ENOENT:
        return HomeError(f"{where} cannot be created (no such file or directory); {_FIX}")
    reason = exc.strerror or str(exc)
    return HomeError(f"{where} cannot be used ({reason}); {_FIX}")


def _first_non_directory(root: Path) -> Path | None:
    """The nearest existing path at or above root that is not a directory, if any."""
    for candidate in (root, *root.parents):
        try:
            mode = os.stat(candidate).st_mode
        except (FileNotFoundError, NotADirectoryError):  # missing, or below the culprit
            continue
        except OSError:
            return None
        return None if stat.S_ISDIR(mode) else candidate
    return None


def _not_a_directory(root: Path, blocker: Path) -> HomeError:
    try:
        is_file = stat.S_ISREG(os.stat(blocker).st_mode)
    except OSError:
        is_file = False
    if blocker == root:
        detail = "it is a file" if is_file else "something else exists there"
        return HomeError(f"PM_HOME {root} is not a directory ({detail}); {_FIX}")
    what = "a file, not a directory" if is_file else "not a directory"
    return HomeError(f"PM_HOME {root} cannot be created: {blocker} is {what}; {_FIX}")


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
    root: Path

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

    def check_usable(self) -> None:
        """Refuse a home that is not a directory or belongs to another user (even for root:
        files root writes into a user's home would lock that user out of it, PM2's classic
        `sudo pm2` trap). A home that does not exist yet passes: ensure creates it."""
        try:
            info = os.stat(self.root)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise home_error(self.root, exc) from None
        if not stat.S_ISDIR(info.st_mode):
            raise _not_a_directory(self.root, self.root)
        if info.st_uid != os.geteuid():
            raise HomeError(
                f"PM_HOME {self.root} belongs to another user (uid {info.st_uid}); pm will not "
                "use another user's home: set PM_HOME to a directory of your own"
            )

    def ensure(self) -> None:
        """Create the home and its folders, private to the user (0700), and check that it can
        be written; any failure is one HomeError naming the path (see home_error)."""
        self.check_socket_length()
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.check_usable()
            for folder in (self.logs_dir, self.pids_dir):
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)
            self._probe_write()
        except OSError as exc:
            raise home_error(self.root, exc) from None

    def _probe_write(self) -> None:
        """Write two bytes in the home: a full disk (or quota) fails here, with a clear line,
        rather than later inside a starting daemon."""
        probe = self.root / f".probe.{os.getpid()}"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"pm")
        finally:
            os.close(fd)
            try:
                os.unlink(probe)
            except OSError:
                pass


def _with_id(stem: str, pm_id: int | None, suffix: str) -> str:
    return f"{stem}{suffix}" if pm_id is None else f"{stem}-{pm_id}{suffix}"


def write_private(path: Path, data: bytes, durable: bool = True) -> None:
    """Write a file atomically (temp, rename) with mode 0600; durable: fsync before the rename,
    so the file survives a power cut too, not only the death of the process writing it."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:  # a full disk: drop the partial temp file, and say which file
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror, os.fspath(path)) from exc
        raise
