"""CPU and memory of each app's process tree, sampled on demand and cached briefly.

One /proc walk builds the parent map for all apps at once, so a `jlist` over 1,000 apps costs one
pass rather than one per app. Results are cached for `MAX_AGE` seconds so dashboards polling fast
do not make the daemon busy.
"""

from __future__ import annotations

import time
from typing import Any

MAX_AGE = 1.0


class Sampler:
    def __init__(self) -> None:
        self._procs: dict[int, Any] = {}  # pid -> psutil.Process, kept for cpu_percent deltas
        self._cache: dict[int, tuple[float, int]] = {}
        self._taken = 0.0

    def sample(self, root_pids: list[int]) -> dict[int, tuple[float, int]]:
        """{root pid: (cpu percent of the tree, RSS bytes of the tree)} for live roots."""
        now = time.monotonic()
        if now - self._taken < MAX_AGE and all(pid in self._cache for pid in root_pids):
            return {pid: self._cache[pid] for pid in root_pids}
        import psutil

        children = _children_map(psutil) if root_pids else {}
        result: dict[int, tuple[float, int]] = {}
        seen: set[int] = set()
        for root in root_pids:
            cpu, rss = 0.0, 0
            for pid in _tree(root, children):
                seen.add(pid)
                proc = self._process(psutil, pid)
                if proc is None:
                    continue
                try:
                    with proc.oneshot():
                        cpu += proc.cpu_percent(None)
                        rss += proc.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    self._procs.pop(pid, None)
            result[root] = (round(cpu, 1), rss)
        for pid in set(self._procs) - seen:
            del self._procs[pid]
        self._cache, self._taken = result, now
        return result

    def _process(self, psutil: Any, pid: int) -> Any:
        proc = self._procs.get(pid)
        if proc is None:
            try:
                proc = psutil.Process(pid)
                proc.cpu_percent(None)  # prime the delta; the first reading is always 0
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                return None  # also when it exits between the two calls (a race, not an error)
            self._procs[pid] = proc
        return proc


def _children_map(psutil: Any) -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["ppid"]):
        ppid = proc.info.get("ppid")
        if ppid:
            children.setdefault(ppid, []).append(proc.pid)
    return children


def _tree(root: int, children: dict[int, list[int]]) -> list[int]:
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack.extend(children.get(pid, ()))
    return pids
