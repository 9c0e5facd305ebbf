"""Shared fixtures: each test gets its own PM_HOME and a real daemon, ended at teardown.

The helpers themselves live in tests/helpers (import them from there, never from conftest).
Tests under tests/unit start no daemon and are marked `unit`; those under tests/e2e drive the
real CLI and daemon and are marked `e2e`: `pytest -m "not e2e"` or `pytest tests/unit` is the
fast lane.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.home import PM, find_program

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def pm() -> Iterator[PM]:
    root = Path(tempfile.mkdtemp(prefix="pmt", dir="/tmp"))
    home, workdir = root / "h", root / "w"
    workdir.mkdir()
    instance = PM(home, workdir)
    try:
        yield instance
    finally:
        instance.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--soak`: run the heavy variants of tests/reliability (more apps, longer storms)."""
    parser.addoption(
        "--soak",
        action="store_true",
        default=False,
        help="run the long reliability variants (tests/reliability)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs(*tools): the programs on PATH a test needs")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by its layer: `unit` under tests/unit, `e2e` under tests/e2e."""
    for item in items:
        layer = Path(str(item.fspath)).resolve().relative_to(TESTS).parts[0]
        if layer in ("unit", "e2e"):
            item.add_marker(layer)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """`@pytest.mark.needs("node", ...)`: skip where a program is missing, but fail under CI
    (CI=true), whose .ci/run installs every one of them: a broken install must not turn into
    a quiet skip."""
    for marker in item.iter_markers("needs"):
        missing = [tool for tool in marker.args if find_program(tool) is None]
        if missing and os.environ.get("CI") == "true":
            pytest.fail(f"{', '.join(missing)} not on PATH under CI: .ci/run installs it")
        if missing:
            pytest.skip(f"{', '.join(missing)} not on PATH")
