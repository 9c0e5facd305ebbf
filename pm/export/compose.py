"""A Compose file (compose.yaml): a service per app, with replicas, restart policy, stop
signal and grace period, memory limit, healthcheck, environment, ports and depends_on.

One file for both engines that read it, as run in tests/e2e/engine: `docker compose up` and
Swarm's `docker stack deploy`. Hence `version: "3.8"` (the stack loader refuses a file without
one), the restart policy twice (`restart` for Compose, `deploy.restart_policy` for Swarm,
which ignores `restart`), `entrypoint` rather than `command` (Kubernetes' `command` replaces
the image's entrypoint; Compose's `command` would only replace its CMD, and an image whose
entrypoint is pm-runtime would run `pm-runtime pm-runtime ...`), and ports published in host
mode (bound where the container runs, as pm binds them, and needing no IPVS routing mesh)."""

from __future__ import annotations

import re
import shlex
from typing import Any

from pm.export import container
from pm.export.app import ExportApp, HealthCheck
from pm.export.container import Options
from pm.export.notes import Notes, warn_unmapped

ENGINE = "Compose"

#: The file format both `docker compose` and `docker stack deploy` read.
VERSION = "3.8"


def service_name(name: str) -> str:
    """A name Compose accepts for a service (letters, digits, '.', '_', '-')."""
    return re.sub(r"[^a-zA-Z0-9._-]+", "-", name).strip("-._") or "app"


def document(apps: list[ExportApp], options: Options, notes: Notes) -> dict[str, Any]:
    container.check_images(apps, options, notes)
    names = {app.name for app in apps}
    return {
        "version": VERSION,
        "services": {
            service_name(app.key): service(app, apps, names, options, notes) for app in apps
        },
    }


def service(
    app: ExportApp, apps: list[ExportApp], names: set[str], options: Options, notes: Notes
) -> dict[str, Any]:
    spec = app.spec
    pm_runtime = container.runs_pm_runtime(app, apps, options)
    reasons = container.unmapped(ENGINE, pm_runtime)
    reasons["priority"] = "not mapped: order services with depends_on"
    if spec.cron_restart and not pm_runtime:
        reasons["cron_restart"] = (
            "not mapped: Compose has no schedule; run the service "
            "from the host's cron or a systemd timer"
        )
    warn_unmapped(spec, reasons, notes)
    container.check_listen(app, ENGINE, pm_runtime, notes)
    scheduled = pm_runtime and bool(spec.cron_restart)  # pm-runtime's cron runs it again
    found: dict[str, Any] = {
        "image": container.image_name(app, options),
        "entrypoint": container.command(app, apps, options, notes, keep_running=scheduled),
        "working_dir": container.working_dir(app, options, notes),
        "restart": "unless-stopped" if spec.autorestart or scheduled else "no",
        # pm stops an app with its kill_signal (SIGINT, PM2's, by default); pm-runtime stops
        # on SIGTERM and stops its app with the app's kill_signal
        "stop_signal": "SIGTERM" if pm_runtime else spec.kill_signal or "SIGINT",
        "stop_grace_period": container.duration(spec.kill_timeout + (1000 if pm_runtime else 0)),
    }
    env = container.environment(app, pm_runtime, notes)
    if env:
        found["environment"] = env
    deploy: dict[str, Any] = {
        "replicas": spec.instances if spec.autostart else 0,
        "restart_policy": {"condition": "any" if spec.autorestart or scheduled else "none"},
    }
    if spec.max_memory_restart:
        memory = container.byte_size(spec.max_memory_restart, ("k", "m", "g"))
        deploy["resources"] = {"limits": {"memory": memory}}
    found["deploy"] = deploy
    if app.listen:
        found.update(ports(app, notes))
    if app.health:
        found["healthcheck"] = healthcheck(app.health)
        if app.health.action == "restart":
            notes.warn(
                app.name,
                "health_check",
                "Compose marks a failing container unhealthy but does not restart it (pm would)",
            )
    after = _depends_on(app, names, notes)
    if after:
        found["depends_on"] = after
    user = _user(app, notes)
    if user:
        found["user"] = user
    return found


def ports(app: ExportApp, notes: Notes) -> dict[str, list[Any]]:
    """Published on the host as pm would bind them (host mode); with replicas, only to other
    services."""
    numbers = list(dict.fromkeys(point.port for point in app.listen))
    if app.spec.instances > 1:
        notes.warn(
            app.name,
            "listen",
            "several replicas cannot publish one host port: the "
            "port is exposed to the other services only",
        )
        return {"expose": [str(port) for port in numbers]}
    return {
        "ports": [
            {"target": port, "published": port, "protocol": "tcp", "mode": "host"}
            for port in numbers
        ]
    }


def healthcheck(check: HealthCheck) -> dict[str, Any]:
    """Docker's healthcheck: pm's check run inside the container (curl or wget for http,
    bash's /dev/tcp for tcp: the image needs one of them)."""
    if check.kind == "http":
        url = shlex.quote(check.target)
        test = ["CMD-SHELL", f"curl -fsS -o /dev/null {url} || wget -q -O /dev/null {url}"]
    elif check.kind == "tcp":
        point = check.endpoint
        host = point.host or "127.0.0.1"
        test = ["CMD", "bash", "-c", f"exec 3<>/dev/tcp/{host}/{point.port}"]
    else:
        test = ["CMD-SHELL", check.target]
    found: dict[str, Any] = {
        "test": test,
        "interval": container.duration(check.interval),
        "timeout": container.duration(check.timeout),
        "retries": check.retries,
    }
    if check.start_period:
        found["start_period"] = container.duration(check.start_period)
    return found


def _depends_on(app: ExportApp, names: set[str], notes: Notes) -> list[str]:
    wanted = []
    for name in app.spec.depends_on:
        if name in names:
            wanted.append(service_name(name))
        else:
            notes.warn(app.name, "depends_on", f"'{name}' is not among the exported apps: dropped")
    return wanted


def _user(app: ExportApp, notes: Notes) -> str:
    uid, gid = app.spec.uid, app.spec.gid
    if uid is None:
        if gid is not None:
            notes.warn(
                app.name, "gid", "without uid: Compose sets a group only with a user; not mapped"
            )
        return ""
    return f"{uid}:{gid}" if gid is not None else str(uid)
