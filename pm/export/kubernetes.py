"""Kubernetes manifests: per app a Deployment (instances -> replicas), or a CronJob for an app
that runs to completion on a schedule (cron_restart with autorestart false), or a Job for one
that runs once (autorestart false); a Service for an app that listens."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from pm.export import container
from pm.export.app import ExportApp, HealthCheck
from pm.export.container import Options
from pm.export.notes import Notes, warn_unmapped

ENGINE = "Kubernetes"


def dns_name(name: str) -> str:
    """An RFC 1123 label (what Kubernetes object names must be) from an app name."""
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].rstrip("-")
    return label or "app"


def manifests(apps: list[ExportApp], options: Options, notes: Notes) -> dict[str, list[Any]]:
    """File name -> the objects it holds (one file per app)."""
    container.check_images(apps, options, notes)
    return {f"{dns_name(app.key)}.yaml": objects(app, apps, options, notes) for app in apps}


def objects(
    app: ExportApp, apps: list[ExportApp], options: Options, notes: Notes
) -> list[dict[str, Any]]:
    spec = app.spec
    pm_runtime = container.runs_pm_runtime(app, apps, options)
    reasons = container.unmapped(ENGINE, pm_runtime)
    reasons["depends_on"] = reasons["priority"] = (
        "not mapped: Kubernetes starts workloads in no order; make the app wait for what it needs"
    )
    if spec.cron_restart and not spec.autorestart:
        reasons.pop("cron_restart", None)  # it is the CronJob's schedule
    if not pm_runtime and spec.kill_signal not in (None, "SIGTERM"):
        reasons["kill_signal"] = (
            "Kubernetes stops a container with SIGTERM or the image's STOPSIGNAL: write "
            f"`STOPSIGNAL {spec.kill_signal}` in its Dockerfile (the pod's lifecycle.stopSignal "
            "needs the alpha ContainerStopSignals gate); not mapped"
        )
    warn_unmapped(spec, reasons, notes)
    container.check_listen(app, ENGINE, pm_runtime, notes)
    pod = pod_spec(app, apps, options, notes)
    if spec.cron_restart and not spec.autorestart:
        workload = cron_job(app, pod, notes)
    elif not spec.autorestart:
        workload = _object("batch/v1", "Job", app, job_spec(app, pod))
    else:
        workload = deployment(app, pod)
    return [workload, *([service(app)] if app.listen else [])]


def labels(app: ExportApp) -> dict[str, str]:
    found = {"app.kubernetes.io/name": dns_name(app.key)}
    if app.spec.namespace != "default":
        found["app.kubernetes.io/part-of"] = dns_name(app.spec.namespace)
    return found


def _object(api: str, kind: str, app: ExportApp, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": dns_name(app.key), "labels": labels(app)},
        "spec": spec,
    }


def deployment(app: ExportApp, pod: dict[str, Any]) -> dict[str, Any]:
    replicas = app.spec.instances if app.spec.autostart else 0
    return _object(
        "apps/v1",
        "Deployment",
        app,
        {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": dns_name(app.key)}},
            "template": {"metadata": {"labels": labels(app)}, "spec": pod},
        },
    )


def job_spec(app: ExportApp, pod: dict[str, Any]) -> dict[str, Any]:
    """Run to completion, not again (autorestart false): one pod per instance, no retry."""
    instances = app.spec.instances
    return {
        "parallelism": instances,
        "completions": instances,
        "backoffLimit": 0,
        "template": {
            "metadata": {"labels": labels(app)},
            "spec": {**pod, "restartPolicy": "Never"},
        },
    }


def cron_job(app: ExportApp, pod: dict[str, Any], notes: Notes) -> dict[str, Any]:
    schedule = str(app.spec.cron_restart)
    fields = schedule.split()
    if len(fields) == 6:  # croner's seconds come first; Kubernetes schedules by the minute
        notes.warn(
            app.name,
            "cron_restart",
            f"'{schedule}' has seconds, which Kubernetes does not schedule: they were dropped",
        )
        schedule = " ".join(fields[1:])
    return _object(
        "batch/v1",
        "CronJob",
        app,
        {
            "schedule": schedule,
            "concurrencyPolicy": "Forbid",  # pm never starts an app that is still running
            "suspend": not app.spec.autostart,
            "jobTemplate": {"metadata": {"labels": labels(app)}, "spec": job_spec(app, pod)},
        },
    )


def service(app: ExportApp) -> dict[str, Any]:
    return _object(
        "v1",
        "Service",
        app,
        {
            "selector": {"app.kubernetes.io/name": dns_name(app.key)},
            "ports": [
                {
                    "name": f"tcp-{point.port}",
                    "port": point.port,
                    "targetPort": point.port,
                    "protocol": "TCP",
                }
                for point in _unique_ports(app)
            ],
        },
    )


def _unique_ports(app: ExportApp) -> list[Any]:
    seen: dict[int, Any] = {}
    for point in app.listen:
        seen.setdefault(point.port, point)
    return list(seen.values())


def pod_spec(
    app: ExportApp, apps: list[ExportApp], options: Options, notes: Notes
) -> dict[str, Any]:
    spec = app.spec
    pm_runtime = container.runs_pm_runtime(app, apps, options)
    box: dict[str, Any] = {
        "name": dns_name(app.key),
        "image": container.image_name(app, options),
        "command": container.command(app, apps, options, notes),
        "workingDir": container.working_dir(app, options, notes),
    }
    env = container.environment(app, pm_runtime, notes)
    if env:
        box["env"] = [{"name": key, "value": value} for key, value in env.items()]
    if app.listen:
        box["ports"] = [
            {"containerPort": point.port, "name": f"tcp-{point.port}", "protocol": "TCP"}
            for point in _unique_ports(app)
        ]
    if spec.max_memory_restart:
        limit = container.byte_size(spec.max_memory_restart, ("Ki", "Mi", "Gi"))
        box["resources"] = {"limits": {"memory": limit}}
    if app.health:  # action "report": pm only shows the result, so the pod is not restarted
        if app.health.action == "restart":
            box["livenessProbe"] = probe(app.health, liveness=True)
        box["readinessProbe"] = probe(app.health, liveness=False)
    context = _security_context(app, notes)
    if context:
        box["securityContext"] = context
    grace = container.seconds(spec.kill_timeout) + (1 if pm_runtime else 0)  # pm-runtime's exit
    return {"terminationGracePeriodSeconds": grace, "containers": [box]}


def probe(check: HealthCheck, liveness: bool) -> dict[str, Any]:
    """A probe for the check: liveness waits start_period first, readiness does not."""
    found: dict[str, Any] = {}
    if check.kind == "http":
        url = urlsplit(check.target)
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        found["httpGet"] = {"path": path, "port": check.endpoint.port, "scheme": url.scheme.upper()}
    elif check.kind == "tcp":
        found["tcpSocket"] = {"port": check.endpoint.port}
    else:
        found["exec"] = {"command": ["/bin/sh", "-c", check.target]}
    found["periodSeconds"] = container.seconds(check.interval)
    found["timeoutSeconds"] = container.seconds(check.timeout)
    found["failureThreshold"] = check.retries
    if liveness and check.start_period:
        found["initialDelaySeconds"] = container.seconds(check.start_period)
    return found


def _security_context(app: ExportApp, notes: Notes) -> dict[str, int]:
    context = {}
    for attribute, key in (("uid", "runAsUser"), ("gid", "runAsGroup")):
        value = getattr(app.spec, attribute)
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            context[key] = int(value)
        elif value is not None:
            notes.warn(
                app.name,
                attribute,
                f"'{value}' is a name; Kubernetes takes a number ({key}): not mapped",
            )
    return context
