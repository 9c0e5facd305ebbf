"""Reader threads: a raw stream drained by a thread blocked in tee(2), never polling its pipe.

Once anything has polled a pipe, Linux wakes its wait queue on every later write and the app
pays for it (see logpipe.py), so a raw stream is read by a thread of its own while threads are
left: up to THREADS_FROM_START from the start, and the last MAX_THREADS - THREADS_FROM_START
for streams found flooding on the event loop. This module holds those budgets (and the one for
grown pipes) and `ThreadDrain`, the thread half of logpipe.StreamReader.
"""

from __future__ import annotations

import _thread
import asyncio
import logging
import os
import threading
import time

from pm.daemon.output.logtargets import Target
from pm.daemon.output.pipe_io import (
    BATCH_DELAY,
    READ_SIZE,
    SCRATCH_SIZE,
    SPLICE_UNSUPPORTED,
    capacity,
    consume,
    read_exact,
    scratch,
    tee,
)

log = logging.getLogger("pm")

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


def claim_thread(limit: int) -> bool:
    """Count one more reader thread, unless limit of them already run."""
    with _COUNTS:
        if _THREADS[0] >= limit:
            return False
        _THREADS[0] += 1
        return True


def claim_thread_from_start() -> bool:
    """A thread for a new raw stream, while fewer than THREADS_FROM_START run."""
    return claim_thread(THREADS_FROM_START)


class ThreadDrain:
    """The thread half of a StreamReader (logpipe.py), and its share of the budgets.

    Relies on the reader's fd, targets, loop and close(); `_threaded` and `_grown` say what it
    holds of the budgets, given back by `_give_back_budgets` when the reader closes."""

    fd: int
    targets: list[Target]
    _loop: asyncio.AbstractEventLoop | None
    _raw_splice: bool
    _heavy: int
    _grown: bool
    _threaded: bool

    def close(self) -> None:
        raise NotImplementedError  # StreamReader's

    def _hand_to_thread(self) -> bool:
        """Give a raw stream found flooding on the event loop a thread of its own.

        Measured with a Python app writing 100-byte lines: an asyncio reader, polling or woken
        per write, let it reach ~1,000 k lines/s; a thread blocked on the pipe ~1,300-1,500 k
        for the same CPU. A stream keeps its thread until its writers are gone (quiet, it costs
        nothing but a sleeping thread)."""
        if not claim_thread(MAX_THREADS):
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
                    size = tee(self.fd, scratch_w, READ_SIZE, block=True)  # waits for output
                except InterruptedError:
                    continue  # a signal landed on this thread
                if size == 0:
                    break  # every writer is gone
                small = size < THREAD_BATCH
                if small and self._move(size):
                    consume(scratch_r, size)  # the copy was only a way to wait
                else:
                    target.write(read_exact(scratch_r, size))
                    consume(self.fd, size)
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
                consume(self.fd, size - moved)
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
        self._heavy = min(capacity(self.fd, SCRATCH_SIZE), scratch()[2]) // 2

    def _give_back_budgets(self) -> None:
        """The reader is closing: its thread and its grown pipe no longer count."""
        with _COUNTS:
            _GROWN[0] -= self._grown
            _THREADS[0] -= self._threaded
