"""File watching for `watch`: which paths count as a change, and one watchdog observer for all apps.

The filter runs in watchdog's thread, so the event loop is woken only by changes that matter.
Never a trigger: the default ignores (dotfiles and dot-folders such as `.git` and `.venv`,
`node_modules`, `__pycache__`, `*.pyc`, virtualenvs, editor backups), the user's `ignore_watch`
globs, and the app's own log and pid files and PM_HOME (PM2 restart-loops on those, PM2.md §5.12).
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("pm")

#: Globs matched against every path component (a folder matching one hides all below it).
DEFAULT_IGNORES = (
    ".*",
    "node_modules",
    "__pycache__",
    "*.pyc",
    "*.pyo",
    "venv",
    "virtualenv",
    "site-packages",
    "*~",
    "*.swp",
    "*.swx",
    "4913",
)
#: A burst of saves within this quiet time is one restart (watch_delay extends it).
SETTLE_S = 0.25
#: ... but a change that never goes quiet still restarts after this long.
MAX_WAIT_S = 2.0

OnChange = Callable[[str], None]


@dataclass(frozen=True)
class WatchConfig:
    """Everything that decides what one app watches; equal configs need no re-subscription."""

    roots: tuple[str, ...]
    ignores: tuple[str, ...]
    own_files: frozenset[str]
    own_dirs: tuple[str, ...]

    def ignored(self, path: str) -> bool:
        """True when a change on path must not restart the app."""
        real = os.path.realpath(path)
        if real in self.own_files or path in self.own_files:
            return True
        if any(real == folder or real.startswith(folder + os.sep) for folder in self.own_dirs):
            return True
        relative = self._relative(real) or self._relative(path)
        if relative is None:
            return True  # outside every root (a move out of the tree): not ours
        parts = Path(relative).parts
        for pattern in self.ignores:
            if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(relative, pattern + "/*"):
                return True
            if "/" not in pattern and any(fnmatch.fnmatch(part, pattern) for part in parts):
                return True
        return self._in_virtualenv(real, len(parts))

    @staticmethod
    def _in_virtualenv(path: str, depth: int) -> bool:
        """A virtualenv under any name is known by its pyvenv.cfg."""
        folder = os.path.dirname(path)
        for _ in range(depth):
            if os.path.exists(os.path.join(folder, "pyvenv.cfg")):
                return True
            folder = os.path.dirname(folder)
        return False

    def _relative(self, path: str) -> str | None:
        for root in self.roots:
            if path == root:
                return "."
            if path.startswith(root.rstrip(os.sep) + os.sep):
                return path[len(root.rstrip(os.sep)) + 1 :]
        return None


def watch_roots(watch: Any, cwd: str) -> tuple[str, ...]:
    """`watch: true` is the app's cwd; a path or a list of paths is taken relative to cwd."""
    if watch is True:
        items: Iterable[Any] = [cwd]
    elif isinstance(watch, str):
        items = [watch]
    elif isinstance(watch, (list, tuple)):
        items = watch
    else:
        return ()
    roots = []
    for item in items:
        path = Path(str(item)).expanduser()
        roots.append(os.path.realpath(path if path.is_absolute() else Path(cwd) / path))
    return tuple(dict.fromkeys(roots))


def _clean_pattern(pattern: str) -> str:
    """`./logs`, `logs/` and `logs` all mean the folder logs under a root."""
    while pattern.startswith("./"):
        pattern = pattern[2:]
    return pattern.rstrip("/") or pattern


def config_for(
    watch: Any,
    ignore_watch: Any,
    cwd: str,
    own_files: Iterable[str | None],
    own_dirs: Iterable[str],
) -> WatchConfig:
    roots = watch_roots(watch, cwd)
    user = [ignore_watch] if isinstance(ignore_watch, str) else list(ignore_watch or [])
    ignores: list[str] = list(DEFAULT_IGNORES)
    for pattern in user:
        pattern = str(pattern)
        path = Path(pattern).expanduser()
        if path.is_absolute():  # an absolute path to ignore: hide it as an own dir/file
            own_dirs = [*own_dirs, os.path.realpath(path)]
            continue
        ignores.append(_clean_pattern(pattern))
    files = frozenset(
        f
        for name in own_files
        if name and name != "/dev/null"
        for f in (name, os.path.realpath(name))
    )
    dirs = tuple(os.path.realpath(folder) for folder in own_dirs)
    return WatchConfig(roots, tuple(ignores), files, dirs)


def _event_classes() -> list[type[Any]]:
    from watchdog import events

    return [
        events.FileCreatedEvent,
        events.FileModifiedEvent,
        events.FileDeletedEvent,
        events.FileMovedEvent,
        events.FileClosedEvent,
        events.DirCreatedEvent,
        events.DirDeletedEvent,
        events.DirMovedEvent,
    ]


class Watcher:
    """One watchdog observer (started lazily) shared by every watching app, keyed by pm_id."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._observer: Any = None
        self._watches: dict[int, tuple[WatchConfig, list[Any]]] = {}
        self._lock = threading.Lock()

    def config(self, key: int) -> WatchConfig | None:
        entry = self._watches.get(key)
        return entry[0] if entry else None

    def watch(self, key: int, config: WatchConfig, on_change: OnChange) -> list[str]:
        """Watch config's roots for key (replacing any earlier watch); return roots that failed."""
        self.unwatch(key)
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        if self._observer is None:
            self._observer = Observer()
            self._observer.daemon = True
            self._observer.start()
        loop = self._loop

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                for path in (event.src_path, getattr(event, "dest_path", "")):
                    path = os.fsdecode(path) if path else ""
                    if path and not config.ignored(path):
                        loop.call_soon_threadsafe(on_change, path)
                        return

        handles, failed = [], []
        for root in config.roots:
            try:
                handles.append(
                    self._observer.schedule(
                        Handler(), root, recursive=True, event_filter=_event_classes()
                    )
                )
            except OSError as exc:
                failed.append(f"{root} ({exc.strerror or exc})")
        self._watches[key] = (config, handles)
        return failed

    def unwatch(self, key: int) -> None:
        entry = self._watches.pop(key, None)
        if entry is None or self._observer is None:
            return
        for handle in entry[1]:
            try:
                self._observer.unschedule(handle)
            except (KeyError, OSError):
                pass

    def close(self) -> None:
        for key in list(self._watches):
            self.unwatch(key)
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
            self._observer = None


class Debounce:
    """Collapse a burst of changes into one call: fire after a quiet `settle`, at most `max_wait`.

    The first path of the burst is kept so the log can name the file that caused the restart.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, settle: float, fire: OnChange) -> None:
        self._loop = loop
        self._settle = settle
        self._max_wait = max(settle, MAX_WAIT_S)
        self._fire = fire
        self._timer: asyncio.TimerHandle | None = None
        self._first_at = 0.0
        self._first_path = ""

    def change(self, path: str) -> None:
        now = self._loop.time()
        if self._timer is None:
            self._first_at, self._first_path = now, path
        else:
            self._timer.cancel()
        due = min(now + self._settle, self._first_at + self._max_wait)
        self._timer = self._loop.call_at(due, self._done)

    def _done(self) -> None:
        self._timer = None
        self._fire(self._first_path)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
