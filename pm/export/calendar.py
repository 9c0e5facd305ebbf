"""A cron pattern (5 fields, or 6 with seconds first, as PM2's croner reads them) as a systemd
OnCalendar= expression (systemd.time(7)): `*/15 9-17 * * 1-5` -> `Mon,Tue,Wed,Thu,Fri
*-*-* 09,10,11,12,13,14,15,16,17:00/15:00`.

Lists, ranges and steps are written out as lists, which every systemd understands; `*/n`
becomes systemd's own repetition. Cron runs when the day of the month *or* the weekday
matches (when both are restricted); systemd needs both, which the caller is told.
"""

from __future__ import annotations

from dataclasses import dataclass

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_SYSTEMD_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")

#: Field -> (lowest, highest): a `*/n` counts from the lowest.
_RANGES = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "day": (1, 31),
    "month": (1, 12),
    "weekday": (0, 7),
}


class Untranslatable(ValueError):
    """A pattern with a feature systemd's calendar has no word for (L, W, #...)."""


@dataclass(frozen=True)
class Calendar:
    expression: str
    either_day: bool  # cron's "day of month OR weekday", which systemd reads as AND


def on_calendar(pattern: str) -> Calendar:
    """The OnCalendar= expression of a cron pattern; Untranslatable when there is none."""
    fields = pattern.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise Untranslatable(f"expected 5 or 6 fields, got {len(fields)}")
    second, minute, hour, day, month, weekday = (
        _field(text, name) for text, name in zip(fields, _RANGES, strict=True)
    )
    days = "" if weekday == "*" else weekday + " "
    expression = f"{days}*-{month}-{day} {hour}:{minute}:{second}"
    return Calendar(expression, either_day=day != "*" and weekday != "*")


def _field(text: str, name: str) -> str:
    text = text.lower().replace("?", "*")
    low, high = _RANGES[name]
    if text == "*":
        return "*"
    if text.startswith("*/"):
        step = _number(text[2:], name, 1, high)
        return f"{low:02d}/{step}" if name != "weekday" else _listed(range(0, 7, step), name)
    values: list[int] = []
    for part in text.split(","):
        values += _part(part, name, low, high)
    return _listed(sorted(set(values)), name)


def _part(part: str, name: str, low: int, high: int) -> list[int]:
    body, _, step_text = part.partition("/")
    step = _number(step_text, name, 1, high) if step_text else 1
    if body == "*":
        start, end = low, high
    elif "-" in body:
        first, _, last = body.partition("-")
        start, end = _value(first, name, low, high), _value(last, name, low, high)
    else:
        start = _value(body, name, low, high)
        end = high if step_text else start
    if end < start:
        raise Untranslatable(f"{name}: range {part!r} runs backwards")
    return list(range(start, end + 1, step))


def _value(text: str, name: str, low: int, high: int) -> int:
    names = _MONTHS if name == "month" else _DAYS if name == "weekday" else ()
    if text[:3] in names and text.isalpha():
        return names.index(text[:3]) + (1 if name == "month" else 0)
    return _number(text, name, low, high)


def _number(text: str, name: str, low: int, high: int) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise Untranslatable(f"{name}: {text!r} is not a number from {low} to {high}")
    return int(text)


def _listed(values: range | list[int], name: str) -> str:
    if name == "weekday":
        return ",".join(dict.fromkeys(_SYSTEMD_DAYS[value % 7] for value in values))
    return ",".join(f"{value:02d}" for value in values)
