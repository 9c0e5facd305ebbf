"""Reading and following log files for `pm logs` (client side; the daemon is not in the path).

`Follower` tails one file by polling: it reads new bytes in chunks, hands out whole lines, and
keeps following when the file is truncated (`pm flush`, copytruncate rotation) or replaced
(rename rotation: it finishes the old file, then opens the new one from its start), and when
pm's lossless rotation cuts whole blocks off the front of a file it finds its place again
instead of showing the file twice.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

READ_SIZE = 1 << 20
#: Bytes remembered before the read position, to recognise a file whose front was cut off.
SIGNATURE = 64


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


def sources_for(entries: list[dict[str, Any]], target: str | None, streams: tuple[str, ...]
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
    """Follow one file from an offset, across truncation and rotation."""

    def __init__(self, path: str, from_end: bool = True) -> None:
        self.path = path
        self.handle: Any = None
        self.inode: tuple[int, int] | None = None
        self.tail = b""
        self.recent = b""  # the last bytes read, to find our place after a collapse
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

    def _read_all(self) -> bytes:
        chunks = []
        while True:
            chunk = self.handle.read(READ_SIZE)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def poll(self) -> list[bytes]:
        """Whole lines written since the last poll."""
        if self.handle is None:
            self._open(from_end=False)
            if self.handle is None:
                return []
        data = self._read_all()
        try:
            stat = os.stat(self.path)
            current = (stat.st_dev, stat.st_ino)
        except OSError:
            current = None
        if current is not None and current != self.inode:
            self.close()  # renamed away: finish the old file (done above), start the new one
            self._open(from_end=False)
            if self.handle is not None:
                data += self._read_all()
        elif current is not None and stat.st_size < self.handle.tell():
            self.handle.seek(self._after_collapse(stat.st_size, stat.st_blksize or 4096))
            data += self._read_all()  # from 0 when truncated (flush or copytruncate)
        if data:
            self.recent = (self.recent + data)[-SIGNATURE:]
        data = self.tail + data
        cut = data.rfind(b"\n") + 1
        self.tail = data[cut:]
        return data[:cut].split(b"\n")[:-1] if cut else []

    def _after_collapse(self, size: int, block: int) -> int:
        """Where our old position is now if whole blocks were cut off the front; else 0."""
        position, sign = self.handle.tell(), self.recent
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
        if self.handle is not None:
            self.handle.close()
            self.handle = None
