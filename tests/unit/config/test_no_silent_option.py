"""No option is silently ignored: every AppSpec attribute, every key PM2 accepts and every
`pm start` flag either has an effect, warns that it has none, or asks for what pm always does.

The tables live in pm/config/support.py (attributes, PM2-only keys) and pm/cli/start_options.py
(flags); a new attribute or flag in no table fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
import pytest
from helpers import ROOT

from pm.cli.start_options import (
    FLAG_ATTRIBUTES,
    FLAGS_WITHOUT_ATTRIBUTE,
    overrides_from,
    start_options,
)
from pm.config import support
from pm.config.attributes import COERCE, build_spec
from pm.config.ecosystem import load_file, plan_start
from pm.config.spec import AppSpec

TABLES = {"USED": support.USED, "WARNED": support.WARNED, "ALWAYS_TRUE": support.ALWAYS_TRUE}


def tables_of(name: str) -> list[str]:
    return [table for table, entries in TABLES.items() if name in entries]


def uncovered(fields: list[str]) -> list[str]:
    """Fields in no table or in more than one (what the walk below must find empty)."""
    return [name for name in fields if len(tables_of(name)) != 1]


def test_every_attribute_is_in_exactly_one_table() -> None:
    assert uncovered(AppSpec.field_names()) == []
    stale = [
        name for entries in TABLES.values() for name in entries if name not in AppSpec.field_names()
    ]
    assert stale == []


def test_the_walk_catches_a_new_attribute_in_no_table() -> None:
    assert uncovered([*AppSpec.field_names(), "readiness_probe"]) == ["readiness_probe"]


def test_every_attribute_is_accepted_from_files() -> None:
    assert set(COERCE) == set(AppSpec.field_names())


@pytest.mark.parametrize("name", sorted(support.USED))
def test_used_attribute_is_read_where_the_table_says(name: str) -> None:
    path = ROOT / support.USED[name]
    assert path.is_file(), f"{name}: {path} does not exist"
    assert path.parts[-3:-1] != ("pm", "config") or path.name not in ("spec.py", "support.py")
    assert support.USED[name].startswith(("pm/daemon/", "pm/config/"))
    read = re.compile(rf"(\.{name}\b|\[\"{name}\"\]|get\(\"{name}\")")
    assert read.search(path.read_text()), f"{name} is no longer read in {support.USED[name]}"


def _app_file(tmp_path: Path, extra: dict[str, Any]) -> str:
    import json

    (tmp_path / "app.py").write_text("")
    (tmp_path / "e.json").write_text(
        json.dumps({"apps": [{"name": "api", "script": "app.py", **extra}]})
    )
    return str(tmp_path / "e.json")


@pytest.mark.parametrize("name", sorted(support.WARNED))
def test_warned_attribute_warns_from_a_file(tmp_path: Path, name: str) -> None:
    sample, _reason = support.WARNED[name]
    warnings = load_file(_app_file(tmp_path, {name: sample})).warnings
    mine = [w for w in warnings if name in w]
    assert len(mine) == 1, warnings
    assert "api" in mine[0] or "exec_mode" == name  # the cluster note is one per file


@pytest.mark.parametrize("name", sorted(support.WARNED))
def test_warned_attribute_is_silent_at_its_default(tmp_path: Path, name: str) -> None:
    default = getattr(AppSpec(script="x"), name)
    assert load_file(_app_file(tmp_path, {name: default})).warnings == []


def test_readiness_flags_reach_the_spec_without_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "app.js").write_text("")
    monkeypatch.chdir(tmp_path)
    overrides = overrides_from(
        {"wait_ready": True, "listen_timeout": "5000", "shutdown_with_message": True, "name": "api"}
    )
    plan = plan_start(["app.js"], overrides, [], None, None, lambda target: False)
    assert not [w for w in plan.warnings if "ready" in w or "listen" in w or "shutdown" in w]
    (spec,) = plan.specs
    assert (spec.wait_ready, spec.listen_timeout, spec.shutdown_with_message) == (True, 5000, True)


def test_always_true_entries_give_their_reason() -> None:
    assert all(reason.strip() for reason in support.ALWAYS_TRUE.values())


def test_ignored_keys_are_each_warned_or_silent_with_a_reason() -> None:
    assert not set(support.IGNORED_WARNED) & set(support.IGNORED_SILENT)
    assert all(support.IGNORED_WARNED.values()) and all(support.IGNORED_SILENT.values())
    assert not support.IGNORED_KEYS & set(COERCE)


@pytest.mark.parametrize("key", sorted(support.IGNORED_WARNED))
def test_ignored_key_set_true_warns(key: str) -> None:
    warnings: list[str] = []
    build_spec({"script": "x", key: True}, "f.json: app #0 (api)", "/", None, {}, warnings)
    assert len([w for w in warnings if f"'{key}'" in w and "(api)" in w]) == 1


@pytest.mark.parametrize("key", sorted(support.IGNORED_SILENT))
def test_silent_ignored_key_gives_no_warning(key: str) -> None:
    warnings: list[str] = []
    build_spec({"script": "x", key: False}, "f.json: app #0 (api)", "/", None, {}, warnings)
    assert warnings == []


# ------------------------------------------------------------ pm start flags


def _start_params() -> list[click.Parameter]:
    @click.command()
    @start_options
    def command(**options: Any) -> None:
        """The start flags alone."""

    return command.params


def test_every_start_flag_sets_an_attribute_or_gives_its_reason() -> None:
    names = [param.name for param in _start_params()]
    both = set(FLAG_ATTRIBUTES) & set(FLAGS_WITHOUT_ATTRIBUTE)
    neither = [
        name
        for name in names
        if name not in FLAG_ATTRIBUTES and name not in FLAGS_WITHOUT_ATTRIBUTE
    ]
    assert not both and neither == []
    assert set(FLAG_ATTRIBUTES) | set(FLAGS_WITHOUT_ATTRIBUTE) == set(names)  # no stale entry


@pytest.mark.parametrize(
    "param",
    [param for param in _start_params() if param.name in FLAG_ATTRIBUTES],
    ids=lambda p: p.name,
)
def test_mapped_flag_sets_its_attribute(param: click.Parameter) -> None:
    attribute = FLAG_ATTRIBUTES[param.name]
    assert len(tables_of(attribute)) == 1
    value: Any = True if getattr(param, "is_flag", False) else ("4",) if param.multiple else "4"
    assert attribute in overrides_from({param.name: value})


def test_update_env_on_start_warns() -> None:
    from click.testing import CliRunner

    @click.command()
    @start_options
    def command(**options: Any) -> None:
        """The start flags alone."""

    result = CliRunner().invoke(command, ["-a"])
    assert result.exit_code == 0
    assert "'--update-env' has no effect" in result.output
