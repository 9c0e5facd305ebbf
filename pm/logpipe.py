"""Pipe mode: the daemon reads an app's output from pipes, transforms whole lines, writes its files.

Taken only when a line must change on its way to disk (`time`, `log_date_format`,
`log_type: json`, a combined `log_file`). The rules that keep every line:

* take big chunks (never readline), so a 1 MB line is just a longer chunk;
* copy the pipe's head with tee(2), write its whole lines, and only then consume those bytes;
  a partial last line stays in the pipe until its newline comes, so a line is written only
  once it is whole (no line torn, two streams sharing a file never interleave inside a line)
  and a daemon killed at any instant leaves everything not yet written in the pipe, for the
  next daemon (the fd keeper holds the pipe meanwhile). A partial line longer than 1/16 of
  the pipe is moved to memory instead, so a full pipe never blocks the app;
* each stream has one reader, so order within a stream is kept;
* batch: after a read the reader rests a few milliseconds while the child fills the (enlarged)
  pipe, so the daemon makes one big write instead of thousands of small ones. A full pipe
  only makes the child wait; nothing is dropped.

A `StreamReader` is built from any pipe read end, so a reader can be rebuilt from one kept
elsewhere (the fd keeper, pm/fdkeeper.py) after a daemon restart: a reader with a `key` has a
duplicate of its fd held there (`keeper.hold`), let go of when the reader closes. Files are
shared `LogFile`s so `pm reloadLogs` and rotation can reopen them between two writes.
"""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import json
import logging
import os
import select
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pm.dateformat import CachedFormatter

log = logging.getLogger("pm")

READ_SIZE = 1 << 20
#: Most bytes handled per wake-up before yielding to the rest of the daemon.
MAX_PER_WAKEUP = 8 << 20
#: A "line" without a newline longer than this is written as it is (bounded memory).
MAX_LINE = 16 << 20
#: Rest after a read so the child can fill the pipe: fewer, larger writes.
BATCH_DELAY = 0.004
PIPE_SIZE = 1 << 20
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)

Transform = Callable[[bytes], bytes]

#: The daemon's fd keeper client (pm.fdkeeper.Client): `hold(key, fd)`, `release(key)`.
#: None outside the daemon (`--no-daemon`, tests): pipes then live only as long as the process.
keeper: Any = None


class LogFile:
    """One file the daemon appends to, shared by every stream that writes it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.refs = 0
        self.fd = self._open()
        self._warned = False

    def _open(self) -> int:
        if self.path != "/dev/null":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view):]
            self._warned = False
        except OSError as exc:
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
        os.close(self.fd)
        self.fd = fresh

    def close(self) -> None:
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


# ------------------------------------------------------------ transforms of whole lines


def identity(lines: bytes) -> bytes:
    return lines


def date_prefix(fmt: str) -> Transform:
    """PM2's `log_date_format`: every line starts with `<date>: `."""
    stamp = CachedFormatter(fmt)

    def transform(lines: bytes) -> bytes:
        prefix = stamp().encode() + b": "
        return prefix + lines[:-1].replace(b"\n", b"\n" + prefix) + b"\n"

    return transform


def json_lines(kind: str, pm_id: int, name: str, fmt: str | None) -> Transform:
    """PM2's `log_type: json`: one object per line with message, timestamp, type, id, name."""
    stamp = CachedFormatter(fmt or "YYYY-MM-DDTHH:mm:ssZ")

    def transform(lines: bytes) -> bytes:
        timestamp = stamp()
        out = []
        for line in lines[:-1].split(b"\n"):
            record = {"message": line.decode(errors="replace") + "\n", "timestamp": timestamp,
                      "type": kind, "process_id": pm_id, "app_name": name}
            out.append(json.dumps(record, ensure_ascii=False))
        out.append("")
        return "\n".join(out).encode()

    return transform


# ------------------------------------------------------------ readers


class Target:
    """Where a stream's lines go: a file and the transform applied for it."""

    def __init__(self, path: str, transform: Transform) -> None:
        self.file = acquire(path)
        self.transform = transform


SPLICE_F_NONBLOCK = 2
_libc = ctypes.CDLL(None, use_errno=True)
_libc.tee.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_uint]
_libc.tee.restype = ctypes.c_ssize_t


def _tee(source: int, destination: int, size: int) -> int:
    """tee(2): copy up to size bytes from one pipe to another without consuming them."""
    copied = _libc.tee(source, destination, size, SPLICE_F_NONBLOCK)
    if copied < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))  # EAGAIN becomes BlockingIOError
    return int(copied)


def _read_exact(fd: int, size: int) -> bytes:
    """Read exactly size bytes that are known to be in the pipe."""
    chunks = []
    while size > 0:
        chunk = os.read(fd, size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _hung_up(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return any(events & select.POLLHUP for _, events in poller.poll(0))


def _enlarge(fd: int) -> int:
    """Grow a pipe to PIPE_SIZE if allowed; return its capacity."""
    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass  # above /proc/sys/fs/pipe-max-size: the default works too
    try:
        return int(fcntl.fcntl(fd, F_GETPIPE_SZ))
    except OSError:
        return 1 << 16


_SCRATCH: list[int] = []


def _scratch() -> tuple[int, int, int]:
    """The daemon's one scratch pipe that tee copies into: emptied right after every tee (the
    loop is single-threaded), so one serves every reader (fewer fds and pipe pages)."""
    if not _SCRATCH:
        read_end, write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        _SCRATCH.extend((read_end, write_end, _enlarge(write_end)))
    return _SCRATCH[0], _SCRATCH[1], _SCRATCH[2]


class StreamReader:
    """Read one pipe in big chunks and append whole, transformed lines to its targets."""

    def __init__(self, fd: int, targets: list[Target],
                 on_close: Callable[[], None] = lambda: None, key: str = "") -> None:
        self.fd = fd
        self.key = key
        self.targets = targets
        self.on_close = on_close
        self._tail = b""  # only a line longer than the pipe, consumed before its newline came
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resume: asyncio.TimerHandle | None = None
        self.closed = False
        os.set_blocking(fd, False)
        self._scratch_r, self._scratch_w, scratch_size = _scratch()
        # A partial line this long is moved to memory: tee may see no more than the scratch.
        self._long = min(_enlarge(fd), scratch_size) // 16

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._loop.add_reader(self.fd, self._on_readable)

    def _on_readable(self) -> None:
        """Copy (tee) what the pipe holds, write its whole lines, then consume just those.

        Bytes leave the pipe only after they are in the files, so a daemon killed at any
        instant loses nothing: the next reader (on the fd keeper's duplicate) finds them
        still there. A partial last line stays in the pipe until its newline comes.
        """
        assert self._loop is not None
        total, eof = 0, False
        while total < MAX_PER_WAKEUP:
            try:
                size = _tee(self.fd, self._scratch_w, READ_SIZE)
            except BlockingIOError:
                break
            except OSError as exc:
                log.error("reading app output failed: %s", exc)
                eof = True
                break
            if size == 0:
                eof = True
                break
            total += size
            if not self._take(_read_exact(self._scratch_r, size)):
                break
        if eof:
            self.close()
        elif total:
            self._loop.remove_reader(self.fd)
            self._resume = self._loop.call_later(BATCH_DELAY, self._rearm)

    def _take(self, data: bytes) -> bool:
        """Write the whole lines of data (a copy of the pipe's head), then consume them.

        False when only a partial line is left: wait for more.
        """
        held = len(self._tail)
        whole = self._tail + data if held else data
        cut = whole.rfind(b"\n") + 1
        if cut:
            self._emit(whole[:cut])
            _read_exact(self.fd, cut - held)
            self._tail = b""
            return True
        if _hung_up(self.fd):  # the writer is gone: its unterminated last line
            self._emit(whole + b"\n")
            _read_exact(self.fd, len(data))
            self._tail = b""
            return True
        if len(data) < self._long:
            return False
        # A long line (> 1/16 of the pipe, 64 KiB): hold it here so the pipe, which may hold
        # less than its size when full, never blocks the app (a crash now loses this line).
        _read_exact(self.fd, len(data))
        self._tail = whole
        if len(whole) > MAX_LINE:  # no newline in 16 MB: write it rather than grow
            self._emit(whole + b"\n")
            self._tail = b""
        return True

    def _rearm(self) -> None:
        self._resume = None
        if not self.closed and self._loop is not None:
            self._loop.add_reader(self.fd, self._on_readable)

    def _emit(self, lines: bytes) -> None:
        for target in self.targets:
            target.file.write(target.transform(lines))

    def close(self) -> None:
        """Flush the unterminated tail as a last line and release everything."""
        if self.closed:
            return
        self.closed = True
        if self._tail:
            self._emit(self._tail + b"\n")
            self._tail = b""
        if self._resume is not None:
            self._resume.cancel()
        if self._loop is not None:
            self._loop.remove_reader(self.fd)
        if self.key and keeper is not None:
            keeper.release(self.key)
        os.close(self.fd)
        for target in self.targets:
            release(target.file)
        self.on_close()
