"""The engine every test of this folder shares: started once per session (one base image, one
build of examples/Dockerfile), ended by PID, its namespace and data root removed.

Where the kernel or the machine refuses (no root, no overlay, no cgroups...), the tests skip
with dockerd's own words; under CI=true, whose .ci/run installs the engine, they fail instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from helpers.engine import Engine, EngineUnavailable, start_engine

TOOLS = ("dockerd", "mmdebstrap", "nsenter", "ip")


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    from helpers.home import find_program

    missing = [tool for tool in TOOLS if find_program(tool) is None]
    problem = f"{', '.join(missing)} not installed" if missing else None
    started = time.monotonic()
    running: Engine | None = None
    if problem is None:
        try:
            running = start_engine()
        except EngineUnavailable as exc:
            problem = str(exc)
    if running is None:
        message = f"no container engine here: {problem}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (under CI, .ci/run installs docker.io and mmdebstrap)")
        pytest.skip(message)
    running.timings["engine ready"] = time.monotonic() - started
    try:
        yield running
    finally:
        stopping = time.monotonic()
        running.stop()
        running.timings["teardown"] = time.monotonic() - stopping
        print(
            "\nengine timings (s): "
            + ", ".join(f"{name} {seconds:.1f}" for name, seconds in running.timings.items())
        )
