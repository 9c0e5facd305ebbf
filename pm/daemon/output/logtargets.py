"""The log files pipe readers append to: one shared `LogFile` per path, and where each goes.

Every stream that writes a path shares its `LogFile` (`acquire`/`release`), so `pm reloadLogs`
(`reopen_all`) and rotation (`rotate_by_rename`) can reopen a file between two writes, under
the file's lock, even when a reader thread is writing it.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from pm.daemon.output.line_transforms import Transform
from pm.daemon.output.pipe_io import SPLICE_F_NONBLOCK

log = logging.getLogger("pm")


class LogFile:
    """One file the daemon appends to, shared by every stream that writes it.

    A raw stream is usually drained by a thread (see reader_threads.py): writes, reopen and
    close hold `lock`, so a rotation never closes the fd under a write."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.refs = 0
        self.fd = self._open()
        self._warned = False
        self.lock = threading.Lock()

    def _open(self) -> int:
        """Not O_APPEND: splice(2) refuses such files. Every write seeks to the end first, so
        a file truncated (`pm flush`, `> file`) or appended to by someone else stays whole."""
        if self.path != "/dev/null":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        with self.lock:
            try:
                os.lseek(self.fd, 0, os.SEEK_END)
                while view:
                    view = view[os.write(self.fd, view) :]
                self._warned = False
            except OSError as exc:
                self.failed(exc)

    def splice_from(self, pipe: int, size: int) -> int:
        """Move up to size bytes from pipe to the file's end, in the kernel (no copy through
        the daemon, and a byte leaves the pipe only once it is in the file). 0: the writers
        are gone; BlockingIOError: the pipe is empty."""
        with self.lock:  # another app's stream may write this path from its thread
            os.lseek(self.fd, 0, os.SEEK_END)
            return os.splice(pipe, self.fd, size, flags=SPLICE_F_NONBLOCK)

    def failed(self, exc: OSError) -> None:
        if not self._warned:
            log.error("cannot write log file %s: %s", self.path, exc)
            self._warned = True

    def reopen(self) -> None:
        """Open the path again (after a rename by rotation, or for `pm reloadLogs`)."""
        try:
            fresh = self._open()
        except OSError as exc:
            log.error("cannot reopen log file %s: %s", self.path, exc)
            return
        with self.lock:
            os.close(self.fd)
            self.fd = fresh

    def close(self) -> None:
        with self.lock:
            os.close(self.fd)


#: Every file currently written by a pipe reader, by path.
FILES: dict[str, LogFile] = {}


def acquire(path: str) -> LogFile:
    log_file = FILES.get(path)
    if log_file is None:
        log_file = FILES[path] = LogFile(path)
    log_file.refs += 1
    return log_file


def release(log_file: LogFile) -> None:
    log_file.refs -= 1
    if log_file.refs <= 0 and FILES.get(log_file.path) is log_file:
        del FILES[log_file.path]
        log_file.close()


def reopen_all() -> int:
    """`pm reloadLogs` / SIGUSR2: reopen every pipe-mode file; returns how many."""
    for log_file in list(FILES.values()):
        log_file.reopen()
    return len(FILES)


def rotate_by_rename(path: str, destination: str) -> bool:
    """Rotate a pipe-mode file with no loss: rename it, then reopen (writes happen between reads).

    False when no pipe reader writes this path (the caller then copies and truncates).
    """
    log_file = FILES.get(path)
    if log_file is None:
        return False
    os.rename(path, destination)
    log_file.reopen()
    return True


class Target:
    """Where a stream's lines go: a file and the transform applied for it."""

    def __init__(self, path: str, transform: Transform) -> None:
        self.file = acquire(path)
        self.transform = transform
