"""The warnings of an export: each names the app and the attribute a target cannot express,
and says what was done instead. The export still succeeds: the user reads them and decides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pm.config.spec import AppSpec


@dataclass
class Notes:
    """Warning lines in the order met, each once."""

    lines: list[str] = field(default_factory=list)

    def warn(self, app: str, attribute: str, reason: str) -> None:
        line = f"app '{app}', '{attribute}': {reason}"
        if line not in self.lines:
            self.lines.append(line)

    def add(self, line: str) -> None:
        """A warning that is not about one attribute (from reading the file)."""
        if line not in self.lines:
            self.lines.append(line)


def _defaults() -> dict[str, Any]:
    return AppSpec(script="-").to_dict()


def set_attributes(spec: AppSpec) -> list[str]:
    """The attributes whose value is not PM2's default (what the user asked for)."""
    defaults = _defaults()
    current = spec.to_dict()
    return [name for name in current if current[name] != defaults.get(name)]


def warn_unmapped(spec: AppSpec, reasons: dict[str, str], notes: Notes) -> None:
    """One warning per attribute of reasons that the app sets to a non-default value."""
    for name in set_attributes(spec):
        if name in reasons:
            notes.warn(spec.name, name, reasons[name])
