"""The three targets by name, and their output as files: name -> text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pm.errors import ConfigError
from pm.export import compose, kubernetes, systemd
from pm.export.app import ExportApp
from pm.export.container import Options
from pm.export.notes import Notes

#: What a user may type -> the target's name.
NAMES = {
    "kubernetes": "kubernetes",
    "k8s": "kubernetes",
    "compose": "compose",
    "docker-compose": "compose",
    "systemd": "systemd",
}


def target_name(typed: str) -> str:
    try:
        return NAMES[typed]
    except KeyError:
        raise ConfigError(
            f"unknown export target '{typed}'; choose kubernetes (k8s), compose or systemd"
        ) from None


def _yaml(documents: list[Any], header: str) -> str:
    import yaml

    body = yaml.safe_dump_all(
        documents, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100
    )
    return f"# {header}\n{body}"


def _kubernetes(
    apps: list[ExportApp], options: Options, notes: Notes, header: str
) -> dict[str, str]:
    return {
        name: _yaml(objects, header)
        for name, objects in kubernetes.manifests(apps, options, notes).items()
    }


def _compose(apps: list[ExportApp], options: Options, notes: Notes, header: str) -> dict[str, str]:
    return {"compose.yaml": _yaml([compose.document(apps, options, notes)], header)}


def _systemd(apps: list[ExportApp], options: Options, notes: Notes, header: str) -> dict[str, str]:
    return systemd.units(apps, notes)


Render = Callable[[list[ExportApp], Options, Notes, str], dict[str, str]]
RENDER: dict[str, Render] = {"kubernetes": _kubernetes, "compose": _compose, "systemd": _systemd}


def export(
    target: str, apps: list[ExportApp], options: Options, notes: Notes, source: str
) -> dict[str, str]:
    """The files of the export (name -> text), in a stable order."""
    name = target_name(target)
    return RENDER[name](apps, options, notes, f"pm export {name}, from {source}")
