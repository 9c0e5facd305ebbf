"""Built-in log rotation, in the style of pm2-logrotate, on by default.

Every `workerInterval` seconds the daemon checks each app log file (out, err, combined) and
its own pm.log: a file of `max_size` or more is rotated, and at each `rotateInterval` (cron,
default daily at midnight) every non-empty file is. A rotated file is named as pm2-logrotate
names it, `<file without .log>__<dateFormat>.log[.gz]`, and only the newest `retain` are kept.

How a file is rotated depends on who writes it:

* pipe mode (the daemon writes): rename, then reopen. Reads and writes happen on the daemon's
  loop, so nothing is written in between: no line can be lost.
* direct mode (the child writes its O_APPEND file, which the daemon cannot reopen): copy the
  first K block-aligned bytes, then cut exactly those off the front with
  fallocate(FALLOC_FL_COLLAPSE_RANGE); the kernel serialises the cut with the child's appends,
  so nothing is lost (the line straddling byte K is split between the two files). Where the
  filesystem cannot collapse, or with `logrotate:lossless false`, copy then truncate
  (pm2-logrotate's copytruncate): bytes appended between the last copy pass and the truncate
  are lost. The measured figures are in the README.
* pm.log: only the daemon's own loop writes it, so copy-then-truncate loses nothing.

Settings come from `pm set logrotate:<key> <value>` (PM_HOME/module_conf.json, checked and
parsed by pm/config/logrotate.py), re-read at every check, so a change needs no restart.
`logrotate:enabled false` turns rotation off.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pm.config import cron, logrotate, settings
from pm.config.dateformat import format_date
from pm.config.logrotate import RotateConfig
from pm.daemon.output import logtargets
from pm.errors import ConfigError, PMError
from pm.paths import Home

log = logging.getLogger("pm")


def load_section(home: Home) -> dict[str, Any]:
    """The stored `logrotate:` settings, read again at every check (no restart needed)."""
    return logrotate.section(settings.load(home), home.config)


# ------------------------------------------------------------ rotating one file


def rotated_path(path: str, date_format: str, when: float) -> Path:
    """`/x/api-out.log` -> `/x/api-out__2026-11-23_00-00-00.log` (`_N` if taken: it sorts after)."""
    source = Path(path)
    stem = source.name[:-4] if source.name.endswith(".log") else source.name
    date = format_date(date_format, when)
    taken = [p.name for p in source.parent.glob(f"{stem}__{date}*")]
    if not taken:
        return source.with_name(f"{stem}__{date}.log")
    # Never reuse a name pruning freed: the newest copy must sort after the older ones.
    numbers = [
        int(m.group(1))
        for name in taken
        if (m := re.match(re.escape(f"{stem}__{date}_") + r"(\d+)\.log", name))
    ]
    return source.with_name(f"{stem}__{date}_{max(numbers, default=0) + 1}.log")


def copy_truncate(path: str, destination: Path) -> int:
    """Copy path to destination, then truncate path; returns the bytes copied.

    Copies in passes until a pass finds nothing new, so the truncate follows the last read
    as closely as possible.
    """
    copied = 0
    with open(path, "rb") as source, open(destination, "wb") as target:
        while True:
            chunk = source.read(1 << 20)
            if not chunk:
                os.truncate(path, 0)
                break
            target.write(chunk)
            copied += len(chunk)
    return copied


FALLOC_FL_COLLAPSE_RANGE = 0x08
_libc: Any = None


def _fallocate_collapse(fd: int, length: int) -> bool:
    """Remove the first `length` bytes of fd's file in place (ext4, xfs); False if unsupported."""
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    return bool(_libc.fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, length) == 0)


def collapse_rotate(path: str, destination: Path) -> int | None:
    """Rotate a file another process appends to, without losing a byte; None if unsupported.

    Copies the first K bytes (K block-aligned, short of the end) and then cuts exactly those
    bytes off the front with fallocate(FALLOC_FL_COLLAPSE_RANGE). The app's O_APPEND writes are
    serialised with the cut by the kernel, so nothing written meanwhile is lost. The price: the
    one line that straddles byte K ends the rotated file and its rest starts the live file.
    Returns 0 (nothing done) while the file is not yet over one block.
    """
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        stat = os.fstat(fd)
        block = stat.st_blksize or 4096
        length = (stat.st_size // block) * block
        if length >= stat.st_size:
            length -= block  # the range may not reach the end of the file
        if length <= 0:
            return 0
        with open(destination, "wb") as target:
            copied = 0
            while copied < length:
                sent = os.copy_file_range(fd, target.fileno(), length - copied, copied)
                if sent == 0:
                    raise OSError(f"{path} shrank while it was being rotated")
                copied += sent
        if not _fallocate_collapse(fd, length):
            destination.unlink()
            return None
        return length
    finally:
        os.close(fd)


def compress(path: Path) -> Path:
    import gzip  # only when compress is on: kept out of the daemon's memory otherwise
    import shutil

    packed = path.with_name(path.name + ".gz")
    with open(path, "rb") as source, gzip.open(packed, "wb", compresslevel=6) as target:
        shutil.copyfileobj(source, target, 1 << 20)
    path.unlink()
    return packed


def prune(path: str, retain: int | None) -> list[Path]:
    """Delete the oldest rotated copies of path beyond `retain`."""
    if retain is None:
        return []
    source = Path(path)
    stem = source.name[:-4] if source.name.endswith(".log") else source.name
    rotated = [p for p in source.parent.glob(f"{stem}__*") if p.name.endswith((".log", ".log.gz"))]
    rotated.sort(key=lambda p: (p.stat().st_mtime, p.name))
    doomed = rotated[:-retain] if len(rotated) > retain else []
    for old in doomed:
        old.unlink(missing_ok=True)
    return doomed


async def rotate(path: str, config: RotateConfig, when: float | None = None) -> Path | None:
    """Rotate one file now (pipe mode: rename+reopen; otherwise copytruncate)."""
    try:
        if os.path.getsize(path) == 0:
            return None
    except FileNotFoundError:
        return None
    stamp = time.time() if when is None else when
    destination = rotated_path(path, config.date_format, stamp)
    if not logtargets.rotate_by_rename(path, str(destination)):
        collapsed = collapse_rotate(path, destination) if config.lossless else None
        if collapsed == 0:
            return None  # under one block: rotate at a later check rather than lose lines
        if collapsed is None:
            copy_truncate(path, destination)
    if config.compress:
        destination = await asyncio.to_thread(compress, destination)
    prune(path, config.retain)
    return destination


# ------------------------------------------------------------ the daemon's worker


def watched_files(
    apps: Iterable[Any], home: Home, section: dict[str, Any]
) -> list[tuple[str, RotateConfig]]:
    """Every log file of every app with its settings, plus pm.log; no /dev/null, no repeats."""
    files: dict[str, RotateConfig] = {}
    for app in apps:
        config = logrotate.app_config(section, app, logrotate.has_five_fields)
        for path in (app.paths.out, app.paths.err, app.paths.combined):
            if path and path != "/dev/null" and path not in files:
                files[path] = config
    # only the daemon's loop writes pm.log, so copy-then-truncate is exact there at any size
    files[str(home.daemon_log)] = dataclasses.replace(
        logrotate.parse(section, logrotate.has_five_fields), lossless=False
    )
    return list(files.items())


async def check_once(
    apps: Iterable[Any],
    home: Home,
    section: dict[str, Any],
    forced: bool,
    since: float | None = None,
    now: float | None = None,
    schedule: Schedule | None = None,
) -> list[Path]:
    """Rotate what is due: over max_size, forced, or (given since/now) at its rotateInterval."""
    done = []
    schedule = schedule or Schedule()
    for path, config in watched_files(apps, home, section):
        if not config.enabled:
            continue
        try:
            size = os.path.getsize(path)
        except OSError:
            continue
        due = forced or size >= config.max_size
        pattern = config.rotate_interval
        if not due and since is not None and now is not None and pattern is not None:
            due = await schedule.due(pattern, since, now)
        if size and due:
            try:
                rotated = await rotate(path, config)
            except OSError as exc:
                log.error("cannot rotate %s: %s", path, exc)
                continue
            if rotated:
                done.append(rotated)
    return done


class Schedule:
    """rotateInterval answers for the rotation loop, from a `cron.Timetable` (croniter stays out
    of the daemon); a pattern croniter refuses is logged once and is never due."""

    def __init__(self) -> None:
        self.timetable = cron.Timetable()
        self.refused: set[str] = set()

    async def due(self, pattern: str, since: float, now: float) -> bool:
        try:
            return await self.timetable.due(pattern, since, now)
        except ConfigError:
            if pattern not in self.refused:
                self.refused.add(pattern)
                log.error(
                    "logrotate:rotateInterval: invalid cron pattern %r; no rotation on a "
                    "schedule with it (size still counts)",
                    pattern,
                )
            return False


async def worker(supervisor: Any, home: Home) -> None:
    """The daemon's rotation loop; bad settings are reported once and the defaults used."""
    last = time.time()
    reported = ""
    schedule = Schedule()
    while True:
        try:
            section = load_section(home)
            config = logrotate.parse(section, logrotate.has_five_fields)
            reported = ""
        except PMError as exc:
            if exc.message != reported:
                log.error("log rotation settings: %s (using defaults)", exc.message)
                reported = exc.message
            section, config = {}, logrotate.parse({})
        await asyncio.sleep(config.worker_interval)
        now = time.time()
        try:
            await check_once(
                list(supervisor.apps.values()), home, section, False, last, now, schedule
            )
        except PMError as exc:
            log.error("log rotation: %s", exc.message)
        except Exception:
            log.exception("log rotation failed")
        last = now


def start(supervisor: Any, home: Home) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(worker(supervisor, home), name="logrotate")
