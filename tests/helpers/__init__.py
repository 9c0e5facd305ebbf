"""Helpers the tests share: a real pm home per test (home.py), the dashboard's (web.py), the
reliability runs' (reliability.py) and the comparisons with real PM2 (pm2.py).

The data the tests read lives beside this package: `tests/apps` (small real apps), `tests/corpus`
(ecosystem files), `tests/export_corpus`, `tests/fixtures`.
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
#: The project's root (README.md, pyproject.toml, benchmarks/).
ROOT = TESTS.parent
APPS = TESTS / "apps"
CORPUS = TESTS / "corpus"
EXPORT_CORPUS = TESTS / "export_corpus"
FIXTURES = TESTS / "fixtures"
