"""What the dashboard remembers of cpu and memory: a bounded ring per instance and per app.

The web process keeps this, not the daemon (whose memory stays small and which never needs
it). Every `interval_s` the recorder hands the daemon's process list to `History.add_sample`;
each instance (pm_id) gets a point, and each app name gets the sum of its instances at the
same instant. A ring holds `retention_s / interval_s` points in three typed arrays (8 + 4 + 8
bytes a point), so an hour at the default 2 s costs about 36 KB per ring: see
docs/dashboard.md for the figures.

An instance or app that is no longer listed keeps its ring until its newest point is older
than the retention, so a deleted or renamed app's last hour can still be looked at.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from typing import Any

#: How long history is kept by default (the issue asks for at least an hour).
RETENTION_S = 3600.0
#: How often the daemon's figures are sampled by default.
INTERVAL_S = 2.0


class Ring:
    """A fixed-capacity series of (time in ms, cpu percent, memory bytes), oldest overwritten."""

    __slots__ = ("capacity", "cpu", "memory", "start", "times")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.times = array("q")
        self.cpu = array("f")
        self.memory = array("q")
        self.start = 0  # index of the oldest point once the ring is full

    def __len__(self) -> int:
        return len(self.times)

    def append(self, t_ms: int, cpu: float, memory: int) -> None:
        if len(self.times) < self.capacity:
            self.times.append(t_ms)
            self.cpu.append(cpu)
            self.memory.append(memory)
            return
        i = self.start
        self.times[i], self.cpu[i], self.memory[i] = t_ms, cpu, memory
        self.start = (i + 1) % self.capacity

    @property
    def newest(self) -> int:
        """Time of the newest point (0 when empty)."""
        if not self.times:
            return 0
        return self.times[(self.start - 1) % len(self.times)]

    def points(self, since_ms: int = 0) -> tuple[list[int], list[float], list[int]]:
        """The points newer than since_ms, oldest first."""
        order = list(range(self.start, len(self.times))) + list(range(self.start))
        keep = [i for i in order if self.times[i] > since_ms]
        return (
            [self.times[i] for i in keep],
            [round(self.cpu[i], 1) for i in keep],
            [self.memory[i] for i in keep],
        )

    def nbytes(self) -> int:
        return sum(a.buffer_info()[1] * a.itemsize for a in (self.times, self.cpu, self.memory))


def downsample(
    times: list[int], cpu: list[float], memory: list[int], points: int
) -> tuple[list[int], list[float], list[int]]:
    """At most `points` points: each keeps the last time and the highest values of its group,
    so a short spike or climb still shows in a small chart."""
    if points <= 0 or len(times) <= points:
        return times, cpu, memory
    step = math.ceil(len(times) / points)
    groups = range(0, len(times), step)
    return (
        [times[min(i + step, len(times)) - 1] for i in groups],
        [max(cpu[i : i + step]) for i in groups],
        [max(memory[i : i + step]) for i in groups],
    )


def _series(ring: Ring, since_ms: int, points: int) -> dict[str, Any]:
    times, cpu, memory = downsample(*ring.points(since_ms), points)
    return {"t": times, "cpu": cpu, "memory": memory}


class History:
    """cpu and memory rings per instance (pm_id) and per app name."""

    def __init__(self, interval_s: float = INTERVAL_S, retention_s: float = RETENTION_S) -> None:
        self.interval_s = interval_s
        self.retention_s = retention_s
        self.capacity = math.ceil(retention_s / interval_s) + 1
        self.instances: dict[int, tuple[str, Ring]] = {}
        self.apps: dict[str, Ring] = {}

    def add_sample(self, entries: Iterable[dict[str, Any]], now_ms: int) -> dict[str, Any]:
        """Record one sample of the process list; return it as the live feed sends it:
        `{"t", "apps": {name: [cpu, memory]}, "instances": {id: [name, cpu, memory]}}`."""
        totals: dict[str, list[float]] = {}
        instances: dict[str, list[Any]] = {}
        for entry in entries:
            pm_id, name = int(entry["pm_id"]), str(entry["name"])
            monit = entry.get("monit") or {}
            cpu, memory = float(monit.get("cpu") or 0), int(monit.get("memory") or 0)
            self._instance_ring(pm_id, name).append(now_ms, cpu, memory)
            instances[str(pm_id)] = [name, round(cpu, 1), memory]
            total = totals.setdefault(name, [0.0, 0])
            total[0] += cpu
            total[1] += memory
        for name, (cpu, total_memory) in totals.items():
            self.apps.setdefault(name, Ring(self.capacity)).append(now_ms, cpu, int(total_memory))
        self.forget(now_ms)
        return {
            "t": now_ms,
            "apps": {name: [round(cpu, 1), int(memory)] for name, (cpu, memory) in totals.items()},
            "instances": instances,
        }

    def _instance_ring(self, pm_id: int, name: str) -> Ring:
        known = self.instances.get(pm_id)
        if known is None or known[0] != name:  # a new app got this id (ids restart at 0)
            known = self.instances[pm_id] = (name, Ring(self.capacity))
        return known[1]

    def forget(self, now_ms: int) -> None:
        """Drop the rings whose newest point is older than the retention."""
        oldest = now_ms - int(self.retention_s * 1000)
        for pm_id in [i for i, (_, ring) in self.instances.items() if ring.newest < oldest]:
            del self.instances[pm_id]
        for name in [n for n, ring in self.apps.items() if ring.newest < oldest]:
            del self.apps[name]

    def query(
        self, name: str | None = None, since_ms: int = 0, points: int = 0, instances: bool = False
    ) -> list[dict[str, Any]]:
        """Per app (all, or the one called `name`): its summed series and, for one app or when
        `instances` is true, each instance's series."""
        result = []
        for app_name in sorted(self.apps) if name is None else [name]:
            ring = self.apps.get(app_name)
            if ring is None:
                continue
            app: dict[str, Any] = {
                "name": app_name,
                "ids": self.ids_of(app_name),
                **_series(ring, since_ms, points),
            }
            if name is not None or instances:
                app["instances"] = [
                    {"id": pm_id, **_series(ring, since_ms, points)}
                    for pm_id, (owner, ring) in sorted(self.instances.items())
                    if owner == app_name
                ]
            result.append(app)
        return result

    def ids_of(self, name: str) -> list[int]:
        return sorted(pm_id for pm_id, (owner, _) in self.instances.items() if owner == name)

    def nbytes(self) -> int:
        """Bytes held by the rings' arrays (the bulk of what history costs)."""
        rings = [ring for _, ring in self.instances.values()] + list(self.apps.values())
        return sum(ring.nbytes() for ring in rings)
