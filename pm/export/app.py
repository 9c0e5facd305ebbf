"""An app as an export sees it: pm's normalised AppSpec, plus the attributes that only an export
reads or that pm's own spec may not hold yet:

* `image`: the container image of the app (Kubernetes, Compose); `--image` is the default.
* `listen`: "host:port", a port, or a list of them; pm binds these sockets and hands them to the
  app (systemd's socket-activation convention, LISTEN_FDS, fd 3).
* `health_check`: {http: url | tcp: "host:port" | cmd: "shell command", interval, timeout,
  retries, start_period}, durations in ms or "5s", Docker's HEALTHCHECK semantics.

Each is read from the spec when AppSpec has the field, else from the app as written, so the
export works the same before and after pm itself learns them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from pm.config.command import INTERPRETER_BY_EXTENSION
from pm.config.spec import AppSpec, canonical_key, parse_duration_ms
from pm.errors import ConfigError

#: Canonical names of the attributes read here (pm's readers may call them unknown).
EXTRA_KEYS = ("image", "listen", "health_check")

_HEALTH_KINDS = ("http", "tcp", "cmd")
_HEALTH_TIMES = ("interval", "timeout", "start_period")
_ENDPOINT = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<host>[^:\[\]]*)):(?P<port>\d+)$")


@dataclass(frozen=True)
class Endpoint:
    """An address pm binds: a bare port is 127.0.0.1 (pm opens nothing to the network unless
    the address says so), ":port" is 0.0.0.0, as pm's own reader has it."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def loopback(self) -> bool:
        return self.host in ("localhost", "::1") or self.host.startswith("127.")


#: pm's (Docker's) defaults for a health check: a check always has every field.
HEALTH_DEFAULTS: dict[str, Any] = {
    "interval": 30_000,
    "timeout": 30_000,
    "retries": 3,
    "start_period": 0,
    "action": "restart",
}


@dataclass(frozen=True)
class HealthCheck:
    """One check and its timing (ms), with pm's defaults; action "report" never restarts."""

    kind: str  # http, tcp or cmd
    target: str  # the URL, "host:port" or the shell command
    interval: int = HEALTH_DEFAULTS["interval"]
    timeout: int = HEALTH_DEFAULTS["timeout"]
    retries: int = HEALTH_DEFAULTS["retries"]
    start_period: int = HEALTH_DEFAULTS["start_period"]
    action: str = HEALTH_DEFAULTS["action"]

    @property
    def endpoint(self) -> Endpoint:
        """Host and port an http or tcp check reaches."""
        if self.kind == "tcp":
            return parse_endpoint(self.target, "tcp")
        url = urlsplit(self.target)
        return Endpoint(url.hostname or "", url.port or (443 if url.scheme == "https" else 80))


@dataclass
class ExportApp:
    """One app of the export, with where it came from (for messages and pm-runtime)."""

    spec: AppSpec
    label: str  # "file: app #0 (api)", as pm's readers name an app
    source: str = ""  # the ecosystem file it was read from; "" for the running list
    image: str | None = None
    listen: list[Endpoint] = field(default_factory=list)
    health: HealthCheck | None = None
    #: What the targets name the app after: its name, made distinct when two apps share one
    #: (pm allows that) or differ only in case or punctuation (`api` and `API`).
    key: str = ""

    def __post_init__(self) -> None:
        self.key = self.key or self.spec.name

    @property
    def name(self) -> str:
        return self.spec.name


def give_keys(apps: list[ExportApp]) -> list[ExportApp]:
    """Set each app's key: its name, with -2, -3... where an earlier app took the same one."""
    taken: set[str] = set()
    for app in apps:
        key, count = app.name, 1
        while re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-") in taken:
            count += 1
            key = f"{app.name}-{count}"
        taken.add(re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-"))
        app.key = key
    return apps


def guess_interpreter(script: str, cwd: str) -> str:
    """The interpreter pm would pick where the script is not here to look at: PM2's table by
    extension (python as python3: images seldom have a bare `python`); a program name or an
    executable file without a known extension runs by itself ("none")."""
    found = INTERPRETER_BY_EXTENSION.get(PurePosixPath(script).suffix.lower())
    if found == "python":
        return "python3"
    if found:
        return found
    path = os.path.join(cwd, script)
    if "/" not in script or (os.path.isfile(path) and os.access(path, os.X_OK)):
        return "none"
    return "node"


def extras_of(raw: dict[str, Any]) -> dict[str, Any]:
    """The export's attributes of a user-written app, by canonical name (camelCase accepted)."""
    return {
        canonical_key(key): value
        for key, value in raw.items()
        if isinstance(key, str) and canonical_key(key) in EXTRA_KEYS
    }


def export_app(spec: AppSpec, raw: dict[str, Any], label: str, source: str = "") -> ExportApp:
    """An ExportApp from a spec and the app as written; ConfigError naming app and field."""
    values = extras_of(raw)
    checked = set()  # pm's own spec wins once it holds the attribute (and has checked it)
    for key in EXTRA_KEYS:
        if getattr(spec, key, None) not in (None, [], {}, ""):
            values[key] = getattr(spec, key)
            checked.add(key)
    image = values.get("image")
    if image is not None and (not isinstance(image, str) or not image.strip()):
        raise ConfigError(f"{label}: field 'image' expects an image name, got {image!r}")
    listen = values.get("listen")
    health = values.get("health_check")
    return ExportApp(
        spec,
        label,
        source,
        image.strip() if image else None,
        parse_listen(listen, f"{label}: field 'listen'") if listen else [],
        parse_health(health, f"{label}: field 'health_check'", strict="health_check" not in checked)
        if health
        else None,
    )


def parse_endpoint(value: Any, where: str) -> Endpoint:
    """ "host:port", "[v6]:port", ":port" (0.0.0.0), or a port (127.0.0.1), as pm reads them."""
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ConfigError(f'{where}: expected "host:port" or a port, got {value!r}')
    match = _ENDPOINT.match(f"127.0.0.1:{text}" if text.isdigit() else text)
    port = int(match.group("port")) if match else 0
    if not match or not 0 < port < 65536:
        raise ConfigError(f'{where}: expected "host:port" or a port (1-65535), got {value!r}')
    return Endpoint(match.group("v6") or match.group("host") or "0.0.0.0", port)


def parse_listen(value: Any, where: str) -> list[Endpoint]:
    items = value if isinstance(value, list) else [value]
    return [parse_endpoint(item, where) for item in items]


def parse_health(value: Any, where: str, strict: bool = True) -> HealthCheck:
    """strict: refuse keys the export does not know (a typo); pm's own spec may hold more
    (what to do on failure, say), which an export ignores."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected an object with http, tcp or cmd, got {value!r}")
    kinds = [kind for kind in _HEALTH_KINDS if value.get(kind) not in (None, "")]
    if len(kinds) != 1:
        raise ConfigError(
            f"{where}: expected exactly one of http, tcp or cmd, got {', '.join(kinds) or 'none'}"
        )
    unknown = sorted(set(value) - set(_HEALTH_KINDS) - set(HEALTH_DEFAULTS))
    if unknown and strict:
        raise ConfigError(
            f"{where}: unknown key '{unknown[0]}' (known: http, tcp, cmd, "
            "interval, timeout, retries, start_period, action)"
        )
    kind = kinds[0]
    target = value[kind]
    if not isinstance(target, str) and not (kind == "tcp" and isinstance(target, int)):
        raise ConfigError(f"{where}.{kind}: expected a string, got {target!r}")
    target = str(target)
    if kind == "http" and urlsplit(target).scheme not in ("http", "https"):
        raise ConfigError(f"{where}.http: expected an http:// or https:// URL, got {target!r}")
    if kind == "tcp":
        parse_endpoint(target, f"{where}.tcp")
    times = {
        name: _positive_ms(value[name], f"{where}.{name}")
        for name in _HEALTH_TIMES
        if value.get(name) is not None
    }
    if times.get("interval") == 0 or times.get("timeout") == 0:
        raise ConfigError(f"{where}: interval and timeout must be more than 0")
    retries = value.get("retries", HEALTH_DEFAULTS["retries"])
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 1:
        raise ConfigError(
            f"{where}.retries: expected a whole number of at least 1, got {retries!r}"
        )
    action = value.get("action", HEALTH_DEFAULTS["action"])
    if action not in ("restart", "report"):
        raise ConfigError(f"{where}.action: expected 'restart' or 'report', got {action!r}")
    return HealthCheck(kind, target, retries=retries, action=action, **times)


def _positive_ms(value: Any, where: str) -> int:
    ms = parse_duration_ms(value, where)
    if ms < 0:
        raise ConfigError(f"{where}: must not be negative")
    return ms
