"""Cron patterns, for `cron_restart` and `logrotate:rotateInterval`: pm's one cron
implementation is croniter.

PM2 (croner) reads 5 fields (minute hour day month weekday) or 6 with *seconds first*;
croniter puts a 6th field last unless told `second_at_beginning`, so we tell it. Times are the
machine's local time, as PM2's. `0`, `'0'` and empty disable the schedule (PM2.md 2.3).

croniter and the dateutil it imports add about 2.4 MB to a process's resident memory (measured
with python-dateutil 4.0), more than a tenth of an idle daemon. So the daemon's log rotation
asks a `Timetable`, which runs `python -m pm.config.cron` for a pattern's next time and keeps the
answer until it has passed (about once a day for the default pattern); croniter is then
imported only by short-lived processes, or by a daemon whose apps use `cron_restart`.
"""

from __future__ import annotations

import asyncio
import datetime
import sys
from dataclasses import dataclass
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
        expr, second_at_beginning=_six_fields(expr)
    ):
        raise ConfigError(
            f"{where}: field 'cron_restart' has an invalid cron pattern {expr!r}; expected "
            "5 fields (minute hour day month weekday) or 6 with seconds first, "
            "e.g. '0 */6 * * *' or '*/30 * * * * *'"
        )


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


@dataclass(frozen=True)
class _Answer:
    after: float  # the time the question was asked about
    next: float | None  # the first match after it; None: no date ever matches
    invalid: bool = False  # croniter refused the pattern


class Timetable:
    """`due` for a long-lived process, without importing croniter into it (see the module's
    docstring): each pattern's next time is asked of `python -m pm.config.cron` and kept until it
    has passed, or until a question is about an earlier time."""

    def __init__(self) -> None:
        self._answers: dict[str, _Answer] = {}

    async def due(self, expr: str, since: float, now: float) -> bool:
        """Whether a time matching expr falls in (since, now]; ConfigError for a bad pattern."""
        answer = self._answers.get(expr)
        if (
            answer is None
            or answer.after > since
            or (answer.next is not None and answer.next <= since)
        ):
            answer = await self._ask(expr, since)
            self._answers[expr] = answer
        if answer.invalid:
            raise ConfigError(f"invalid cron pattern {expr!r}")
        return answer.next is not None and since < answer.next <= now

    @staticmethod
    async def _ask(expr: str, after: float) -> _Answer:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pm.config.cron",
            expr,
            repr(after),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await child.communicate()
        word, _, rest = out.decode().strip().partition(" ")  # see _answer
        if word == "next":
            return _Answer(after, float(rest))
        if word == "never":
            return _Answer(after, None)
        return _Answer(after, None, invalid=True)


def _answer(expr: str, after: float) -> str:
    """One line for Timetable: `next <unix time>`, `never`, or `invalid`."""
    try:
        check(expr)
        return f"next {next_fire(expr, after)!r}"
    except ConfigError:
        return "invalid"
    except ValueError:  # croniter's CroniterBadDateError: no date ever matches
        return "never"


if __name__ == "__main__":
    print(_answer(sys.argv[1], float(sys.argv[2])))
