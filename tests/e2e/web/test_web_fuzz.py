"""A schema-driven fuzzer (schemathesis) against /openapi.json: no 500s, the daemon survives.

Bounded: a few examples per operation, one worker, a fixed seed (PM_FUZZ_SEED changes it).
The event streams never end, so they are left out. The document is given examples naming a
real app, so the fuzzer also reaches the actions' real work instead of stopping at 404s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.home import PM
from helpers.web import (
    Web,
    web_fixture,  # noqa: F401 (fixtures)
)

pytest.importorskip("schemathesis")
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance"
)


def with_examples(document: dict, app: str) -> dict:
    schemas = document["components"]["schemas"]
    schemas["Targets"]["example"] = {"targets": [app]}
    schemas["Scale"]["example"] = {"name": app, "delta": 1}
    for path in ("/api/describe", "/api/logs", "/api/settings"):
        for parameter in document["paths"][path]["get"]["parameters"]:
            if parameter["name"] == "target":
                parameter["example"] = app
    return document


def test_fuzzing_the_openapi_document_finds_no_server_error(pm: PM, web: Web) -> None:
    pm.run("start", "sleep", "--name", "sl", "-s", "--", "600")
    daemon = pm.daemon_pid()
    reply = web.get("/openapi.json")
    assert reply.status == 200
    document = reply.json()
    assert document["openapi"].startswith("3.")
    schema = pm.workdir / "openapi.json"
    schema.write_text(json.dumps(with_examples(document, "sl")))
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        str(schema),
        "--url",
        web.base,
        "-H",
        f"Authorization: Bearer {web.token}",
        "--exclude-path-regex",
        "/(stream|events)$",
        "--checks",
        CHECKS,
        "-n",
        "6",
        "-w",
        "1",
        "--no-shrink",
        "--request-timeout",
        "20",
        "--seed",
        os.environ.get("PM_FUZZ_SEED", "1"),
    ]
    if not Path(command[0]).exists():
        command[0] = shutil.which("schemathesis") or command[0]
    result = subprocess.run(
        command,
        cwd=pm.workdir,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    assert pm.daemon_pid() == daemon, "the daemon died or was replaced during fuzzing"
    assert web.get("/api/list").status == 200
    assert web.proc.poll() is None
