"""What a whole-lines stream does to its lines before they are written (logpipe.py).

Each transform takes a run of whole lines (ending with a newline) and returns the bytes to
write: as they are, prefixed with a date (`log_date_format`, `time`), or one JSON object per
line (`log_type: json`).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from pm.config.dateformat import CachedFormatter

Transform = Callable[[bytes], bytes]


def identity(lines: bytes) -> bytes:
    return lines


def date_prefix(fmt: str) -> Transform:
    """PM2's `log_date_format`: every line starts with `<date>: `."""
    stamp = CachedFormatter(fmt)

    def transform(lines: bytes) -> bytes:
        prefix = stamp().encode() + b": "
        return prefix + lines[:-1].replace(b"\n", b"\n" + prefix) + b"\n"

    return transform


def json_lines(kind: str, pm_id: int, name: str, fmt: str | None) -> Transform:
    """PM2's `log_type: json`: one object per line with message, timestamp, type, id, name."""
    stamp = CachedFormatter(fmt or "YYYY-MM-DDTHH:mm:ssZ")

    def transform(lines: bytes) -> bytes:
        timestamp = stamp()
        out = []
        for line in lines[:-1].split(b"\n"):
            record = {
                "message": line.decode(errors="replace") + "\n",
                "timestamp": timestamp,
                "type": kind,
                "process_id": pm_id,
                "app_name": name,
            }
            out.append(json.dumps(record, ensure_ascii=False))
        out.append("")
        return "\n".join(out).encode()

    return transform
