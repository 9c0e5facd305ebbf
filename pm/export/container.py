"""What the two container targets share: the image of each app, the command its container
runs, paths inside the image, durations and sizes.

The image holds the project folder (the ecosystem file's folder; the current folder for the
running list) at `workdir` (/app by default, as examples/Dockerfile lays it out), so a path
under the project folder here becomes the same path under workdir there.

When one image holds several apps (`--image` shared by them), each container runs
`pm-runtime start <file> --only <app> -i 1`: pm reads the file inside the image, so the
interpreter, env profiles, cron restarts and memory restarts behave as under pm, with the
engine's replicas in place of pm's instances. An app with an image of its own runs its
command directly.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath

from pm.export.app import ExportApp, guess_interpreter
from pm.export.notes import Notes

DEFAULT_WORKDIR = "/app"


@dataclass(frozen=True)
class Options:
    """How the export was asked for."""

    image: str | None = None  # --image: the image of every app without its own
    workdir: str = DEFAULT_WORKDIR  # where the image holds the project folder
    env_name: str | None = None  # --env: the profile applied (pm-runtime applies it too)
    base: str = "."  # the project folder on this machine


def image_name(app: ExportApp, options: Options) -> str:
    """The app's own image, else --image, else one named after the app (warned by caller)."""
    if app.image:
        return app.image
    if options.image:
        return options.image
    slug = re.sub(r"[^a-z0-9._-]+", "-", app.key.lower()).strip("-._") or "app"
    return f"{slug}:latest"


def check_images(apps: list[ExportApp], options: Options, notes: Notes) -> None:
    for app in apps:
        if not app.image and not options.image:
            notes.warn(
                app.name,
                "image",
                f"not set and no --image given; wrote "
                f"'{image_name(app, options)}': build it under that "
                "name, or pass --image",
            )


def runs_pm_runtime(app: ExportApp, apps: list[ExportApp], options: Options) -> bool:
    """Whether the app's image holds other apps too (and the file to start it from)."""
    if not app.source:
        return False
    image = image_name(app, options)
    return sum(image_name(other, options) == image for other in apps) > 1


def image_path(path: str, options: Options) -> str:
    """A path of this machine as the image holds it (unchanged outside the project folder)."""
    base = os.path.abspath(options.base)
    absolute = os.path.normpath(os.path.join(base, path))
    if absolute == base or absolute.startswith(base.rstrip("/") + "/"):
        return str(PurePosixPath(options.workdir) / os.path.relpath(absolute, base))
    return absolute


def working_dir(app: ExportApp, options: Options, notes: Notes) -> str:
    return _in_image(app, "cwd", app.spec.cwd, options, notes)


def _in_image(app: ExportApp, attribute: str, path: str, options: Options, notes: Notes) -> str:
    """image_path, with a warning when the path is outside the project folder."""
    mapped = image_path(path, options)
    if not mapped.startswith(options.workdir.rstrip("/") + "/") and mapped != options.workdir:
        notes.warn(
            app.name,
            attribute,
            f"{path} is outside the project folder "
            f"{os.path.abspath(options.base)}; kept as is, so the "
            "image must have it",
        )
    return mapped


def command(
    app: ExportApp,
    apps: list[ExportApp],
    options: Options,
    notes: Notes,
    keep_running: bool = False,
) -> list[str]:
    """What the app's container runs (replacing the image's entrypoint). keep_running: pm's
    cron starts the app again, so pm-runtime must not exit when it ends."""
    if runs_pm_runtime(app, apps, options):
        line = [
            "pm-runtime",
            "start",
            _in_image(app, "script", app.source, options, notes),
            "--only",
            app.name,
            "-i",
            "1",
        ]
        line += ["--env", options.env_name] if options.env_name else []
        return line + (["--no-auto-exit"] if keep_running else [])
    return direct_command(app, options, notes)


def direct_command(app: ExportApp, options: Options, notes: Notes) -> list[str]:
    """The app's own command line, with the interpreter pm would pick by extension, named
    without a path (the image's PATH finds it)."""
    spec = app.spec
    script = spec.script
    if os.path.isabs(script):
        script = _in_image(app, "script", script, options, notes)
    interpreter = spec.interpreter
    if interpreter and os.path.isabs(interpreter):
        interpreter = _in_image(app, "interpreter", interpreter, options, notes)
    if interpreter is None:
        if " " in spec.script.strip() and not _is_file(spec.script, spec.cwd):
            return ["/bin/sh", "-c", " ".join([spec.script, *map(shlex.quote, spec.args)])]
        interpreter = guess_interpreter(spec.script, spec.cwd)
    if interpreter == "none":
        return [script, *spec.args]
    return [interpreter, *spec.interpreter_args, script, *spec.args]


def _is_file(script: str, cwd: str) -> bool:
    return os.path.isfile(os.path.join(cwd, os.path.expanduser(script)))


def environment(app: ExportApp, pm_runtime: bool, notes: Notes) -> dict[str, str]:
    """The variables the container gets; under pm-runtime the file in the image sets them."""
    env = dict(app.spec.env)
    if app.spec.port is not None:
        env["PORT"] = str(app.spec.port)
    if app.spec.increment_var and app.spec.instances > 1:
        notes.warn(
            app.name,
            "increment_var",
            "cannot be mapped: every replica gets "
            f"{app.spec.increment_var}="
            f"{env.get(app.spec.increment_var, '0')}",
        )
    return {} if pm_runtime else env


def seconds(ms: int) -> int:
    """Whole seconds, rounded up, at least 1 (Kubernetes counts probe times in seconds)."""
    return max(1, math.ceil(ms / 1000))


def duration(ms: int) -> str:
    """A compose duration: "5s" when whole seconds, else "1600ms"."""
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def byte_size(size: int, units: tuple[str, str, str]) -> str:
    """Bytes in the largest unit that divides them exactly (K/M/G spelled by units)."""
    for power, unit in ((3, units[2]), (2, units[1]), (1, units[0])):
        if size % 1024**power == 0:
            return f"{size // 1024**power}{unit}"
    return str(size)


_LOGS = "{engine} takes the container's stdout and stderr; no log file is written"
_RESTARTS = "{engine} restarts a container with its own back-off, not pm's policy"


def unmapped(engine: str, pm_runtime: bool) -> dict[str, str]:
    """Attribute -> why a container without pm (or with pm-runtime) cannot honour it."""
    across = {
        "restart_group": "restarts apps together across their containers: not mapped "
        f"({engine} restarts each on its own)"
    }
    if pm_runtime:
        return across
    reasons = {
        **across,
        **{
            name: _LOGS
            for name in (
                "out_file",
                "error_file",
                "log_file",
                "pid_file",
                "time",
                "log_date_format",
                "log_type",
                "logrotate",
            )
        },
        **{
            name: "no file watching in a container: build and roll out a new image instead"
            for name in ("watch", "ignore_watch", "watch_delay")
        },
        **{
            name: _RESTARTS
            for name in ("restart_delay", "exp_backoff_restart_delay", "max_restarts", "min_uptime")
        },
        "stop_exit_codes": "not mapped: {engine} restarts whatever the exit code",
        "hooks": "pm's event hooks need pm: not mapped (run the service under pm-runtime to "
        "keep them)",
        "cron_restart": "a scheduled restart of a long-running app needs pm: not mapped "
        "(give several apps one --image to run them under pm-runtime)",
        "treekill": "not mapped: stopping a container stops every process in it",
        "shutdown_with_message": "not mapped: a container is stopped with a signal",
        "wait_ready": "not mapped: say when the app is ready with a health_check",
        "listen_timeout": "not mapped: say when the app is ready with a health_check",
        "disable_logs": _LOGS,
    }
    return {name: reason.format(engine=engine) for name, reason in reasons.items()}


def check_listen(app: ExportApp, engine: str, pm_runtime: bool, notes: Notes) -> None:
    """The two ways a `listen` of pm's can fail in a container."""
    loopback = [str(point) for point in app.listen if point.loopback]
    if loopback:
        notes.warn(
            app.name,
            "listen",
            f"{', '.join(loopback)} is the container's own "
            f"loopback: nothing outside it (the {engine} port or "
            "service) reaches it; listen on 0.0.0.0",
        )
    if app.listen and not pm_runtime:
        notes.warn(
            app.name,
            "listen",
            "no pm hands the socket over in this container: the "
            "app must bind the port itself (or run under "
            "pm-runtime: give several apps one --image)",
        )
