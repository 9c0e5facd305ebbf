"""Reading and following log files for `pm logs` (client side; the daemon is not in the path).

`Follower` tails one file by polling: it reads new bytes in chunks, hands out whole lines, and
keeps following when the file is replaced (rename rotation, `pm flush`: it finishes the old
file, then opens the new one from its start) or truncated (copytruncate, `> file`), and when
pm's lossless rotation cuts whole blocks off the front of a file it finds its place again
instead of showing the file twice.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import Any

READ_SIZE = 1 << 20
#: Bytes remembered before the read position, to recognise a file whose front was cut off.
SIGNATURE = 64
#: How long a replaced file is still read when the new one stays empty.
RETIRE_SECONDS = 5.0


@dataclass(frozen=True)
class Source:
    """One file to show: whose it is and which stream (`out`, `err`, or `pm` for pm.log)."""

    path: str
    kind: str
    pm_id: int | None
    name: str

    @property
    def label(self) -> str:
        return "PM" if self.pm_id is None else f"{self.pm_id}|{self.name}"


def matches(entry: dict[str, Any], target: str | None) -> bool:
    """PM2's selectors: none/'all', an id, a name, a namespace, or /regex/ on the name."""
    if target is None or target == "all":
        return True
    if len(target) > 1 and target.startswith("/") and target.endswith("/"):
        return re.search(target[1:-1], str(entry.get("name", ""))) is not None
    if target.isdigit() and entry.get("pm_id") == int(target):
        return True
    env = entry.get("pm2_env") or {}
    return target in (entry.get("name"), env.get("namespace"))


def sources_for(
    entries: list[dict[str, Any]], target: str | None, streams: tuple[str, ...]
) -> list[Source]:
    found: list[Source] = []
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        if not matches(entry, target):
            continue
        env = entry.get("pm2_env") or {}
        for kind, key in (("out", "pm_out_log_path"), ("err", "pm_err_log_path")):
            path = env.get(key)
            if kind in streams and path and path != "/dev/null" and (path, kind) not in seen:
                seen.add((path, kind))
                found.append(Source(path, kind, entry.get("pm_id"), str(entry.get("name"))))
    return found


def tail_lines(path: str, count: int) -> list[bytes]:
    """The last `count` lines of a file, read backwards in blocks (big files stay cheap)."""
    if count <= 0:
        return []
    try:
        handle = open(path, "rb")
    except OSError:
        return []
    with handle:
        end = handle.seek(0, os.SEEK_END)
        data = b""
        position = end
        while position > 0 and data.count(b"\n") <= count:
            step = min(65536, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines[-count:]


class Follower:
    """Follow one file from an offset, across truncation and rotation.

    When the path names a new file (rename rotation, `pm flush`), the old one stays open as
    `retired` until its writer is certainly done with it: the daemon renames a file and only
    then reopens the path, so a last write can reach the old file just after the new one
    appears. Each poll therefore reads the newest file first and the older ones after it, and
    hands out the older bytes first: bytes found in a newer file were written after the writer
    left the older one, so the older one read after them is complete. A retired file is closed
    once a newer file has shown bytes, or after RETIRE_SECONDS.
    """

    def __init__(self, path: str, from_end: bool = True) -> None:
        self.path = path
        self.handle: Any = None
        self.inode: tuple[int, int] | None = None
        self.tail = b""
        self.recent = b""  # the last bytes read, to find our place after a collapse
        self.retired: list[tuple[Any, float]] = []  # older files still read, oldest first
        self._open(from_end)

    def _open(self, from_end: bool) -> None:
        try:
            self.handle = open(self.path, "rb")
        except OSError:
            self.handle = None
            self.inode = None
            return
        stat = os.fstat(self.handle.fileno())
        self.inode = (stat.st_dev, stat.st_ino)
        if from_end:
            end = self.handle.seek(0, os.SEEK_END)
            self.handle.seek(max(0, end - SIGNATURE))
            self.recent = self.handle.read(end - self.handle.tell())

    @staticmethod
    def _read_all(handle: Any) -> bytes:
        chunks: list[bytes] = []
        while True:
            chunk = handle.read(READ_SIZE)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def poll(self) -> list[bytes]:
        """Whole lines written since the last poll."""
        try:
            stat: os.stat_result | None = os.stat(self.path)
        except OSError:
            stat = None
        if stat is not None and (stat.st_dev, stat.st_ino) != self.inode:
            if self.handle is not None:  # replaced: keep reading the old file until it is done
                self.retired.append((self.handle, time.monotonic() + RETIRE_SECONDS))
            self._open(from_end=False)
        newest = b""
        if self.handle is not None:
            if stat is not None and stat.st_size < self.handle.tell():
                # truncated in place (copytruncate, `> file`) or cut at the front (collapse)
                self.handle.seek(self._after_collapse(stat.st_size, stat.st_blksize or 4096))
            newest = self._read_all(self.handle)
        newer_written = self.handle is not None and self.handle.tell() > 0
        data = self._drain_retired(newer_written) + newest if self.retired else newest
        if data:
            self.recent = (self.recent + data)[-SIGNATURE:]
        data = self.tail + data
        cut = data.rfind(b"\n") + 1
        self.tail = data[cut:]
        return data[:cut].split(b"\n")[:-1] if cut else []

    def _drain_retired(self, newer_written: bool) -> bytes:
        """The rest of every retired file, newest first read, oldest first returned; a file is
        closed once a newer one holds bytes (then it gets no more) or its time is up."""
        parts: list[bytes] = []
        now = time.monotonic()
        kept: list[tuple[Any, float]] = []
        for handle, until in reversed(self.retired):
            parts.append(self._read_all(handle))
            written = handle.tell() > 0
            if newer_written or now >= until:
                handle.close()
            else:
                kept.append((handle, until))
            newer_written = newer_written or written
        self.retired = kept[::-1]
        return b"".join(reversed(parts))

    def _after_collapse(self, size: int, block: int) -> int:
        """Where our old position is now if whole blocks were cut off the front; else 0."""
        position: int = self.handle.tell()
        sign = self.recent
        if len(sign) < SIGNATURE:
            return 0
        cut = max(block, ((position - size) // block) * block)
        while cut <= position:
            new_position = position - cut
            if new_position >= len(sign) and new_position <= size:
                self.handle.seek(new_position - len(sign))
                if self.handle.read(len(sign)) == sign:
                    return new_position
            cut += block
        return 0

    def close(self) -> None:
        for handle, _ in self.retired:
            handle.close()
        self.retired = []
        if self.handle is not None:
            self.handle.close()
            self.handle = None
