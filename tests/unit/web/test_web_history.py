"""The dashboard's memory, pure parts: rings, downsampling, per-app sums, events as shown."""

from __future__ import annotations

import signal
import tracemalloc

from pm.web.eventlog import EventLog, normalize
from pm.web.history import History, Ring, downsample


def entry(pm_id: int, name: str, cpu: float, memory: int) -> dict:
    return {
        "pm_id": pm_id,
        "name": name,
        "monit": {"cpu": cpu, "memory": memory},
        "pm2_env": {"status": "online"},
    }


def test_a_ring_keeps_the_newest_points_in_order() -> None:
    ring = Ring(3)
    for t in range(1, 6):
        ring.append(t * 1000, t / 2, t * 100)
    assert len(ring) == 3 and ring.newest == 5000
    assert ring.points() == ([3000, 4000, 5000], [1.5, 2.0, 2.5], [300, 400, 500])
    assert ring.points(since_ms=3000) == ([4000, 5000], [2.0, 2.5], [400, 500])
    assert Ring(2).points() == ([], [], []) and Ring(2).newest == 0


def test_downsampling_keeps_peaks_and_the_last_time() -> None:
    times = list(range(10))
    memory = [1, 1, 9, 1, 1, 1, 1, 1, 1, 5]
    t, cpu, mem = downsample(times, [0.0] * 10, memory, 4)
    assert t == [2, 5, 8, 9] and mem == [9, 1, 1, 5] and len(cpu) == 4
    assert downsample(times, [0.0] * 10, memory, 0) == (times, [0.0] * 10, memory)


def test_history_sums_instances_per_app_and_keeps_each_instance() -> None:
    history = History(interval_s=1, retention_s=10)
    sample = history.add_sample(
        [entry(0, "api", 10, 100), entry(1, "api", 5, 50), entry(2, "db", 1, 7)], now_ms=1000
    )
    assert sample["apps"] == {"api": [15.0, 150], "db": [1.0, 7]}
    assert sample["instances"]["1"] == ["api", 5.0, 50]
    history.add_sample([entry(0, "api", 20, 200), entry(2, "db", 1, 8)], now_ms=2000)
    api = history.query("api")[0]
    assert api["t"] == [1000, 2000] and api["memory"] == [150, 200] and api["ids"] == [0, 1]
    assert [(i["id"], i["memory"]) for i in api["instances"]] == [(0, [100, 200]), (1, [50])]
    assert [app["name"] for app in history.query()] == ["api", "db"]
    assert "instances" not in history.query()[0] and "instances" in history.query(instances=True)[0]
    assert history.query(since_ms=1000)[0]["t"] == [2000]
    assert history.query("nothing") == []


def test_history_forgets_what_is_older_than_the_retention() -> None:
    history = History(interval_s=1, retention_s=10)
    assert history.capacity == 11
    history.add_sample([entry(0, "gone", 1, 1)], now_ms=1000)
    for second in range(2, 30):
        history.add_sample([entry(1, "kept", 1, second)], now_ms=second * 1000)
    assert [app["name"] for app in history.query()] == ["kept"]
    assert len(history.query("kept")[0]["t"]) == 11  # the ring's capacity: one retention
    # a new app that got an old id starts a new series
    history.add_sample([entry(1, "renamed", 1, 1)], now_ms=31_000)
    assert history.query("renamed", instances=True)[0]["instances"][0]["memory"] == [1]


def test_an_hour_of_fifty_apps_costs_a_few_megabytes() -> None:
    """The figure docs/dashboard.md gives: an hour at 2 s, one instance each."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    history = History(interval_s=2, retention_s=3600)
    for step in range(history.capacity + 5):
        history.add_sample(
            [entry(i, f"app{i}", 1.5, 1_000_000 + step) for i in range(50)],
            now_ms=1_000_000 + step * 2000,
        )
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert history.nbytes() == 100 * 1801 * 20  # 50 instance rings + 50 app rings, 20 B a point
    assert used < 5 * 1024 * 1024, used


def test_exit_events_name_the_signal_or_the_code() -> None:
    killed = normalize(
        {
            "event": "process",
            "at": 5,
            "data": {
                "event": "exit",
                "pm_id": 3,
                "name": "api",
                "namespace": "default",
                "status": "stopped",
                "pid": 0,
                "exit_code": -signal.SIGKILL,
                "manually": False,
            },
        }
    )
    assert killed == {
        "at": 5,
        "kind": "exit",
        "id": 3,
        "name": "api",
        "status": "stopped",
        "code": None,
        "signal": "SIGKILL",
        "manually": False,
    }
    crashed = normalize(
        {
            "event": "process",
            "at": 6,
            "data": {
                "event": "exit",
                "pm_id": 3,
                "name": "api",
                "status": "errored",
                "pid": 0,
                "exit_code": 2,
                "manually": False,
            },
        }
    )
    assert crashed is not None and crashed["code"] == 2 and "signal" not in crashed
    errored = normalize(
        {
            "event": "process",
            "at": 7,
            "data": {
                "event": "restart overlimit",
                "pm_id": 3,
                "name": "api",
                "status": "errored",
                "pid": 0,
                "reason": "too many unstable restarts (16)",
            },
        }
    )
    assert errored is not None and errored["reason"].startswith("too many")


def test_memory_health_and_foreign_events() -> None:
    memory = normalize(
        {
            "event": "memory",
            "at": 1,
            "data": {"pm_id": 0, "name": "leaky", "memory": 300, "limit": 200},
        }
    )
    assert memory == {
        "at": 1,
        "kind": "memory",
        "id": 0,
        "name": "leaky",
        "memory": 300,
        "limit": 200,
    }
    health = normalize(
        {
            "event": "health",
            "at": 2,
            "data": {
                "pm_id": 0,
                "name": "api",
                "status": "unhealthy",
                "detail": "HTTP 500",
                "failures": 3,
            },
        }
    )
    assert health is not None and health["health"] == "unhealthy"
    assert health["detail"] == "HTTP 500" and health["failures"] == 3 and "status" not in health
    as_process = normalize(
        {
            "event": "process",
            "at": 3,
            "data": {
                "event": "health",
                "pm_id": 0,
                "name": "api",
                "status": "online",
                "health": "healthy",
            },
        }
    )
    assert as_process is not None and as_process["kind"] == "health"
    assert as_process["health"] == "healthy"
    assert normalize({"event": "log", "data": {"text": "x"}}) is None
    assert normalize({"event": "process"}) is None


def test_event_log_keeps_the_last_per_app_and_answers_in_order() -> None:
    log = EventLog(per_app=3)
    for at in range(5):
        log.add({"at": at, "kind": "restart", "id": 0, "name": "loop"})
    quiet = log.add({"at": 10, "kind": "online", "id": 1, "name": "quiet"})
    assert quiet["seq"] == 6
    assert [e["at"] for e in log.query("loop")] == [2, 3, 4]  # a crash loop cannot flood others
    assert [e["seq"] for e in log.query()] == [3, 4, 5, 6]
    assert [e["seq"] for e in log.query(after_seq=4)] == [5, 6]
    assert [e["seq"] for e in log.query(limit=1)] == [6]
    assert [e["seq"] for e in log.query(since_ms=4)] == [5, 6]
    log.forget({"loop"}, oldest_ms=11)
    assert set(log.by_app) == {"loop"}


def test_only_the_newest_exits_keep_their_last_lines() -> None:
    from pm.web.eventlog import TAILS_PER_APP

    log = EventLog()
    exits = [
        log.add({"at": i, "kind": "exit", "id": 0, "name": "loop", "code": 1})
        for i in range(TAILS_PER_APP + 5)
    ]
    for event in exits:
        log.set_tail(event, {"err": [f"boom {event['at']}"]})
    kept = [event["at"] for event in log.query("loop") if "tail" in event]
    assert kept == list(range(5, TAILS_PER_APP + 5))
