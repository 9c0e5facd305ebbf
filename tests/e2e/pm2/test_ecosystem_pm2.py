"""The corpus under real PM2 7 and under pm: the fields that define each app must match.

Skipped when `pm2` is not on PATH (CI). Run with `-s` to see the numbers compared/matched.
"""

from __future__ import annotations

import pytest
from helpers.pm2 import compare_corpus

pytestmark = [
    pytest.mark.needs("node", "pm2"),
    pytest.mark.slow,
]


def test_corpus_matches_pm2() -> None:
    report = compare_corpus()
    print(f"\nPM2 comparison: {report.compared} fields compared, {report.matched} matched")
    for line in report.mismatches:
        print("  differs:", line)
    assert report.compared > 400
    assert report.unexpected() == []
