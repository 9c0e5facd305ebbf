"""cron.Timetable: croniter's answers for the daemon, from a short-lived process, so the daemon
never imports croniter for log rotation (pm/config/cron.py says why)."""

from __future__ import annotations

import asyncio
import datetime
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pm.config import cron
from pm.errors import ConfigError


class CountingTimetable(cron.Timetable):
    """The real Timetable, counting how often it runs the helper process."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, float]] = []

    async def _ask(self, expr: str, after: float) -> cron._Answer:  # type: ignore[override]
        self.asked.append((expr, after))
        return await cron.Timetable._ask(expr, after)


def _midnight() -> float:
    day = datetime.datetime(2026, 3, 10)  # a Tuesday, local time
    return day.timestamp()


def test_answers_as_croniter_does_and_asks_once_until_the_time_passes() -> None:
    midnight = _midnight()
    table = CountingTimetable()

    async def scenario() -> list[bool]:
        return [
            await table.due("0 0 * * *", midnight - 60, midnight - 30),  # asks: next = midnight
            await table.due("0 0 * * *", midnight - 30, midnight - 1),  # cached
            await table.due("0 0 * * *", midnight - 1, midnight + 29),  # cached: due
            await table.due("0 0 * * *", midnight + 29, midnight + 59),  # passed: asks again
            await table.due("0 0 * * *", midnight + 59, midnight + 89),  # cached
        ]

    assert asyncio.run(scenario()) == [False, False, True, False, False]
    assert table.asked == [("0 0 * * *", midnight - 60), ("0 0 * * *", midnight + 29)]
    for since, now in ((midnight - 60, midnight - 30), (midnight - 1, midnight + 29)):
        assert cron.due("0 0 * * *", since, now) is asyncio.run(
            cron.Timetable().due("0 0 * * *", since, now)
        )


def test_a_question_about_an_earlier_time_is_asked_again() -> None:
    midnight = _midnight()
    table = CountingTimetable()

    async def scenario() -> bool:
        await table.due("0 0 * * *", midnight + 10, midnight + 20)  # next: tomorrow
        return await table.due("0 0 * * *", midnight - 10, midnight + 5)  # earlier: ask again

    assert asyncio.run(scenario()) is True
    assert len(table.asked) == 2


def test_never_and_invalid_patterns() -> None:
    midnight = _midnight()
    table = cron.Timetable()
    assert asyncio.run(table.due("0 0 31 2 *", midnight, midnight + 400 * 86400)) is False
    with pytest.raises(ConfigError, match="invalid cron pattern '61 \\* \\* \\* \\*'"):
        asyncio.run(table.due("61 * * * *", midnight, midnight + 86400))


def test_the_rotation_loop_never_imports_croniter(tmp_path: Path) -> None:
    """The daemon's rotation check with pm2-logrotate's default pattern, in a fresh process:
    it finds the midnight rotation due and rotates, and croniter is not among its modules."""
    log = tmp_path / "app-out.log"
    log.write_text("a line\n")
    midnight = _midnight()
    code = textwrap.dedent(f"""
        import asyncio, json, sys, types
        from pm.daemon.output import rotation
        from pm.paths import Home
        from pathlib import Path
        home = Home(Path({str(tmp_path / "home")!r}))
        home.ensure()
        app = types.SimpleNamespace(spec=types.SimpleNamespace(logrotate=None),
                                    paths=types.SimpleNamespace(out={str(log)!r}, err=None,
                                                                combined=None))
        done = asyncio.run(rotation.check_once([app], home, {{"lossless": "false"}}, False,
                                               {midnight - 30!r}, {midnight + 30!r}))
        print(json.dumps({{"rotated": [str(p) for p in done],
                           "croniter": "croniter" in sys.modules}}))
    """)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert len(outcome["rotated"]) == 1 and Path(outcome["rotated"][0]).read_text() == "a line\n"
    assert outcome["croniter"] is False


def test_the_rotation_schedule_reports_a_refused_pattern_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from pm.daemon.output.rotation import Schedule

    schedule = Schedule()
    midnight = _midnight()

    async def scenario() -> list[bool]:
        return [
            await schedule.due("61 * * * *", midnight + i, midnight + i + 30) for i in (0, 30, 60)
        ]

    with caplog.at_level("ERROR", logger="pm"):
        assert asyncio.run(scenario()) == [False, False, False]
    assert [r.getMessage() for r in caplog.records].count(
        "logrotate:rotateInterval: invalid cron pattern '61 * * * *'; no rotation on a schedule "
        "with it (size still counts)"
    ) == 1
