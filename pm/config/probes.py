"""The attributes pm adds for zero-downtime work: `listen` (sockets pm binds and hands to every
instance) and `health_check` (Docker's HEALTHCHECK semantics), parsed and normalised.

Both are stored in the AppSpec as plain data (strings, a dict) so the wire and the dump carry
them unchanged; the daemon reads them with `listen_address` and `HealthCheck.from_spec`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pm.config.spec import parse_duration_ms
from pm.errors import ConfigError

#: Docker's HEALTHCHECK defaults (interval 30 s, timeout 30 s, 3 retries, no start period).
HEALTH_DEFAULTS: dict[str, Any] = {
    "interval": 30_000,
    "timeout": 30_000,
    "retries": 3,
    "start_period": 0,
    "action": "restart",
}
HEALTH_KINDS = ("http", "tcp", "cmd")
HEALTH_ACTIONS = ("restart", "report")

_ADDRESS = re.compile(r"^(?:\[(?P<ipv6>[0-9a-fA-F:.]+)\]|(?P<host>[^:\s]*)):(?P<port>\d{1,5})$")


def listen_address(text: str, where: str = "listen") -> tuple[str, int]:
    """(host, port) of 'host:port', '[::1]:port' or a bare port (bound on 127.0.0.1: pm never
    opens a port to the network unless the address says so, e.g. '0.0.0.0:8000')."""
    if text.isdigit():
        host, port = "127.0.0.1", int(text)
    else:
        match = _ADDRESS.match(text)
        if not match:
            raise ConfigError(f"{where}: expected 'host:port' or a port, got {text!r}")
        host = match.group("ipv6") or match.group("host") or "0.0.0.0"
        port = int(match.group("port"))
    if not 0 < port < 65536:
        raise ConfigError(f"{where}: port {port} is out of range 1-65535")
    return host, port


def parse_listen(value: Any, where: str) -> list[str]:
    """`listen`: one address or a list of them, normalised to 'host:port' strings."""
    items = value if isinstance(value, list) else [value]
    if not items:
        return []
    addresses = []
    for index, item in enumerate(items):
        spot = where if len(items) == 1 else f"{where}[{index}]"
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise ConfigError(f"{spot}: expected 'host:port' or a port, got {item!r}")
        host, port = listen_address(str(item).strip(), spot)
        addresses.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    if len(set(addresses)) != len(addresses):
        raise ConfigError(f"{where}: the same address is listed twice")
    return addresses


def parse_health_check(value: Any, where: str) -> dict[str, Any] | None:
    """`health_check`: {http|tcp|cmd, interval, timeout, retries, start_period, action}, with
    Docker's defaults filled in; None or false for none."""
    if value in (None, False):
        return None
    if not isinstance(value, dict):
        raise ConfigError(
            f'{where}: expected an object like {{"http": "http://127.0.0.1:8000/'
            f'health", "interval": "10s"}}, got {value!r}'
        )
    unknown = sorted(set(value) - set(HEALTH_KINDS) - set(HEALTH_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}; use one of "
            f"{', '.join(HEALTH_KINDS + tuple(HEALTH_DEFAULTS))}"
        )
    kinds = [kind for kind in HEALTH_KINDS if kind in value]
    if len(kinds) != 1:
        raise ConfigError(f"{where}: give exactly one of http, tcp or cmd")
    kind = kinds[0]
    target = value[kind]
    if not isinstance(target, str) or not target.strip():
        raise ConfigError(f"{where}.{kind}: expected a non-empty string, got {target!r}")
    if kind == "http" and not target.startswith("http://"):
        raise ConfigError(f"{where}.http: expected an http:// URL, got {target!r}")
    if kind == "tcp":
        listen_address(target, f"{where}.tcp")
    check: dict[str, Any] = {kind: target.strip()}
    for key in ("interval", "timeout", "start_period"):
        check[key] = parse_duration_ms(value.get(key, HEALTH_DEFAULTS[key]), f"{where}.{key}")
    if check["interval"] <= 0 or check["timeout"] <= 0:
        raise ConfigError(f"{where}: interval and timeout must be more than 0")
    retries = value.get("retries", HEALTH_DEFAULTS["retries"])
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 1:
        raise ConfigError(f"{where}.retries: expected a number of at least 1, got {retries!r}")
    check["retries"] = retries
    action = value.get("action", HEALTH_DEFAULTS["action"])
    if action not in HEALTH_ACTIONS:
        raise ConfigError(f"{where}.action: expected 'restart' or 'report', got {action!r}")
    check["action"] = action
    return check


@dataclass(frozen=True)
class HealthCheck:
    """A normalised health check, as the daemon runs it (durations in seconds)."""

    kind: str
    target: str
    interval: float
    timeout: float
    retries: int
    start_period: float
    action: str

    @classmethod
    def from_spec(cls, check: dict[str, Any]) -> HealthCheck:
        kind = next(kind for kind in HEALTH_KINDS if kind in check)
        return cls(
            kind,
            check[kind],
            check["interval"] / 1000,
            check["timeout"] / 1000,
            check["retries"],
            check["start_period"] / 1000,
            check["action"],
        )
