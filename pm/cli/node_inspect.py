"""JSON data printed as Node's `util.inspect(value, false, null, false)` prints it, which is what
`pm2 prettylist` prints and what scripts written for PM2 grep (`restart_time: 1`, `name: 'api'`).

Node's rules, as its documentation and its output show them (tests/test_node_inspect.py checks
this module against a real `node` where one is installed):
* keys that are identifiers are bare, others are quoted; strings take single quotes, or double
  quotes when they hold a single quote, or backticks when they hold both;
* an object or array goes on one line, `{ a: 1, b: 'x' }`, when it holds at most two levels of
  nesting and the line fits in 80 columns; otherwise one entry per line, indented by two;
* an array of more than six short entries is laid out in aligned columns;
* a long string with line breaks is cut after each break and joined with ` +`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

BREAK_LENGTH = 80
COMPACT = 3  # Node's default: the innermost three levels may share one line
MAX_ARRAY_LENGTH = 100  # entries shown, then "... N more items"
MAX_STRING_LENGTH = 10_000  # characters shown, then "... N more characters"
_IDENTIFIER = re.compile(r"^[a-zA-Z_][a-zA-Z_0-9]*$")
_ESCAPES = {
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\b": "\\b",
    "\f": "\\f",
    "\v": "\\x0B",
    "\\": "\\\\",
}


def inspect(value: Any) -> str:
    """value (JSON types) as `util.inspect(value, false, null, false)` would print it."""
    return _Formatter().format(value, depth=0, indentation=0)


class _Formatter:
    def __init__(self) -> None:
        # The depth of the object formatted last, as Node tracks it: an object may go on one
        # line only if nothing more than COMPACT - 1 levels deeper was formatted inside it.
        self.current_depth = 0

    def format(self, value: Any, depth: int, indentation: int) -> str:
        if isinstance(value, dict):
            return self._container(value, depth, indentation, "{", "}")
        if isinstance(value, list):
            return self._container(value, depth, indentation, "[", "]")
        return _primitive(value, indentation)

    def _container(
        self,
        value: dict[str, Any] | list[Any],
        depth: int,
        indentation: int,
        opening: str,
        closing: str,
    ) -> str:
        if not value:
            return opening + closing
        self.current_depth = depth
        if isinstance(value, dict):
            entries = [
                f"{_key(key)}: {self.format(item, depth + 1, indentation + 2)}"
                for key, item in value.items()
            ]
        else:
            entries = [
                self.format(item, depth + 1, indentation + 2) for item in value[:MAX_ARRAY_LENGTH]
            ]
            if len(value) > MAX_ARRAY_LENGTH:
                hidden = len(value) - MAX_ARRAY_LENGTH
                entries.append(f"... {hidden} more item{'s' if hidden > 1 else ''}")
        grouped = entries
        if isinstance(value, list) and len(entries) > 6:
            if len(value) > MAX_ARRAY_LENGTH:  # the "... more items" line stays on its own
                shown = entries[:-1]
                columns = _group_columns(shown, value, indentation)
                grouped = entries if columns is shown else [*columns, entries[-1]]
            else:
                grouped = _group_columns(entries, value, indentation)
        if self.current_depth - depth < COMPACT and grouped is entries:
            start = len(entries) + indentation + len(opening) + 10
            if _fits(entries, start) and not any("\n" in entry for entry in entries):
                return f"{opening} {', '.join(entries)} {closing}"
        newline = "\n" + " " * indentation
        return f"{opening}{newline}  " + f",{newline}  ".join(grouped) + f"{newline}{closing}"


def _fits(entries: list[str], start: int) -> bool:
    first = len(entries) + start
    return first + len(entries) <= BREAK_LENGTH and first + sum(map(len, entries)) <= BREAK_LENGTH


def _group_columns(entries: list[str], values: list[Any], indentation: int) -> list[str]:
    """Node's layout of a long array of short entries in aligned columns (or entries as they
    are when that would not help)."""
    separator = 2  # ", "
    lengths = [len(entry) for entry in entries]
    total = sum(length + separator for length in lengths)
    widest = max(lengths) + separator
    if not (widest * 3 + indentation < BREAK_LENGTH and (total / widest > 5 or max(lengths) <= 6)):
        return entries
    bias = math.sqrt(widest - total / len(entries))
    biased = max(widest - 3 - bias, 1)
    columns = min(
        round(math.sqrt(2.5 * biased * len(entries)) / biased),
        (BREAK_LENGTH - indentation) // widest,
        COMPACT * 4,
        15,
    )
    if columns <= 1:
        return entries
    widths = [
        max(lengths[j] for j in range(i, len(entries), columns)) + separator for i in range(columns)
    ]
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    rows = []
    for first in range(0, len(entries), columns):
        last = min(first + columns, len(entries)) - 1
        cells = []
        for j in range(first, last):
            cell = f"{entries[j]}, "
            cells.append(
                cell.rjust(widths[j - first]) if numbers else cell.ljust(widths[j - first])
            )
        tail = entries[last]
        cells.append(tail.rjust(widths[last - first] - separator) if numbers else tail)
        rows.append("".join(cells))
    return rows


def _key(key: str) -> str:
    return key if _IDENTIFIER.match(key) else _quote(key)


def _primitive(value: Any, indentation: int) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    text = str(value)
    trailer = ""
    if len(text) > MAX_STRING_LENGTH:
        hidden = len(text) - MAX_STRING_LENGTH
        text = text[:MAX_STRING_LENGTH]
        trailer = f"... {hidden} more character{'s' if hidden > 1 else ''}"
    if len(text) > 16 and len(text) > BREAK_LENGTH - indentation - 4 and "\n" in text[:-1]:
        pieces = re.findall(r"[^\n]*\n|[^\n]+$", text)
        joined = (" +\n" + " " * (indentation + 2)).join(_quote(piece) for piece in pieces)
        return joined + trailer
    return _quote(text) + trailer


def _number(value: float) -> str:
    """A float as JavaScript's Number#toString writes it."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = json.dumps(value)  # shortest round-trip digits, as JavaScript picks them
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        return text
    power = int(exponent)
    if -7 < power < 21:  # JavaScript writes these without an exponent
        return format(value, "f").rstrip("0").rstrip(".") if power < 0 else str(value)
    return f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


def _quote(text: str) -> str:
    quote = "'"
    if "'" in text:
        if '"' not in text:
            quote = '"'
        elif "`" not in text and "${" not in text:
            quote = "`"
    out = []
    for char in text:
        if char == quote:
            out.append("\\" + char)
        elif char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02X}")
        else:
            out.append(char)
    return quote + "".join(out) + quote
