"""CPU and memory of each app's process tree, read straight from /proc, on demand only.

Nothing here runs on a timer: `Sampler.sample` is called when a client asks (`list`, `jlist`,
`describe`, `monit`), and the memory guard (pm.daemon.automation.restarts) reads only the apps
that have a `max_memory_restart`. So 1,000 idle apps without limits cost the daemon nothing
between requests.

A tree is found through `/proc/<pid>/task/<tid>/children` (the kernel's own list of a task's
children), so measuring one app reads a handful of small files for that app only, instead of
walking every process on the machine. Where the kernel lacks that file we fall back to one
ppid scan of /proc per sample. CPU % is the tree's tick delta between two samples.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

#: A sample younger than this is reused: dashboards polling fast do not make the daemon busy.
MAX_AGE = 1.0

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_HAS_CHILDREN_FILE = os.path.exists(f"/proc/self/task/{os.getpid()}/children")

Metrics = tuple[float, int]  # (cpu percent of the tree, RSS bytes of the tree)


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:  # the process ended between listing and reading: not an error
        return None


def children(pid: int) -> list[int]:
    """Direct children of pid, from every one of its threads."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for tid in tids:
        data = _read(f"/proc/{pid}/task/{tid}/children")
        if data:
            found.extend(int(part) for part in data.split())
    return found


def _ppid_map() -> dict[int, list[int]]:
    """parent -> children for every process: the fallback when /proc lacks `children` files."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _read(f"/proc/{entry}/stat")
        if stat:
            fields = stat[stat.rfind(b")") + 2 :].split()
            kids.setdefault(int(fields[1]), []).append(int(entry))
    return kids


def tree(root: int, kids: dict[int, list[int]] | None = None) -> list[int]:
    """root and all its descendants."""
    pids, stack, seen = [], [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:  # a pid reused mid-walk must not make us loop
            continue
        seen.add(pid)
        pids.append(pid)
        stack.extend(kids.get(pid, ()) if kids is not None else children(pid))
    return pids


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (0 if it is gone)."""
    data = _read(f"/proc/{pid}/statm")
    if not data:
        return 0
    parts = data.split()
    return int(parts[1]) * PAGE_SIZE if len(parts) > 1 else 0


def cpu_ticks(pid: int) -> int:
    """utime + stime of one process in clock ticks (0 if it is gone)."""
    data = _read(f"/proc/{pid}/stat")
    if not data:
        return 0
    fields = data[data.rfind(b")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def tree_rss(root: int) -> int:
    """RSS summed over root's whole tree: what `max_memory_restart` is compared with."""
    kids = None if _HAS_CHILDREN_FILE else _ppid_map()
    return sum(rss_bytes(pid) for pid in tree(root, kids))


class Sampler:
    """Tree metrics for the apps a client asks about, cached for `MAX_AGE` seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ticks: dict[int, tuple[float, int]] = {}  # root pid -> (when, tree ticks)
        self._cache: dict[int, Metrics] = {}
        self._taken = -MAX_AGE

    def sample(self, root_pids: list[int]) -> dict[int, Metrics]:
        """{root pid: (cpu percent of the tree, RSS bytes of the tree)} for live roots."""
        now = self._clock()
        if now - self._taken < MAX_AGE and all(pid in self._cache for pid in root_pids):
            return {pid: self._cache[pid] for pid in root_pids}
        kids = None if _HAS_CHILDREN_FILE else _ppid_map()
        result: dict[int, Metrics] = {}
        for root in root_pids:
            pids = tree(root, kids)
            ticks = sum(cpu_ticks(pid) for pid in pids)
            rss = sum(rss_bytes(pid) for pid in pids)
            result[root] = (self._cpu_percent(root, now, ticks), rss)
        # Forget roots that have exited, so history does not pile up over restarts.
        for pid in [pid for pid in self._ticks if pid not in result]:
            if not os.path.exists(f"/proc/{pid}"):
                del self._ticks[pid]
        self._cache, self._taken = result, now
        return result

    def _cpu_percent(self, root: int, now: float, ticks: int) -> float:
        """Tree CPU % since the previous sample of this root (0 on the first one)."""
        previous = self._ticks.get(root)
        self._ticks[root] = (now, ticks)
        if previous is None or now <= previous[0] or ticks < previous[1]:
            return 0.0
        seconds = (ticks - previous[1]) / CLOCK_TICKS
        return round(100.0 * seconds / (now - previous[0]), 1)
