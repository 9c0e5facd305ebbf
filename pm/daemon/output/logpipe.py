"""The daemon's side of app output: read each app's pipes in big chunks, write its log files.

Every app writes into pipes (pm/pipes.py makes them; they outlive a daemon crash). The rules
that keep every byte:

* take big chunks (never readline), so a 1 MB line is just a longer chunk;
* copy the pipe's head with tee(2), write it, and only then consume those bytes (spliced to
  /dev/null, no copy): a daemon killed at any instant leaves everything not yet written in
  the pipe, for the next daemon (at worst one chunk is written twice, never one lost);
* each stream has one reader, so order within a stream is kept.

Two ways to write. Raw (the default: a stream with its own file and no transform) writes bytes
as they come, as PM2 and supervisord do. Whole lines (`time`, `log_date_format`,
`log_type: json`, a combined `log_file`, out and err in one file) writes only whole lines: a
partial last line stays in the pipe until its newline comes, so no line is torn and two streams
sharing a file never interleave inside a line. A partial line longer than 1/16 of the pipe is
moved to memory instead, so a full pipe never blocks the app.

Waiting without poll(2). Once anything has polled a pipe (poll, select, epoll), Linux wakes
the pipe's wait queue on *every* later write, not only on writes into an empty pipe, and the
app pays for it on each write: an app writing 100-byte lines ran ~12 % slower (1,190 vs
1,350 k lines/s, medians of 7) once its pipe had been polled a single time. So a raw stream is
read by a thread of its own, blocked in tee(2) on the pipe, which never polls it: up to
THREADS_FROM_START streams (~20 KB of the daemon's memory each). Streams beyond that, and
whole-lines streams, wait on the event loop (epoll).

Batching: a reader takes what the pipe holds, and when that was little it rests a moment
before looking again, so a busy app's lines go out in big writes and its writes never pay for
waking the daemon. A pipe found half full is grown to 1 MiB (within a budget). A raw stream on
the event loop found half full between two looks is handed to a thread (the last
MAX_THREADS - THREADS_FROM_START are kept for this). Files are shared `LogFile`s so `pm
reloadLogs` and rotation can reopen them between two writes.
"""

from __future__ import annotations

import _thread
import asyncio
import errno
import functools
import fcntl
import json
import logging
import os
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pm.config.dateformat import CachedFormatter

log = logging.getLogger("pm")

READ_SIZE = 1 << 20
#: Most bytes handled per wake-up before yielding to the rest of the daemon.
MAX_PER_WAKEUP = 8 << 20
#: A "line" without a newline longer than this is written as it is (bounded memory).
MAX_LINE = 16 << 20
#: How often a busy pipe is looked at (its app's lines gather meanwhile).
BATCH_DELAY = 0.004
#: The scratch pipe tee copies into (one per daemon). App pipes keep the default size: enlarging
#: every one would spend the user's pipe budget (fs.pipe-user-pages-soft) for all their programs.
SCRATCH_SIZE = 1 << 20
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)

Transform = Callable[[bytes], bytes]

class LogFile:
    """One file the daemon appends to, shared by every stream that writes it.

    A raw stream is usually drained by a thread (see StreamReader._drain_in_thread):
    writes, reopen and close hold `lock`, so a rotation never closes the fd under a write."""

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
                    view = view[os.write(self.fd, view):]
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


def _tee(source: int, destination: int, size: int, block: bool = False) -> int:
    """tee(2): copy up to size bytes from one pipe to another without consuming them.

    EAGAIN raises BlockingIOError, EINTR InterruptedError (OSError picks the subclass)."""
    copied = _libc_tee()(source, destination, size, 0 if block else SPLICE_F_NONBLOCK)
    if copied < 0:
        import ctypes

        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
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


def _capacity(fd: int, size: int = 0) -> int:
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
#: Streams drained by a thread of their own now, see StreamReader.start and _hand_to_thread.
_THREADS = [0]
#: At most this many reader threads; a new raw stream gets one while fewer than
#: THREADS_FROM_START run, the rest are kept for streams found flooding on the event loop.
MAX_THREADS = 48
THREADS_FROM_START = 32
#: Guards _THREADS and _GROWN, which reader threads change too.
_COUNTS = threading.Lock()
#: A reader thread that got less than this rests BATCH_DELAY / 4 before taking more.
THREAD_BATCH = 1 << 15
#: How many app pipes are grown to SCRATCH_SIZE now (at most MAX_GROWN: 16 MiB of pipe pages,
#: a quarter of an unprivileged user's default budget).
_GROWN = [0]
MAX_GROWN = 16


def _claim_thread(limit: int) -> bool:
    with _COUNTS:
        if _THREADS[0] >= limit:
            return False
        _THREADS[0] += 1
        return True


def _scratch() -> tuple[int, int, int]:
    """The daemon's one scratch pipe that tee copies into: emptied right after every tee (the
    loop is single-threaded), so one serves every reader (fewer fds and pipe pages)."""
    if not _SCRATCH:
        read_end, write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        _SCRATCH.extend((read_end, write_end, _capacity(write_end, SCRATCH_SIZE)))
    return _SCRATCH[0], _SCRATCH[1], _SCRATCH[2]


_DEVNULL: list[int] = []


def _consume(fd: int, size: int) -> None:
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


#: Open readers by owner (an app's unique_id), for state.json and recovery.
_BY_OWNER: dict[str, list[StreamReader]] = {}


def readers_of(owner: str) -> list[StreamReader]:
    return _BY_OWNER.get(owner, [])


def reading(owner: str, pipe_inode: int) -> bool:
    return any(reader.inode == pipe_inode for reader in readers_of(owner))


async def drained(timeout: float) -> bool:
    """Wait until every reader has met the end of its pipe and closed, for at most timeout.

    For the daemon's exit, after its apps are stopped: what an app wrote while stopping (a
    goodbye, a traceback) is still in its pipe or in a reader's hands, and would die with the
    daemon. Bounded, because a process that outlived its app (a detached grandchild) can hold
    a pipe open for ever."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while _BY_OWNER and loop.time() < deadline:
        await asyncio.sleep(0.005)
    return not _BY_OWNER


class StreamReader:
    """Read one pipe in big chunks and append its bytes (or whole, transformed lines) to targets."""

    def __init__(self, fd: int, targets: list[Target],
                 on_close: Callable[[], None] = lambda: None, owner: str = "",
                 kind: str = "out", whole_lines: bool | None = None) -> None:
        self.fd = fd
        self.owner = owner
        self.kind = kind
        self.inode = os.fstat(fd).st_ino
        self.targets = targets
        self.on_close = on_close
        if whole_lines is None:
            whole_lines = len(targets) != 1 or targets[0].transform is not identity
        self.whole_lines = whole_lines
        self._raw_splice = not whole_lines
        self._tail = b""  # only a line longer than the pipe, consumed before its newline came
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resume: asyncio.TimerHandle | None = None
        self.closed = False
        os.set_blocking(fd, False)
        self._scratch_r, self._scratch_w, scratch_size = _scratch()
        capacity = min(_capacity(fd), scratch_size)
        self._heavy = capacity // 2
        self._grown = False
        self._threaded = False
        # A partial line this long is moved to memory: tee may see no more than the scratch.
        self._long = capacity // 16
        if owner:
            _BY_OWNER.setdefault(owner, []).append(self)

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Read on a thread of its own (raw streams, while there are threads left: see the
        module's docstring on poll), or wait on the event loop."""
        self._loop = loop or asyncio.get_running_loop()
        if self._raw_splice and _claim_thread(THREADS_FROM_START):
            self._start_thread()
        else:
            self._loop.add_reader(self.fd, self._on_readable)

    def _on_readable(self) -> None:
        """Output arrived on an idle pipe: take it now, then switch to polling (see _pump)."""
        assert self._loop is not None
        self._loop.remove_reader(self.fd)
        self._pump()

    def _pump(self) -> None:
        """Move what the pipe holds to the files (splice, or tee + write + consume), then look
        again BATCH_DELAY later while output keeps coming, or wait on the pipe once it stops.

        Polling a busy pipe instead of waiting on it matters: a reader asleep on an empty pipe
        makes every small write of the app pay for waking it, and the app writes into a pipe
        that is never empty for long. Bytes leave the pipe only once they are in the files, so
        a daemon killed at any instant loses nothing: the next reader (on the same pipe, see
        pm/pipes.py) finds them still there.
        """
        self._resume = None
        if self.closed or self._loop is None:
            return
        total, eof = self._splice() if self._raw_splice else self._copy()
        if eof:
            self.close()
        elif not total:  # quiet now: sleep until the app writes again
            self._loop.add_reader(self.fd, self._on_readable)
        elif total >= self._heavy:  # filling faster than we look
            if not (self._raw_splice and self._hand_to_thread()):
                self._grow()  # more room, and look again at once
                self._resume = self._loop.call_later(0, self._pump)
        else:
            self._resume = self._loop.call_later(BATCH_DELAY, self._pump)

    def _hand_to_thread(self) -> bool:
        """Give a raw stream found flooding on the event loop a thread of its own.

        Measured with a Python app writing 100-byte lines: an asyncio reader, polling or woken
        per write, let it reach ~1,000 k lines/s; a thread blocked on the pipe ~1,300-1,500 k
        for the same CPU. A stream keeps its thread until its writers are gone (quiet, it costs
        nothing but a sleeping thread)."""
        if not _claim_thread(MAX_THREADS):
            return False
        self._grow()
        self._start_thread()
        return True

    def _start_thread(self) -> None:
        """A bare thread: threading.Thread.start() waits until the new thread has run (126 vs
        42 us here), and a relaunch starts two of these while its app is starting."""
        self._threaded = True
        _thread.start_new_thread(self._drain_in_thread, ())

    def _drain_in_thread(self) -> None:
        """Until EOF: wait in a blocking tee(2), then move a small batch with splice (exactly
        once) or write a big batch's copy and only then consume it (at-least-once: a SIGKILL
        between the two writes that batch again; never one lost)."""
        loop = self._loop
        assert loop is not None
        scratch_r, scratch_w = os.pipe2(os.O_CLOEXEC)
        target = self.targets[0].file
        try:
            os.set_blocking(self.fd, True)
            while True:
                try:
                    size = _tee(self.fd, scratch_w, READ_SIZE, block=True)  # waits for output
                except InterruptedError:
                    continue  # a signal landed on this thread
                if size == 0:
                    break  # every writer is gone
                small = size < THREAD_BATCH
                if small and self._move(size):
                    _consume(scratch_r, size)  # the copy was only a way to wait
                else:
                    target.write(_read_exact(scratch_r, size))
                    _consume(self.fd, size)
                if size >= self._heavy:
                    self._grow()  # filling faster than we take: room for a whole rest
                elif small:  # woken for a little: let the app's lines gather
                    time.sleep(BATCH_DELAY / 4)
        except OSError as exc:
            log.error("reading app output failed: %s", exc)
        finally:
            os.close(scratch_r)
            os.close(scratch_w)
            loop.call_soon_threadsafe(self.close)

    def _move(self, size: int) -> bool:
        """Splice size bytes, known to be in the pipe, into the file: each leaves the pipe only
        as it enters the file, so a daemon killed at any instant writes none of them twice.
        Used for a thread's small batches only: the pipe stays locked while the file is written,
        which would stall a flooding app. False when the file system cannot splice."""
        if not self._raw_splice:
            return False
        target = self.targets[0].file
        moved = 0
        while moved < size:
            try:
                step = target.splice_from(self.fd, size - moved)
            except BlockingIOError:
                break  # not expected (the bytes are there); what is left goes next time
            except OSError as exc:
                if moved == 0 and exc.errno in SPLICE_UNSUPPORTED:
                    self._raw_splice = False
                    return False
                target.failed(exc)  # e.g. disk full: drop the rest, as a write would
                _consume(self.fd, size - moved)
                return True
            if step <= 0:
                break
            moved += step
        return True

    def _grow(self) -> None:
        """The pipe fills faster than we look: give it room for a whole rest (within budget)."""
        with _COUNTS:
            if self._grown or _GROWN[0] >= MAX_GROWN:
                return
            self._grown = True
            _GROWN[0] += 1
        self._heavy = min(_capacity(self.fd, SCRATCH_SIZE), _SCRATCH[2]) // 2

    def _splice(self) -> tuple[int, bool]:
        """Raw mode: splice the pipe into the file. (bytes moved, writers gone)."""
        target = self.targets[0].file
        total = 0
        while total < MAX_PER_WAKEUP:
            try:
                moved = target.splice_from(self.fd, READ_SIZE)
            except BlockingIOError:
                return total, False
            except OSError as exc:
                if exc.errno in SPLICE_UNSUPPORTED:
                    self._raw_splice = False  # a file system splice cannot write to
                    return self._copy()
                target.failed(exc)  # e.g. disk full: drop what came, as a write would
                try:
                    moved = len(os.read(self.fd, READ_SIZE))
                except BlockingIOError:
                    return total, False
            if moved == 0:
                return total, True
            total += moved
        return total, False

    def _copy(self) -> tuple[int, bool]:
        """Tee the pipe's head, write it (or its whole lines), then consume what was written."""
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
        return total, eof

    def _take(self, data: bytes) -> bool:
        """Write data (a copy of the pipe's head), or its whole lines, then consume that.

        False when only a partial line is left: wait for more.
        """
        if not self.whole_lines:
            self._emit(data)
            _consume(self.fd, len(data))
            return True
        held = len(self._tail)
        whole = self._tail + data if held else data
        cut = whole.rfind(b"\n") + 1
        if cut:
            self._emit(whole[:cut])
            _consume(self.fd, cut - held)
            self._tail = b""
            return True
        if _hung_up(self.fd):  # the writer is gone: its unterminated last line
            self._emit(whole + b"\n")
            _consume(self.fd, len(data))
            self._tail = b""
            return True
        if len(data) < self._long:
            return False
        # A long line (> 1/16 of the pipe): hold it here so the pipe, which may hold less than
        # its size when full, never blocks the app (a crash now loses this line).
        _consume(self.fd, len(data))
        self._tail = whole
        if len(whole) > MAX_LINE:  # no newline in 16 MB: write it rather than grow
            self._emit(whole + b"\n")
            self._tail = b""
        return True

    def _emit(self, data: bytes) -> None:
        for target in self.targets:
            target.file.write(target.transform(data))

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
        with _COUNTS:
            _GROWN[0] -= self._grown
            _THREADS[0] -= self._threaded
        siblings = _BY_OWNER.get(self.owner)
        if siblings is not None:
            siblings.remove(self)
            if not siblings:
                del _BY_OWNER[self.owner]
        os.close(self.fd)
        for target in self.targets:
            release(target.file)
        self.on_close()
