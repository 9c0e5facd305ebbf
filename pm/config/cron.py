"""`cron_restart`: when an app's next scheduled restart falls, using croniter.

PM2 (croner) reads 5 fields (minute hour day month weekday) or 6 with *seconds first*;
croniter puts a 6th field last unless told `second_at_beginning`, so we tell it. Times are the
machine's local time, as PM2's. `0`, `'0'` and empty disable the schedule (PM2.md 2.3).
"""

from __future__ import annotations

import datetime
from typing import Any

from pm.errors import ConfigError


def expression(value: Any) -> str | None:
    """The schedule to use, or None when cron_restart is unset or disabled."""
    if value is None or value is False:
        return None
    text = str(value).strip()
    return None if text in ("", "0") else text


def _six_fields(expr: str) -> bool:
    return len(expr.split()) == 6


def check(value: Any, where: str = "app") -> None:
    """Raise ConfigError naming the field when value is not a 5- or 6-field cron pattern."""
    expr = expression(value)
    if expr is None:
        return
    from croniter import croniter

    if len(expr.split()) not in (5, 6) or not croniter.is_valid(
            expr, second_at_beginning=_six_fields(expr)):
        raise ConfigError(
            f"{where}: field 'cron_restart' has an invalid cron pattern {expr!r}; expected "
            "5 fields (minute hour day month weekday) or 6 with seconds first, "
            "e.g. '0 */6 * * *' or '*/30 * * * * *'")


def next_fire(expr: str, after: float) -> float:
    """Unix time of the first match strictly after `after` (a Unix time), in local time."""
    from croniter import croniter

    start = datetime.datetime.fromtimestamp(after).astimezone()
    return float(croniter(expr, start, second_at_beginning=_six_fields(expr)).get_next(float))


def due(expr: str, since: float, now: float) -> bool:
    """Whether a time matching expr falls in (since, now] (Unix times, local time).

    False for a valid pattern no date ever matches, such as `0 0 31 2 *`.
    """
    try:
        return next_fire(expr, since) <= now
    except ValueError:  # croniter's CroniterBadDateError: it found no matching date
        return False
