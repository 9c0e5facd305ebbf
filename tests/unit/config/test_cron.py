"""cron_restart patterns: 5- and 6-field, via croniter, PM2 v7 semantics (PM2.md 3.4)."""

from __future__ import annotations

import datetime

import pytest

from pm.config import cron
from pm.errors import ConfigError


def _at(*args: int) -> float:
    return datetime.datetime(*args).astimezone().timestamp()


def test_expression_disabled_values() -> None:
    assert cron.expression(None) is None
    assert cron.expression(0) is None
    assert cron.expression("0") is None
    assert cron.expression(" ") is None
    assert cron.expression("*/5 * * * *") == "*/5 * * * *"


def test_five_fields_are_minutes() -> None:
    assert cron.next_fire("*/15 * * * *", _at(2026, 1, 1, 10, 7, 30)) == _at(2026, 1, 1, 10, 15)
    assert cron.next_fire("0 3 * * *", _at(2026, 1, 1, 10, 0)) == _at(2026, 1, 2, 3, 0)


def test_six_fields_put_seconds_first_as_pm2() -> None:
    # croniter alone would read the 6th field as seconds; PM2 (croner) reads the first.
    assert cron.next_fire("*/20 * * * * *", _at(2026, 1, 1, 10, 0, 5)) == _at(2026, 1, 1, 10, 0, 20)
    assert cron.next_fire("30 0 12 * * *", _at(2026, 1, 1, 10, 0)) == _at(2026, 1, 1, 12, 0, 30)


@pytest.mark.parametrize("bad", ["every minute", "* * *", "61 * * * *", "* * * * * * *"])
def test_invalid_patterns_name_the_field(bad: str) -> None:
    with pytest.raises(ConfigError, match="cron_restart.*invalid cron pattern"):
        cron.check(bad, "app 'api'")
