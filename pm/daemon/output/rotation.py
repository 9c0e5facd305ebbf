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

Settings come from `pm set logrotate:<key> <value>` (PM_HOME/module_conf.json), re-read at
every check, so a change needs no restart. `logrotate:enabled false` turns rotation off.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pm.daemon.output import logpipe
from pm.config import cron, settings
from pm.config.dateformat import format_date
from pm.errors import ConfigError, PMError
from pm.paths import Home
from pm.config.spec import parse_size

log = logging.getLogger("pm")

#: pm2-logrotate's defaults (its README), as strings the way `pm set` stores values.
DEFAULTS: dict[str, str] = {
    "max_size": "10M",
    "retain": "30",
    "compress": "false",
    "dateFormat": "YYYY-MM-DD_HH-mm-ss",
    "workerInterval": "30",
    "rotateInterval": "0 0 * * *",
    "enabled": "true",
    "lossless": "true",
}

#: Keys an app may set for itself in the ecosystem (`logrotate: {...}`); the check interval
#: is the daemon's, so it stays global.
APP_KEYS = ("max_size", "retain", "compress", "dateFormat", "rotateInterval", "enabled",
            "lossless")

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class RotateConfig:
    max_size: int
    retain: int | None  # None = keep all
    compress: bool
    date_format: str
    worker_interval: float
    rotate_interval: str | None
    enabled: bool
    lossless: bool


def _bool(key: str, value: str) -> bool:
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"logrotate:{key}: expected true or false, got {value!r}")


def _parse(raw: dict[str, Any]) -> RotateConfig:
    values = {**DEFAULTS, **{k: str(v) for k, v in raw.items()}}
    retain_text = values["retain"].strip().lower()
    if retain_text == "all":
        retain = None
    elif retain_text.isdigit() and int(retain_text) >= 1:
        retain = int(retain_text)
    else:
        raise ConfigError("logrotate:retain: expected a count >= 1 or 'all', "
                          f"got {values['retain']!r}")
    try:
        interval = float(values["workerInterval"])
    except ValueError:
        interval = 0
    if interval < 1:
        raise ConfigError(f"logrotate:workerInterval: expected seconds >= 1, "
                          f"got {values['workerInterval']!r}")
    max_size = parse_size(values["max_size"], "logrotate:max_size")
    if max_size <= 0:
        raise ConfigError(f"logrotate:max_size: expected a size > 0, got {values['max_size']!r}")
    pattern = values["rotateInterval"].strip()
    if pattern and pattern.lower() not in ("none", "false", "off"):
        _check_interval(pattern)
    else:
        pattern = ""
    return RotateConfig(max_size, retain, _bool("compress", values["compress"]),
                        values["dateFormat"], interval, pattern or None,
                        _bool("enabled", values["enabled"]),
                        _bool("lossless", values["lossless"]))


@functools.lru_cache(maxsize=64)
def _check_interval(pattern: str) -> None:
    """Refuse a rotateInterval that is not a five-field cron pattern, pm2-logrotate's form.

    Cached: every app's settings are parsed at every check, and croniter takes ~30 us a look.
    """
    if len(pattern.split()) != 5:
        raise ConfigError(f"logrotate:rotateInterval: expected 5 cron fields, got {pattern!r}")
    try:
        cron.check(pattern)
    except ConfigError:
        raise ConfigError(f"logrotate:rotateInterval: invalid cron pattern {pattern!r}; expected "
                          "minute hour day month weekday, e.g. '0 0 * * *'") from None


def validate_setting(key: str, value: str) -> None:
    """Refuse a bad `pm set logrotate:<key>` before it is stored."""
    if key not in DEFAULTS:
        raise ConfigError(f"unknown setting logrotate:{key}; known: {', '.join(DEFAULTS)}")
    _parse({key: value})


def load_section(home: Home) -> dict[str, Any]:
    section = settings.load(home).get("logrotate") or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{home.config}: 'logrotate' must be an object")
    return section


def load_config(home: Home) -> RotateConfig:
    return _parse(load_section(home))


def app_config(section: dict[str, Any], app: Any) -> RotateConfig:
    """Global settings overridden by the app's own `logrotate` object."""
    own = getattr(app.spec, "logrotate", None) or {}
    return _parse({**section, **own}) if own else _parse(section)


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
    numbers = [int(m.group(1)) for name in taken
               if (m := re.match(re.escape(f"{stem}__{date}_") + r"(\d+)\.log", name))]
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
    rotated = [p for p in source.parent.glob(f"{stem}__*")
               if p.name.endswith((".log", ".log.gz"))]
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
    if not logpipe.rotate_by_rename(path, str(destination)):
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


def watched_files(apps: Iterable[Any], home: Home, section: dict[str, Any]
                  ) -> list[tuple[str, RotateConfig]]:
    """Every log file of every app with its settings, plus pm.log; no /dev/null, no repeats."""
    files: dict[str, RotateConfig] = {}
    for app in apps:
        config = app_config(section, app)
        for path in (app.paths.out, app.paths.err, app.paths.combined):
            if path and path != "/dev/null" and path not in files:
                files[path] = config
    # only the daemon's loop writes pm.log, so copy-then-truncate is exact there at any size
    files[str(home.daemon_log)] = dataclasses.replace(_parse(section), lossless=False)
    return list(files.items())


async def check_once(apps: Iterable[Any], home: Home, section: dict[str, Any], forced: bool,
                     since: float | None = None, now: float | None = None) -> list[Path]:
    """Rotate what is due: over max_size, forced, or (given since/now) at its rotateInterval."""
    done = []
    pattern_due: dict[str, bool] = {}  # one croniter look per pattern, not one per file
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
            if pattern not in pattern_due:
                pattern_due[pattern] = cron.due(pattern, since, now)
            due = pattern_due[pattern]
        if size and due:
            try:
                rotated = await rotate(path, config)
            except OSError as exc:
                log.error("cannot rotate %s: %s", path, exc)
                continue
            if rotated:
                done.append(rotated)
    return done


async def worker(supervisor: Any, home: Home) -> None:
    """The daemon's rotation loop; bad settings are reported once and the defaults used."""
    last = time.time()
    reported = ""
    while True:
        try:
            section = load_section(home)
            config = _parse(section)
            reported = ""
        except PMError as exc:
            if exc.message != reported:
                log.error("log rotation settings: %s (using defaults)", exc.message)
                reported = exc.message
            section, config = {}, _parse({})
        await asyncio.sleep(config.worker_interval)
        now = time.time()
        try:
            await check_once(list(supervisor.apps.values()), home, section, False, last, now)
        except PMError as exc:
            log.error("log rotation: %s", exc.message)
        except Exception:
            log.exception("log rotation failed")
        last = now


def start(supervisor: Any, home: Home) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(worker(supervisor, home), name="logrotate")
