"""PM2's restart policy as a pure function of an app's counters and the clock.

The supervisor calls `after_exit` when a process exits and does what the returned `Decision`
says. Keeping this free of I/O lets tests replay crash histories with a fake clock.
"""

from __future__ import annotations

from dataclasses import dataclass

#: PM2's cap on the exponential backoff delay, and how long an app must stay up before the
#: backoff starts again from the configured delay (PM2.md 3.2).
EXP_BACKOFF_CAP_MS = 15_000
EXP_BACKOFF_RESET_MS = 30_000


@dataclass
class Counters:
    """The per-app counters the policy reads and updates (PM2's field names)."""

    restart_time: int = 0
    unstable_restarts: int = 0
    created_at: int = 0  # ms; reset on every manual restart
    pm_uptime: int = 0  # ms; when the current process started
    prev_restart_delay: int = 0


@dataclass(frozen=True)
class Policy:
    autorestart: bool = True
    stop_exit_codes: tuple[int, ...] = ()
    min_uptime: int = 1000
    max_restarts: int = 16
    restart_delay: int = 0
    exp_backoff_restart_delay: int = 0


@dataclass(frozen=True)
class Decision:
    """What to do after an exit: 'restart' after delay_ms, 'stop', or 'errored'."""

    action: str
    delay_ms: int = 0
    reason: str = ""


def after_exit(policy: Policy, counters: Counters, exit_code: int | None, now_ms: int) -> Decision:
    """Decide what follows an unrequested exit, updating counters in place."""
    # no autorestart -> stopped
    if not policy.autorestart:
        return Decision("stop", reason="autorestart is off")
    # a clean exit code -> stopped
    if exit_code is not None and exit_code in policy.stop_exit_codes:
        return Decision("stop", reason=f"exit code {exit_code} is in stop_exit_codes")
    # a quick death inside the unstable window counts against max_restarts
    window = policy.min_uptime * policy.max_restarts
    if now_ms - counters.created_at < window and now_ms - counters.pm_uptime < policy.min_uptime:
        counters.unstable_restarts += 1
    # too many unstable restarts -> errored, and the counter starts over
    if counters.unstable_restarts >= policy.max_restarts:
        counters.unstable_restarts = 0
        return Decision("errored", reason=f"too many unstable restarts ({policy.max_restarts})")
    return Decision("restart", delay_ms=_next_delay(policy, counters, now_ms))


def _next_delay(policy: Policy, counters: Counters, now_ms: int) -> int:
    if not policy.exp_backoff_restart_delay:
        return policy.restart_delay
    # an app that stayed up long enough starts its backoff again from the base delay
    if now_ms - counters.pm_uptime > EXP_BACKOFF_RESET_MS:
        counters.prev_restart_delay = 0
    if counters.prev_restart_delay:
        delay = int(min(EXP_BACKOFF_CAP_MS, counters.prev_restart_delay * 1.5))
    else:
        delay = policy.exp_backoff_restart_delay
    counters.prev_restart_delay = delay
    return delay
