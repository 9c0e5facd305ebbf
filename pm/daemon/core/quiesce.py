"""Stopping a server between two requests, not in the middle of one (rolling reload).

A server that shares a handed-over socket stops taking connections the moment it dies: the
others take them from the same queue. What a stop can still break is the request it is
serving at that instant, when the server dies on the kill signal without finishing it (a plain
`http.server` under SIGINT raises KeyboardInterrupt wherever it is). So before the old process
of a reload gets its signal, pm freezes it (SIGSTOP) at a moment when every one of its threads
is blocked waiting (poll, select, epoll, a lock or a sleep) rather than running or
reading and writing a request, as /proc/<pid>/task/*/syscall tells; the kill signal then goes
to the frozen process, and SIGCONT lets it wake only to handle that signal. Measured with a
plain `http.server` app (no signal handling) of 2 instances under 4 client threads, 5 reloads:
3 and 4 requests cut without this, 0 and 1 with only waiting for such a moment (the server
could still accept between the look and the signal), 0 with the freeze.

Where the kernel does not say (another user's process, no /proc, an unknown architecture),
pm does not wait.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import time
from collections.abc import Callable

from pm.daemon.core import process
from pm.daemon.core.process import AppProcess

log = logging.getLogger("pm")

#: System calls in which a thread waits for work, by machine: poll, ppoll, select, pselect6,
#: epoll_wait, epoll_pwait, epoll_pwait2, futex, nanosleep, clock_nanosleep. Not accept(): a
#: thread woken in accept() takes a connection that came meanwhile before it sees a pending
#: signal (the kernel checks the queue first), then dies with it unanswered; a server that
#: polls first has not taken it yet.
WAITING_CALLS = {
    "x86_64": frozenset({7, 271, 23, 270, 232, 281, 441, 202, 35, 230}),
    "aarch64": frozenset({73, 72, 22, 441, 98, 101, 115}),
}
#: How often the threads are looked at while waiting (seconds).
POLL_S = 0.001


def waiting(pid: int, calls: frozenset[int] | None = None) -> bool | None:
    """True when every thread of pid waits in one of calls; None when the kernel does not say."""
    calls = WAITING_CALLS.get(os.uname().machine) if calls is None else calls
    if calls is None:
        return None
    try:
        threads = os.listdir(f"/proc/{pid}/task")
        for tid in threads:
            with open(f"/proc/{pid}/task/{tid}/syscall") as handle:
                fields = handle.read().split()
            if not fields or not fields[0].lstrip("-").isdigit() or int(fields[0]) not in calls:
                return False  # running, or in a call that is doing work
    except (OSError, ValueError):
        return None
    return True


async def pause_between_requests(proc: AppProcess, timeout: float) -> Callable[[], object]:
    """Freeze pid (SIGSTOP) at a moment when every thread of it waits for work, and return
    what resumes it (SIGCONT), to call once its kill signal is pending: it then wakes only to
    die, with no chance to take one more connection. A process caught busy is resumed and
    tried again a moment later; after timeout, or where the kernel does not say, it is frozen
    wherever it is (as good as no waiting at all)."""
    pid = proc.pid  # read from /proc; every signal goes through proc (a test's fake has no pid)
    deadline = time.monotonic() + timeout
    tries = 0
    while True:
        tries += 1
        if not proc.signal(signal.SIGSTOP):
            return _nothing
        if not await _frozen(pid, deadline):
            log.info("pid %d did not stop within %.1fs; signalling it as it is", pid, timeout)
            break
        state = waiting(pid)
        if state is None:
            break  # the kernel does not say: frozen wherever it is
        if state:
            log.debug("pid %d frozen between requests after %d tries", pid, tries)
            break
        if time.monotonic() >= deadline:
            log.info(
                "pid %d was busy at each of %d looks in %.1fs; signalling it as it is",
                pid,
                tries,
                timeout,
            )
            break
        proc.signal(signal.SIGCONT)
        await asyncio.sleep(POLL_S)
    return functools.partial(proc.signal, signal.SIGCONT)


async def _frozen(pid: int, deadline: float) -> bool:
    """Wait until SIGSTOP has taken effect (state T); False if it has not by the deadline."""
    while process.state(pid) not in ("T", "t"):
        if time.monotonic() >= deadline or process.state(pid) in ("", "Z", "X"):
            return False
        await asyncio.sleep(0)
    return True


def _nothing() -> None:
    """Nothing to resume: the process was gone before it could be frozen."""
