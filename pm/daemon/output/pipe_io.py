"""Taking bytes out of an app's pipe so that none is lost: tee(2), consume, pipe sizes.

A reader copies the pipe's head with `tee` (nothing leaves the pipe), writes the copy, and only
then `consume`s those bytes (spliced to /dev/null). A daemon killed in between leaves them in
the pipe for the next one. Shared by the event-loop readers (logpipe.py) and the reader
threads (reader_threads.py), with the chunk size and pace both use.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import select
from typing import Any

#: Most bytes one tee or splice takes.
READ_SIZE = 1 << 20
#: How often a busy pipe is looked at (its app's lines gather meanwhile).
BATCH_DELAY = 0.004
#: The scratch pipe tee copies into (one per daemon). App pipes keep the default size: enlarging
#: every one would spend the user's pipe budget (fs.pipe-user-pages-soft) for all their programs.
SCRATCH_SIZE = 1 << 20
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)

SPLICE_F_NONBLOCK = 2
#: What splice(2) says when the file system cannot take it: write the bytes instead.
SPLICE_UNSUPPORTED = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)


@functools.cache
def _libc_tee() -> Any:
    """libc's tee (Python has no os.tee); ctypes is loaded only by whole-lines readers."""
    import ctypes

    tee = ctypes.CDLL(None, use_errno=True).tee
    tee.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_uint]
    tee.restype = ctypes.c_ssize_t
    return tee


def tee(source: int, destination: int, size: int, block: bool = False) -> int:
    """tee(2): copy up to size bytes from one pipe to another without consuming them.

    EAGAIN raises BlockingIOError, EINTR InterruptedError (OSError picks the subclass)."""
    copied = _libc_tee()(source, destination, size, 0 if block else SPLICE_F_NONBLOCK)
    if copied < 0:
        import ctypes

        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return int(copied)


def read_exact(fd: int, size: int) -> bytes:
    """Read exactly size bytes that are known to be in the pipe."""
    chunks = []
    while size > 0:
        chunk = os.read(fd, size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def hung_up(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return any(events & select.POLLHUP for _, events in poller.poll(0))


def capacity(fd: int, size: int = 0) -> int:
    """The pipe's capacity, grown to size first when asked and allowed."""
    if size:
        try:
            fcntl.fcntl(fd, F_SETPIPE_SZ, size)
        except OSError:
            pass  # above /proc/sys/fs/pipe-max-size or the user's budget: the default works
    try:
        return int(fcntl.fcntl(fd, F_GETPIPE_SZ))
    except OSError:
        return 1 << 16


_SCRATCH: list[int] = []


def scratch() -> tuple[int, int, int]:
    """The daemon's one scratch pipe that tee copies into, (read end, write end, capacity):
    emptied right after every tee (the loop is single-threaded), so one serves every reader
    on the event loop (fewer fds and pipe pages)."""
    if not _SCRATCH:
        read_end, write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        _SCRATCH.extend((read_end, write_end, capacity(write_end, SCRATCH_SIZE)))
    return _SCRATCH[0], _SCRATCH[1], _SCRATCH[2]


_DEVNULL: list[int] = []


def consume(fd: int, size: int) -> None:
    """Drop size bytes known to be in the pipe (already written): spliced to /dev/null."""
    if not _DEVNULL:
        _DEVNULL.append(os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC))
    while size > 0:
        try:
            moved = os.splice(fd, _DEVNULL[0], size)
        except OSError:
            moved = len(os.read(fd, size))
        if moved <= 0:
            return
        size -= moved
