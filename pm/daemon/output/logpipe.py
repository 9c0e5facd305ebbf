"""The daemon's side of app output: read each app's pipes in big chunks, write its log files.

Every app writes into pipes (pipes.py makes them; they outlive a daemon crash). The rules
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
moved to memory instead, so a full pipe never blocks the app, and one that waits
PARTIAL_LINE_WAIT for its newline is written as a line of its own.

Waiting without poll(2). Once anything has polled a pipe (poll, select, epoll), Linux wakes
the pipe's wait queue on *every* later write, not only on writes into an empty pipe, and the
app pays for it on each write: an app writing 100-byte lines ran ~12 % slower (1,190 vs
1,350 k lines/s, medians of 7) once its pipe had been polled a single time. So a raw stream is
read by a thread of its own, blocked in tee(2) on the pipe, which never polls it: up to
THREADS_FROM_START streams (~20 KB of the daemon's memory each; reader_threads.py). Streams
beyond that, and whole-lines streams, wait on the event loop (epoll): this module.

Batching: a reader takes what the pipe holds, and when that was little it rests a moment
before looking again, so a busy app's lines go out in big writes and its writes never pay for
waking the daemon. A pipe found half full is grown to 1 MiB (within a budget). A raw stream on
the event loop found half full between two looks is handed to a thread (the last
MAX_THREADS - THREADS_FROM_START are kept for this). Files are shared `LogFile`s so `pm
reloadLogs` and rotation can reopen them between two writes (logtargets.py); the transforms of
whole lines are in line_transforms.py, the pipe primitives (tee, consume) in pipe_io.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable

from pm.daemon.output.line_transforms import identity
from pm.daemon.output.logtargets import Target, release
from pm.daemon.output.pipe_io import (
    BATCH_DELAY,
    READ_SIZE,
    SPLICE_UNSUPPORTED,
    capacity,
    consume,
    hung_up,
    read_exact,
    scratch,
    tee,
)
from pm.daemon.output.reader_threads import ThreadDrain, claim_thread_from_start

log = logging.getLogger("pm")

#: Most bytes handled per wake-up before yielding to the rest of the daemon.
MAX_PER_WAKEUP = 8 << 20
#: A "line" without a newline longer than this is written as it is (bounded memory).
MAX_LINE = 16 << 20
#: A partial last line with nothing more for this long is written as a line of its own: an app
#: that writes `progress...` and no newline must not stay invisible (PM2 writes it at once).
PARTIAL_LINE_WAIT = 0.5


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


class StreamReader(ThreadDrain):
    """Read one pipe in big chunks and append its bytes (or whole, transformed lines) to targets.

    Waits on the event loop (this class) or drains from a thread (ThreadDrain, reader_threads.py).
    """

    def __init__(
        self,
        fd: int,
        targets: list[Target],
        on_close: Callable[[], None] = lambda: None,
        owner: str = "",
        kind: str = "out",
        whole_lines: bool | None = None,
    ) -> None:
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
        self._partial_since: float | None = None  # when a partial last line was first seen
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resume: asyncio.TimerHandle | None = None
        self.closed = False
        os.set_blocking(fd, False)
        self._scratch_r, self._scratch_w, scratch_size = scratch()
        room = min(capacity(fd), scratch_size)
        self._heavy = room // 2
        self._grown = False
        self._threaded = False
        # A partial line this long is moved to memory: tee may see no more than the scratch.
        self._long = room // 16
        if owner:
            _BY_OWNER.setdefault(owner, []).append(self)

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Read on a thread of its own (raw streams, while there are threads left: see the
        module's docstring on poll), or wait on the event loop."""
        self._loop = loop or asyncio.get_running_loop()
        if self._raw_splice and claim_thread_from_start():
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
        pm/daemon/persist/pipe_recovery.py) finds them still there.
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
                size = tee(self.fd, self._scratch_w, READ_SIZE)
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
            if not self._take(read_exact(self._scratch_r, size)):
                break
        return total, eof

    def _take(self, data: bytes) -> bool:
        """Write data (a copy of the pipe's head), or its whole lines, then consume that.

        False when only a partial line is left: wait for more.
        """
        if not self.whole_lines:
            self._emit(data)
            consume(self.fd, len(data))
            return True
        held = len(self._tail)
        whole = self._tail + data if held else data
        cut = whole.rfind(b"\n") + 1
        if cut:
            self._emit(whole[:cut])
            consume(self.fd, cut - held)
            self._tail = b""
            self._partial_since = None
            return True
        if hung_up(self.fd) or self._partial_waited_enough():  # write the unterminated line
            self._partial_since = None
            self._emit(whole + b"\n")
            consume(self.fd, len(data))
            self._tail = b""
            return True
        if len(data) < self._long:
            return False
        # A long line (> 1/16 of the pipe): hold it here so the pipe, which may hold less than
        # its size when full, never blocks the app (a crash now loses this line).
        consume(self.fd, len(data))
        self._tail = whole
        if len(whole) > MAX_LINE:  # no newline in 16 MB: write it rather than grow
            self._emit(whole + b"\n")
            self._tail = b""
        return True

    def _partial_waited_enough(self) -> bool:
        """True once a partial last line has waited PARTIAL_LINE_WAIT for its newline."""
        now = time.monotonic()
        if self._partial_since is None:
            self._partial_since = now
        return now - self._partial_since >= PARTIAL_LINE_WAIT

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
        self._give_back_budgets()
        siblings = _BY_OWNER.get(self.owner)
        if siblings is not None:
            siblings.remove(self)
            if not siblings:
                del _BY_OWNER[self.owner]
        os.close(self.fd)
        for target in self.targets:
            release(target.file)
        self.on_close()
