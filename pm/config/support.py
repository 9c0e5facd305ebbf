"""What pm does with each ecosystem attribute: nothing accepted is silently ignored.

Every `AppSpec` field is in exactly one of three tables (tests/test_no_silent_option.py walks
the fields and fails on one in no table, or in two):

* USED: the daemon (or the config layer) acts on it; the value names the module that does,
  and the test checks the attribute is still read there, so a stale entry is caught.
* WARNED: pm stores it (jlist shows it, as PM2's) but does not honour it; a non-default value
  gives a warning naming the app and the attribute. The value is a sample non-default value
  (for the test) and the reason shown to the user.
* ALWAYS_TRUE: it asks for what pm always does; the reason says why no warning is needed.

The keys PM2 accepts that pm does not even store (IGNORED_KEYS) get the same treatment:
warned when set to a true value, or silent with a reason.
"""

from __future__ import annotations

from typing import Any

#: Attribute -> the module that acts on it (relative to the repository root).
USED: dict[str, str] = {
    "script": "pm/config/command.py",
    "name": "pm/daemon/core/selectors.py",
    "namespace": "pm/daemon/core/selectors.py",
    "cwd": "pm/daemon/core/process.py",
    "args": "pm/config/command.py",
    "interpreter": "pm/config/command.py",
    "interpreter_args": "pm/config/command.py",
    "instances": "pm/daemon/core/supervisor.py",
    "exec_mode": "pm/daemon/core/lifecycle.py",  # cluster: Node apps only (attributes.py warns)
    "env": "pm/daemon/core/app.py",
    "autorestart": "pm/daemon/core/policy.py",
    "autostart": "pm/daemon/core/supervisor.py",
    "max_restarts": "pm/daemon/core/policy.py",
    "min_uptime": "pm/daemon/core/policy.py",
    "restart_delay": "pm/daemon/core/policy.py",
    "exp_backoff_restart_delay": "pm/daemon/core/policy.py",
    "stop_exit_codes": "pm/daemon/core/policy.py",
    "kill_timeout": "pm/daemon/core/lifecycle.py",
    "kill_signal": "pm/daemon/core/lifecycle.py",
    "cron_restart": "pm/daemon/automation/restarts.py",
    "max_memory_restart": "pm/daemon/automation/restarts.py",
    "watch": "pm/daemon/automation/restarts.py",
    "ignore_watch": "pm/daemon/automation/restarts.py",
    "watch_delay": "pm/daemon/automation/restarts.py",
    "time": "pm/daemon/output/logfiles.py",
    "log_date_format": "pm/daemon/output/logfiles.py",
    "log_type": "pm/daemon/output/logfiles.py",
    "out_file": "pm/daemon/output/logfiles.py",
    "error_file": "pm/daemon/output/logfiles.py",
    "log_file": "pm/daemon/output/logfiles.py",
    "merge_logs": "pm/daemon/output/logfiles.py",
    "disable_logs": "pm/daemon/output/logfiles.py",
    "pid_file": "pm/daemon/output/logfiles.py",
    "port": "pm/daemon/core/app.py",
    "instance_var": "pm/daemon/core/app.py",
    "increment_var": "pm/daemon/core/app.py",
    "filter_env": "pm/daemon/handlers/start.py",
    "append_env_to_name": "pm/config/attributes.py",  # applied when the file is read
    "treekill": "pm/daemon/core/lifecycle.py",
    "uid": "pm/daemon/core/launch.py",
    "gid": "pm/daemon/core/launch.py",
    "version": "pm/daemon/core/app.py",  # a label jlist shows: PM2 does no more with it
    "hooks": "pm/daemon/automation/hooks.py",
    "priority": "pm/daemon/core/groups.py",
    "depends_on": "pm/daemon/core/groups.py",
    "restart_group": "pm/daemon/core/groups.py",
    "logrotate": "pm/daemon/output/rotation.py",
    "wait_ready": "pm/daemon/core/lifecycle.py",
    "listen_timeout": "pm/daemon/core/lifecycle.py",
    "shutdown_with_message": "pm/daemon/core/lifecycle.py",
    "listen": "pm/daemon/core/listeners.py",
    "health_check": "pm/daemon/automation/health.py",
}

#: Attribute -> (a non-default value, what the warning says after naming it).
WARNED: dict[str, tuple[Any, str]] = {
    "kill_retry_time": (
        250,
        "has no effect in pm; it waits kill_timeout for the app to exit, "
        "checking on its own schedule",
    ),
    "watch_options": (
        {"usePolling": True},
        "has no effect in pm (they are Node chokidar "
        "options); use watch, ignore_watch and watch_delay",
    ),
    "force": (
        True,
        "has no effect in an app's settings in pm; pass -f to pm start to start "
        "an app that already runs",
    ),
}

#: Attribute -> why its value needs no warning.
ALWAYS_TRUE: dict[str, str] = {
    "vizion": "pm reads no version-control metadata: false asks for exactly that, and the "
    "default true is only reported in jlist, as PM2 reports it",
}

#: Keys PM2 accepts that pm does not store, warned about when set to a true value.
IGNORED_WARNED: dict[str, str] = {
    "source_map_support": "pm injects no source-map support into Node apps",
    "sourceMapSupport": "pm injects no source-map support into Node apps",
    "trace": "pm has no PM2.io tracing",
    "deep_monitoring": "pm has no PM2.io monitoring",
    "io": "pm has no PM2.io connection",
    "post_update": "PM2 runs it after `pm2 pull` or a PM2.io update; pm has neither",
    "ref": "deploy settings go in the file's deploy section, read by `pm deploy`",
    "repo": "deploy settings go in the file's deploy section, read by `pm deploy`",
}

#: Keys PM2 accepts that pm does not store, silent, with the reason.
IGNORED_SILENT: dict[str, str] = {
    "windows_hide": "Windows only: on POSIX no console window ever opens",
    "windowsHide": "Windows only: on POSIX no console window ever opens",
    "disable_source_map_support": "asks for no source-map injection; pm never injects one",
    "disable_trace": "asks for no PM2.io tracing; pm has none",
    "pmx": "PM2.io instrumentation switch: pm has none, so false is what it does and true "
    "is PM2's default",
    "automation": "PM2.io instrumentation switch: pm has none, so false is what it does and "
    "true is PM2's default",
    "instance_id": "PM2 runtime state found in PM2 dumps and jlist, not a setting",
    "km_link": "PM2 runtime state found in PM2 dumps and jlist, not a setting",
    "vizion_running": "PM2 runtime state found in PM2 dumps and jlist, not a setting",
    "node_version": "PM2 runtime state found in PM2 dumps and jlist, not a setting",
    "execute_command": "PM2 only turns it into fork mode; attributes.py does the same",
    "exec_mode_override": "PM2 runtime state found in PM2 dumps, not a setting",
    "min_uptime_ms": "PM2 runtime state found in PM2 dumps (min_uptime is the setting)",
    "force_exec": "PM2 runtime state found in PM2 dumps, not a setting",
}

IGNORED_KEYS = frozenset(IGNORED_WARNED) | frozenset(IGNORED_SILENT)


def _where(label: str, name: str) -> str:
    """The label, naming the app when it does not already (CLI labels name the script)."""
    return label if f"({name})" in label else f"{label}: app '{name}'"


def unsupported_warnings(
    values: dict[str, Any], defaults: dict[str, Any], label: str, name: str
) -> list[str]:
    """One warning per WARNED attribute whose value (canonical, normalised) is not its default."""
    where = _where(label, name)
    return [
        f"{where}: '{attr}' {reason}"
        for attr, (_, reason) in WARNED.items()
        if attr in values and values[attr] != defaults.get(attr)
    ]


def ignored_key_warning(key: str, value: Any, label: str) -> str | None:
    """The warning for an IGNORED_WARNED key set to a true value, else None."""
    if key in IGNORED_WARNED and value not in (None, False, 0, "", "false", [], {}):
        return f"{label}: '{key}' has no effect in pm ({IGNORED_WARNED[key]})"
    return None
