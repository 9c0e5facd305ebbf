"""The supervisor's sense of time, behind a small interface so tests can drive it by hand.

The daemon uses `SystemClock` (wall time, the running event loop's timers, asyncio timeouts).
A test passes a fake whose time only moves when told, so crash loops, restart delays and
kill timeouts play out in milliseconds with exact, repeatable timings.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol


def now_ms() -> int:
    """Wall time in ms since the epoch: PM2's unit for created_at and pm_uptime."""
    return int(time.time() * 1000)


class Timer(Protocol):
    """A pending callback that can be called off (asyncio.TimerHandle is one)."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall time in ms since the epoch (PM2's timestamps and the restart policy's clock)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start that never goes back, for deadlines."""
        ...

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> Timer:
        """Run callback(*args) from the event loop after delay seconds, unless cancelled."""
        ...

    async def completes_within(self, awaitable: Awaitable[object], timeout: float) -> bool:
        """Await awaitable for at most timeout seconds: True if it finished, False if the
        time ran out first (it is then cancelled)."""
        ...


class SystemClock:
    """The real clock: time.time, time.monotonic and the running loop's timers."""

    def now_ms(self) -> int:
        return now_ms()

    def monotonic(self) -> float:
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> Timer:
        return asyncio.get_running_loop().call_later(delay, callback, *args)

    async def completes_within(self, awaitable: Awaitable[object], timeout: float) -> bool:
        try:
            await asyncio.wait_for(awaitable, timeout)
        except asyncio.TimeoutError:
            return False
        return True
