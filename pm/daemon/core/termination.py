"""How an app's process is stopped: its kill signal to its tree, SIGKILL after kill_timeout.

The kill signal is the app's `kill_signal` when it has one, else the daemon's default: the
PM_KILL_SIGNAL (or PM2's PM2_KILL_SIGNAL) of the daemon's environment, else SIGINT as PM2.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Awaitable, Callable

from pm.daemon.core import process
from pm.daemon.core.clock import Clock
from pm.daemon.core.process import AppProcess

log = logging.getLogger("pm")
_WARNED: set[str] = set()


def kill_signal(app_signal: str | None = None) -> int:
    """The signal that stops an app: its own (checked when its spec was read), else the
    daemon's PM_KILL_SIGNAL or PM2_KILL_SIGNAL, else SIGINT. A default that is no signal is
    said once in pm.log and SIGINT used."""
    if app_signal:
        try:
            return process.signal_number(app_signal)
        except (ValueError, KeyError):
            pass  # checked when its spec was read; should it still fail: the default
    variable = "PM_KILL_SIGNAL" if os.environ.get("PM_KILL_SIGNAL") else "PM2_KILL_SIGNAL"
    name = os.environ.get(variable)
    if not name:
        return int(signal.SIGINT)
    try:
        return process.signal_number(name)
    except (ValueError, KeyError):
        if name not in _WARNED:
            _WARNED.add(name)
            log.warning(
                "%s=%r is not a signal: apps without kill_signal get SIGINT", variable, name
            )
        return int(signal.SIGINT)


async def terminate(
    proc: AppProcess,
    timeout: float,
    treekill: bool,
    clock: Clock,
    ask: Callable[[], bool] | None = None,
    moment: Callable[[], Awaitable[Callable[[], object]]] | None = None,
    app_signal: str | None = None,
) -> list[int]:
    """PM2's stop: kill signal to the tree, SIGKILL after timeout. Returns pids that survived.

    app_signal: the app's kill_signal (None: the daemon's default, kill_signal()).

    ask: instead of the kill signal, ask the app to stop (PM2's shutdown_with_message: the
    'shutdown' message); the signal still goes when asking fails (no channel).
    moment: awaited just before the signal, once the tree is known, so nothing slow stands
    between the moment it waits for and the signal; what it returns runs right after the
    signal (quiesce.py freezes the process, then lets it wake to the pending signal)."""
    tree = proc.tree() if treekill else []
    resume = await moment() if moment is not None else None
    if ask is None or not ask():
        proc.signal(kill_signal(app_signal), tree, group=treekill)
    if resume is not None:
        resume()
    survivors = await _wait_tree(proc, tree, timeout, clock)
    if not survivors:
        return []
    # The first signal may have ended parents whose children then moved to init: keep both.
    tree = sorted(set(tree) | set(proc.tree() if treekill else []))
    proc.signal(signal.SIGKILL, tree, group=treekill)
    return await _wait_tree(proc, tree, timeout, clock)


async def _wait_tree(proc: AppProcess, tree: list[int], timeout: float, clock: Clock) -> list[int]:
    deadline = clock.monotonic() + timeout
    if not await clock.completes_within(proc.wait(), timeout):
        return [proc.pid]
    return await proc.wait_descendants(tree, max(0.0, deadline - clock.monotonic()))
