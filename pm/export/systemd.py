"""systemd units: per app a service (a template `name@.service` for instances, each with its
instance number in NODE_APP_INSTANCE), a `.socket` for `listen` (the same socket-activation
convention pm uses: LISTEN_FDS, fd 3) and a `-cron.timer` for `cron_restart`.

The command is resolved as pm resolves it here (absolute interpreter and script), since a
unit runs with systemd's PATH, not the shell's: the units are for this machine, or for hosts
laid out the same way.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import PurePosixPath

from pm.config.command import resolve_command, which
from pm.errors import ConfigError
from pm.export.app import ExportApp, guess_interpreter
from pm.export.calendar import Untranslatable, on_calendar
from pm.export.notes import Notes, warn_unmapped

#: PM2's exp_backoff_restart_delay stops growing at 15 s.
BACKOFF_CAP_MS = 15_000

UNMAPPED = {
    "watch": "not mapped: systemd restarts on exit only (a .path unit can watch one folder)",
    "ignore_watch": "not mapped: systemd does not watch files",
    "watch_delay": "not mapped: systemd does not watch files",
    "hooks": "pm's event hooks need pm: not mapped",
    "restart_group": "not mapped: systemd restarts each unit on its own",
    "priority": "not mapped: order the units with depends_on (After=/Wants=)",
    "shutdown_with_message": "not mapped: systemd stops a service with a signal",
    "listen_timeout": "not mapped: systemd fails a start that is not ready within "
    "TimeoutStartSec= (90 s by default), where pm proceeds",
    "pid_file": "not mapped: systemd tracks the main pid itself",
    "log_type": "not mapped: systemd writes the app's lines as they are",
    "logrotate": "not mapped: rotate the files with logrotate(8), or log to the journal",
}


def unit_name(name: str) -> str:
    """A unit name from an app name (letters, digits, ':', '_', '.', '-')."""
    return re.sub(r"[^A-Za-z0-9:_.-]+", "-", name).strip("-.") or "app"


def units(apps: list[ExportApp], notes: Notes) -> dict[str, str]:
    """File name -> unit text, for every app."""
    by_name = {app.name: app for app in apps}
    files: dict[str, str] = {}
    for app in apps:
        files.update(app_units(app, by_name, notes))
    return files


def app_units(app: ExportApp, by_name: dict[str, ExportApp], notes: Notes) -> dict[str, str]:
    spec = app.spec
    warn_unmapped(spec, UNMAPPED, notes)
    if app.health:
        notes.warn(
            app.name,
            "health_check",
            "not mapped: systemd has no health checks (an app "
            "can ping WatchdogSec= with sd_notify WATCHDOG=1)",
        )
    base = unit_name(app.key)
    template = spec.instances > 1
    service = f"{base}@.service" if template else f"{base}.service"
    files = {service: service_text(app, by_name, notes)}
    if app.listen:
        files[f"{base}.socket"] = socket_text(app)
    if spec.cron_restart:
        timer = timer_units(app, notes)
        files.update(timer)
    return files


def instance_units(app: ExportApp) -> list[str]:
    """The units systemctl starts for the app: name.service, or name@0..N-1.service."""
    base = unit_name(app.key)
    if app.spec.instances > 1:
        return [f"{base}@{index}.service" for index in range(app.spec.instances)]
    return [f"{base}.service"]


def service_text(app: ExportApp, by_name: dict[str, ExportApp], notes: Notes) -> str:
    spec = app.spec
    base = unit_name(app.key)
    after = ["network.target"]
    wants = []
    for needed in spec.depends_on:
        if needed in by_name:
            wants += instance_units(by_name[needed])
        else:
            notes.warn(
                app.name, "depends_on", f"'{needed}' is not among the exported apps: dropped"
            )
    if app.listen:
        wants.append(f"{base}.socket")
    unit = [
        _escape(f"Description={app.name} ({spec.script}), exported by pm"),
        f"After={' '.join(after + wants)}",
    ]
    if wants:
        unit.append(f"Wants={' '.join(wants)}")
    unit += start_limits(app)
    service = [
        f"Type={'notify' if spec.wait_ready else 'exec'}",
        *(["NotifyAccess=all"] if spec.wait_ready else []),
        f"ExecStart={exec_line(app, notes)}",
        f"WorkingDirectory={_escape(spec.cwd)}",
        *environment(app, notes),
        *user_lines(app),
        *restart_lines(app, notes),
        f"KillSignal={spec.kill_signal or 'SIGINT'}",  # SIGINT: pm's and PM2's default
        f"TimeoutStopSec={spec.kill_timeout}ms",
        *([] if spec.treekill else ["KillMode=process"]),
        *([f"MemoryMax={spec.max_memory_restart}"] if spec.max_memory_restart else []),
        *([f"Sockets={base}.socket"] if app.listen else []),
        *log_lines(app, notes),
    ]
    return _sections(("Unit", unit), ("Service", service), *_install(app, "multi-user.target"))


def exec_line(app: ExportApp, notes: Notes) -> str:
    """The command pm would exec here, as ExecStart= words. A script or interpreter missing
    here is written as pm would run it, with a warning: the unit may be for another host."""
    spec = app.spec
    path_env = spec.env.get("PATH") or os.environ.get("PATH")
    try:
        argv = resolve_command(spec, path_env).argv
    except ConfigError as exc:
        attribute = "interpreter" if "interpreter" in exc.message else "script"
        notes.warn(
            app.name,
            attribute,
            f"{exc.message}; the unit runs it as written, so the host must have it",
        )
        script = os.path.normpath(os.path.join(spec.cwd, os.path.expanduser(spec.script)))
        interpreter = spec.interpreter or guess_interpreter(spec.script, spec.cwd)
        if interpreter == "none":
            return " ".join(_word(word) for word in [script, *spec.args])
        found = which(interpreter, path_env)
        if found is None and attribute == "script":
            notes.warn(
                app.name,
                "interpreter",
                f"{interpreter!r} is not on PATH here; the unit names it as written",
            )
        argv = [found or interpreter, *spec.interpreter_args, script, *spec.args]
    return " ".join(_word(word) for word in argv)


def start_limits(app: ExportApp) -> list[str]:
    """PM2 gives up after max_restarts restarts that each ran under min_uptime: systemd gives
    up after StartLimitBurst= starts within StartLimitIntervalSec=, here the time that many
    short runs (min_uptime plus the delay) take. An approximation, documented as one."""
    spec = app.spec
    if not spec.autorestart:
        return []
    starts = spec.max_restarts + 1
    window = starts * (spec.min_uptime + spec.restart_delay)
    return [f"StartLimitIntervalSec={max(window, 1)}ms", f"StartLimitBurst={starts}"]


def restart_lines(app: ExportApp, notes: Notes) -> list[str]:
    spec = app.spec
    if not spec.autorestart:
        return ["Restart=no"]
    lines = ["Restart=always", f"RestartSec={spec.restart_delay}ms"]
    if spec.exp_backoff_restart_delay:
        lines[1] = f"RestartSec={spec.exp_backoff_restart_delay}ms"
        notes.warn(
            app.name,
            "exp_backoff_restart_delay",
            "mapped to a fixed RestartSec=; on systemd 254 or later add "
            f"RestartSteps={_backoff_steps(spec.exp_backoff_restart_delay)} and "
            f"RestartMaxDelaySec={BACKOFF_CAP_MS // 1000}s for PM2's growing delay",
        )
    if spec.stop_exit_codes:
        codes = " ".join(str(code) for code in spec.stop_exit_codes)
        lines += [f"RestartPreventExitStatus={codes}", f"SuccessExitStatus={codes}"]
    return lines


def _backoff_steps(start_ms: int) -> int:
    """How many x1.5 steps PM2 takes from start_ms to its cap."""
    steps, delay = 0, float(start_ms)
    while delay < BACKOFF_CAP_MS:
        delay, steps = delay * 1.5, steps + 1
    return max(steps, 1)


def environment(app: ExportApp, notes: Notes) -> list[str]:
    spec = app.spec
    env = dict(spec.env)
    if spec.port is not None:
        env["PORT"] = str(spec.port)
    env[spec.instance_var] = "%i" if spec.instances > 1 else "0"
    if spec.increment_var and spec.instances > 1:
        notes.warn(
            app.name,
            "increment_var",
            "cannot be mapped: systemd cannot add the "
            "instance number, every instance gets "
            f"{spec.increment_var}="
            f"{env.get(spec.increment_var, '0')}",
        )
    return [
        f'Environment="{_quoted(f"{key}={value}", keep_specifiers=value == "%i")}"'
        for key, value in env.items()
    ]


def user_lines(app: ExportApp) -> list[str]:
    lines = []
    if app.spec.uid is not None:
        lines.append(f"User={app.spec.uid}")
    if app.spec.gid is not None:
        lines.append(f"Group={app.spec.gid}")
    return lines


def log_lines(app: ExportApp, notes: Notes) -> list[str]:
    """Files as pm would write them (one per instance unless merge_logs), else the journal."""
    spec = app.spec
    if spec.disable_logs:
        return ["StandardOutput=null", "StandardError=null"]
    combined = spec.log_file if isinstance(spec.log_file, str) else None
    if spec.log_file is True:
        notes.warn(
            app.name,
            "log_file",
            "true names a file in pm's home: not mapped (give a path, or read the journal)",
        )
    out = spec.out_file or combined
    err = spec.error_file or combined
    if combined and spec.out_file and spec.error_file:
        notes.warn(
            app.name,
            "log_file",
            "not mapped: systemd writes each stream to one place "
            "(out_file and error_file were kept)",
        )
    if (out or err) and (spec.time or spec.log_date_format):
        attribute = "log_date_format" if spec.log_date_format and not spec.time else "time"
        notes.warn(
            app.name,
            attribute,
            "not mapped: systemd writes no dates into log files (the journal dates every line)",
        )
    lines = []
    if out:
        lines.append(f"StandardOutput=append:{_log_path(app, out)}")
    if err:
        lines.append(f"StandardError=append:{_log_path(app, err)}")
    return lines


def _log_path(app: ExportApp, path: str) -> str:
    """The file for one instance: PM2 puts `-<id>` before the extension, unless merge_logs
    (escaped for the unit, with the instance specifier %i)."""
    absolute = os.path.normpath(os.path.join(app.spec.cwd, os.path.expanduser(path)))
    if app.spec.instances == 1 or app.spec.merge_logs or absolute == "/dev/null":
        return _escape(absolute)
    pure = PurePosixPath(_escape(absolute))
    return str(pure.with_name(f"{pure.stem}-%i{pure.suffix}"))


def socket_text(app: ExportApp) -> str:
    """The sockets pm would bind and hand over, bound by systemd instead."""
    listen = [f"ListenStream={point}" for point in app.listen]
    service = instance_units(app)[0]
    return _sections(
        ("Unit", [_escape(f"Description=sockets of {app.name}, exported by pm")]),
        ("Socket", [*listen, f"Service={service}"]),
        ("Install", ["WantedBy=sockets.target"]),
    )


def timer_units(app: ExportApp, notes: Notes) -> dict[str, str]:
    """cron_restart as a timer: it restarts a long-running app, or starts again one that ran
    to completion (autorestart false), as pm's cron does."""
    pattern = str(app.spec.cron_restart)
    try:
        calendar = on_calendar(pattern)
    except Untranslatable as exc:
        notes.warn(
            app.name,
            "cron_restart",
            f"'{pattern}' has no systemd calendar form ({exc}): not mapped",
        )
        return {}
    if calendar.either_day:
        notes.warn(
            app.name,
            "cron_restart",
            f"'{pattern}' restricts the day of the month and "
            "the weekday: cron runs on either, systemd's "
            "OnCalendar= only on days matching both",
        )
    base = unit_name(app.key)
    verb = "restart" if app.spec.autorestart else "start"
    systemctl = shutil.which("systemctl") or "/usr/bin/systemctl"
    service = _sections(
        (
            "Unit",
            [
                _escape(
                    f"Description={verb} {app.name} on its cron_restart schedule, exported by pm"
                )
            ],
        ),
        (
            "Service",
            [
                "Type=oneshot",
                f"ExecStart={_word(systemctl)} {verb} {' '.join(instance_units(app))}",
            ],
        ),
    )
    timer = _sections(
        ("Unit", [_escape(f"Description={app.name}'s cron_restart ({pattern}), exported by pm")]),
        ("Timer", [f"OnCalendar={calendar.expression}", f"Unit={base}-cron.service"]),
        *_install(app, "timers.target"),
    )
    return {f"{base}-cron.service": service, f"{base}-cron.timer": timer}


def _install(app: ExportApp, target: str) -> list[tuple[str, list[str]]]:
    """An [Install] section, none for autostart false: such an app is started by hand, as
    pm registers it without starting it (`systemctl enable` then has nothing to do)."""
    return [("Install", [f"WantedBy={target}"])] if app.spec.autostart else []


def _sections(*sections: tuple[str, list[str]]) -> str:
    return "\n".join(
        f"[{title}]\n" + "".join(f"{line}\n" for line in lines) for title, lines in sections
    )


def _quoted(text: str, keep_specifiers: bool = False) -> str:
    """The inside of a double-quoted systemd string: C escapes, % doubled (no specifier)."""
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return text if keep_specifiers else text.replace("%", "%%")


def _escape(path: str) -> str:
    """A path in a setting that takes one: only specifiers need escaping."""
    return path.replace("%", "%%")


def _word(word: str) -> str:
    """One ExecStart= word: quoted when it has anything systemd would split or expand."""
    safe = word.replace("%", "%%").replace("$", "$$")
    if word and not re.search(r"[\s\"'\\;]", word):
        return safe
    return '"' + _quoted(word).replace("$", "$$") + '"'
