"""pm prettylist prints what `pm2 prettylist` prints: Node's util.inspect(list, false, null,
false). Checked against a real node on samples shaped like process lists and on random JSON."""

from __future__ import annotations

import json
import random
import string
import subprocess
from typing import Any

import pytest
from helpers import FIXTURES

from pm.cli.node_inspect import inspect

FIXTURE = FIXTURES / "pm2-7.0.4-dump.pm2"

NODE_INSPECT = """
const util = require('util');
const samples = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(samples.map(s => util.inspect(s, false, null, false))));
"""


def node_inspect(samples: list[Any]) -> list[str]:
    result = subprocess.run(
        ["node", "-e", NODE_INSPECT],
        input=json.dumps(samples),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return list(json.loads(result.stdout))


def _random_text(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + " -_.:/'\"`$\\\n\t{}é"
    return "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 3, 8, 20, 40, 90])))


def _random_value(rng: random.Random, depth: int) -> Any:
    kind = rng.choice(
        ["int", "float", "str", "bool", "null", "list", "dict", "dict", "list"]
        if depth < 5
        else ["int", "str", "bool", "null"]
    )
    if kind == "int":
        return rng.choice([0, 1, -1, 7, 1234567, 1700000000000, rng.randint(-(10**6), 10**6)])
    if kind == "float":
        return rng.choice([0.5, 1.25, -3.75, 0.1, 12.5, 1e-7, 2.5e21, 123456.789])
    if kind == "str":
        return _random_text(rng)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    size = rng.choice([0, 1, 2, 3, 5, 7, 9, 12, 30])
    if kind == "list":
        if rng.random() < 0.3:  # arrays of short numbers or strings: the column layout
            return [
                rng.randint(0, 999) if rng.random() < 0.5 else _random_text(rng)[:5]
                for _ in range(size)
            ]
        return [_random_value(rng, depth + 1) for _ in range(size)]
    keys = [
        rng.choice(
            [
                "name",
                "pm_id",
                "pm2_env",
                "restart_time",
                "exec-mode",
                "1st",
                "x y",
                "it's",
                "_ok",
                "env",
                "args",
                "watch",
            ]
        )
        + str(i)
        for i in range(size)
    ]
    return {key: _random_value(rng, depth + 1) for key in keys}


@pytest.mark.needs("node")
def test_a_pm2_process_list_prints_as_node_prints_it() -> None:
    apps = json.loads(FIXTURE.read_text())
    samples = [
        apps,
        apps[:1],
        [
            {
                "name": "api",
                "pm_id": 0,
                "monit": {"memory": 1234, "cpu": 0.5},
                "pm2_env": {
                    "status": "online",
                    "restart_time": 1,
                    "watch": False,
                    "args": ["--port", "8000"],
                },
            }
        ],
    ]
    assert [inspect(sample) for sample in samples] == node_inspect(samples)


@pytest.mark.needs("node")
def test_random_json_prints_as_node_prints_it() -> None:
    rng = random.Random(20261203)
    samples = [_random_value(rng, 0) for _ in range(400)]
    expected = node_inspect(samples)
    mismatches = [
        (sample, ours, theirs)
        for sample, ours, theirs in zip(samples, map(inspect, samples), expected)
        if ours != theirs
    ]
    assert mismatches[:3] == [] and len(mismatches) == 0


def test_what_scripts_grep_for() -> None:
    text = inspect(
        [{"name": "echo", "pm2_env": {"restart_time": 1, "watch": True, "status": "online"}}]
    )
    assert "name: 'echo'" in text and "restart_time: 1" in text and "watch: true" in text
    assert inspect({"it's": 'it\'s "b"'}) == '{ "it\'s": `it\'s "b"` }'
    assert inspect({"a": 'say "b"'}) == "{ a: 'say \"b\"' }"
