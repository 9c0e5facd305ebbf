"""PM2's date formats (dayjs tokens) turned into strings: `YYYY-MM-DDTHH:mm:ss` and friends.

Used for `log_date_format`/`time` line prefixes, `pm logs --timestamp` and rotated file names.
Text in square brackets is copied literally, as in dayjs (`[at] HH:mm`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

#: `time: true` in PM2 means this format.
TIME_FORMAT = "YYYY-MM-DDTHH:mm:ss"
#: Default of `pm logs --timestamp`.
LOGS_TIMESTAMP_FORMAT = "YYYY-MM-DD-HH:mm:ss"

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

_TOKEN = re.compile(
    r"\[([^\]]*)]|YYYY|YY|MMMM|MMM|MM|M|DD|D|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s|SSS|ZZ|Z|A|a|X|x"
)

Part = Callable[[time.struct_time, float], str]


def _offset(t: time.struct_time, colon: bool) -> str:
    seconds = t.tm_gmtoff or 0
    sign = "+" if seconds >= 0 else "-"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{sign}{hours:02d}{':' if colon else ''}{minutes:02d}"


def _hour12(t: time.struct_time) -> int:
    return t.tm_hour % 12 or 12


_PARTS: dict[str, Part] = {
    "YYYY": lambda t, f: f"{t.tm_year:04d}",
    "YY": lambda t, f: f"{t.tm_year % 100:02d}",
    "MMMM": lambda t, f: _MONTHS[t.tm_mon - 1],
    "MMM": lambda t, f: _MONTHS[t.tm_mon - 1][:3],
    "MM": lambda t, f: f"{t.tm_mon:02d}",
    "M": lambda t, f: str(t.tm_mon),
    "DD": lambda t, f: f"{t.tm_mday:02d}",
    "D": lambda t, f: str(t.tm_mday),
    "dddd": lambda t, f: _DAYS[(t.tm_wday + 1) % 7],
    "ddd": lambda t, f: _DAYS[(t.tm_wday + 1) % 7][:3],
    "dd": lambda t, f: _DAYS[(t.tm_wday + 1) % 7][:2],
    "d": lambda t, f: str((t.tm_wday + 1) % 7),
    "HH": lambda t, f: f"{t.tm_hour:02d}",
    "H": lambda t, f: str(t.tm_hour),
    "hh": lambda t, f: f"{_hour12(t):02d}",
    "h": lambda t, f: str(_hour12(t)),
    "mm": lambda t, f: f"{t.tm_min:02d}",
    "m": lambda t, f: str(t.tm_min),
    "ss": lambda t, f: f"{t.tm_sec:02d}",
    "s": lambda t, f: str(t.tm_sec),
    "SSS": lambda t, f: f"{int(f * 1000) % 1000:03d}",
    "ZZ": lambda t, f: _offset(t, False),
    "Z": lambda t, f: _offset(t, True),
    "A": lambda t, f: "AM" if t.tm_hour < 12 else "PM",
    "a": lambda t, f: "am" if t.tm_hour < 12 else "pm",
    "X": lambda t, f: str(int(f)),
    "x": lambda t, f: str(int(f * 1000)),
}


def format_date(fmt: str, when: float | None = None) -> str:
    """Format the local time `when` (default now) with dayjs tokens."""
    stamp = time.time() if when is None else when
    local = time.localtime(stamp)

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(1)
        return _PARTS[match.group(0)](local, stamp)

    return _TOKEN.sub(replace, fmt)


class CachedFormatter:
    """format_date for a hot path: recompute only when the second changes (no sub-second token)."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self._per_second = not any(token in fmt for token in ("SSS", "x"))
        self._second = -1
        self._text = ""

    def __call__(self, when: float | None = None) -> str:
        stamp = time.time() if when is None else when
        if not self._per_second:
            return format_date(self.fmt, stamp)
        second = int(stamp)
        if second != self._second:
            self._second = second
            self._text = format_date(self.fmt, stamp)
        return self._text
