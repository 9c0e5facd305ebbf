"""The `pm start` options (PM2's flags) and how they become ecosystem attributes."""

from __future__ import annotations

import os
from typing import Any

import click


def start_options(func: Any) -> Any:
    options = [
        click.option("-n", "--name", help="App name (default: script name without extension)."),
        click.option("--interpreter", help="Interpreter, or 'none' to exec the file directly."),
        click.option(
            "--interpreter-args",
            "--node-args",
            "interpreter_args",
            help="Arguments for the interpreter.",
        ),
        click.option("--cwd", help="Working directory of the app."),
        click.option("--namespace", help="Namespace (default: 'default')."),
        click.option("-i", "--instances", help="Number of instances ('max' = CPU count)."),
        click.option(
            "--no-autorestart",
            "no_autorestart",
            is_flag=True,
            help="Do not restart the app when it exits.",
        ),
        click.option(
            "--no-autostart",
            "no_autostart",
            is_flag=True,
            help="Register the app without starting it.",
        ),
        click.option("--restart-delay", help="Delay before an automatic restart (ms)."),
        click.option("--exp-backoff-restart-delay", help="Exponential backoff base delay (ms)."),
        click.option("--max-restarts", help="Unstable restarts before 'errored' (default 16)."),
        click.option(
            "--min-uptime", help="Uptime below which an exit is unstable (default 1000ms)."
        ),
        click.option("-k", "--kill-timeout", help="Grace period before SIGKILL (default 1600ms)."),
        click.option("--stop-exit-codes", multiple=True, help="Exit codes that do not restart."),
        click.option("--max-memory-restart", help="Restart above this memory (e.g. 150M)."),
        click.option(
            "-c", "--cron", "--cron-restart", "cron_restart", help="Cron restart pattern."
        ),
        click.option("-o", "--output", "out_file", help="Stdout log file."),
        click.option("-e", "--error", "error_file", help="Stderr log file."),
        click.option("-l", "--log", "log_file", help="Combined log file."),
        click.option("-p", "--pid", "pid_file", help="Pid file path."),
        click.option(
            "--merge-logs", is_flag=True, default=None, help="One log file for all instances."
        ),
        click.option("--log-type", help="'json' for JSON log lines."),
        click.option("--log-date-format", help="Prefix lines with this date format."),
        click.option("--time", is_flag=True, default=None, help="Prefix log lines with the time."),
        click.option(
            "--disable-logs", is_flag=True, default=None, help="Discard the app's output."
        ),
        click.option("--watch", is_flag=True, default=None, help="Restart on file changes."),
        click.option("--ignore-watch", help="Paths or globs not to watch."),
        click.option(
            "--watch-delay", help="Quiet time before a watch restart (4 = 4 s, or 4000ms)."
        ),
        click.option(
            "--no-treekill",
            "no_treekill",
            is_flag=True,
            help="Signal only the main process, not its tree.",
        ),
        click.option("--listen-timeout", help="Wait-ready timeout (ms)."),
        click.option("--wait-ready", is_flag=True, default=None, help="Wait for a ready signal."),
        click.option(
            "--shutdown-with-message",
            is_flag=True,
            default=None,
            help="Ask the app to shut down by message.",
        ),
        click.option("--filter-env", multiple=True, help="Drop shell variables with this prefix."),
        click.option("--uid", help="Run as this user (root only)."),
        click.option("--gid", help="Run as this group (root only)."),
        click.option("--env", "env_name", help="Apply env_<name> from the ecosystem file."),
        click.option("--only", help="Only these apps of the ecosystem file (a,b)."),
        click.option("-f", "--force", is_flag=True, help="Start even if already running."),
        click.option(
            "-a",
            "--update-env",
            is_flag=True,
            callback=_warn_update_env,
            help="Accepted as in PM2; no effect on pm start (use pm restart -a).",
        ),
        click.option(
            "-x",
            "--execute-command",
            "force_fork",
            is_flag=True,
            help="Fork mode, even for a Node script given instances (no cluster mode).",
        ),
        click.option(
            "--no-vizion",
            "no_vizion",
            is_flag=True,
            help="Report vizion: false (pm reads no version-control metadata).",
        ),
        # PM2.io switches that turn its Node instrumentation off: pm has none, so what they
        # ask for is what always happens.
        click.option(
            "--no-pmx",
            "--no-automation",
            "--disable-trace",
            "no_pm2io",
            is_flag=True,
            help="Accepted as in PM2: pm has no PM2.io instrumentation.",
        ),
        click.option("-s", "--silent", is_flag=True, help="Print nothing on success."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _warn_update_env(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """`pm start -a` is accepted and does nothing, so say so (FLAGS_WITHOUT_ATTRIBUTE)."""
    if value:
        from pm.cli import render

        click.echo(
            render.warn(
                "pm start: '--update-env' has no effect on pm start in pm; "
                "known apps start again with the environment they were saved "
                "with (use pm restart <app> --update-env)"
            ),
            err=True,
        )
    return value


#: Start flags (click parameter names) that set no attribute, with what pm does with them.
#: tests/test_no_silent_option.py checks every flag is here or in FLAG_ATTRIBUTES.
FLAGS_WITHOUT_ATTRIBUTE = {
    "env_name": "selects the env_<name> profile of an ecosystem file (read by plan_start)",
    "only": "selects apps of an ecosystem file (read by plan_start)",
    "force": "sent with the start request: the daemon starts a script that already runs",
    "silent": "read by the start command: prints nothing on success",
    "update_env": "warned when used: no effect on pm start (_warn_update_env)",
    "no_pm2io": "always true: pm has no PM2.io instrumentation to turn off",
}

#: Start flags (click parameter names) -> the attribute each sets (see pm.config.support).
FLAG_ATTRIBUTES = {
    **{
        name: name
        for name in (
            "name",
            "interpreter",
            "interpreter_args",
            "cwd",
            "namespace",
            "instances",
            "restart_delay",
            "exp_backoff_restart_delay",
            "max_restarts",
            "min_uptime",
            "kill_timeout",
            "max_memory_restart",
            "cron_restart",
            "out_file",
            "error_file",
            "log_file",
            "pid_file",
            "merge_logs",
            "log_type",
            "log_date_format",
            "time",
            "disable_logs",
            "watch",
            "ignore_watch",
            "listen_timeout",
            "wait_ready",
            "shutdown_with_message",
            "uid",
            "gid",
            "stop_exit_codes",
            "filter_env",
            "watch_delay",
        )
    },
    "no_autorestart": "autorestart",
    "no_autostart": "autostart",
    "no_treekill": "treekill",
    "no_vizion": "vizion",
    "force_fork": "exec_mode",
}

#: CLI flag -> ecosystem attribute, for flags whose value passes through unchanged.
_PASS_THROUGH = (
    "name",
    "interpreter",
    "interpreter_args",
    "cwd",
    "namespace",
    "instances",
    "restart_delay",
    "exp_backoff_restart_delay",
    "max_restarts",
    "min_uptime",
    "kill_timeout",
    "max_memory_restart",
    "cron_restart",
    "out_file",
    "error_file",
    "log_file",
    "pid_file",
    "merge_logs",
    "log_type",
    "log_date_format",
    "time",
    "disable_logs",
    "watch",
    "ignore_watch",
    "listen_timeout",
    "wait_ready",
    "shutdown_with_message",
    "uid",
    "gid",
)


def overrides_from(options: dict[str, Any]) -> dict[str, Any]:
    """The attributes the user set on the command line (nothing for flags left unset)."""
    found = {key: options[key] for key in _PASS_THROUGH if options.get(key) not in (None, ())}
    if found.get("name") == "":  # PM2: an empty --name falls back to the script's name
        del found["name"]
    if options.get("cwd"):
        found["cwd"] = os.path.abspath(options["cwd"])
    if options.get("no_autorestart"):
        found["autorestart"] = False
    if options.get("no_autostart"):
        found["autostart"] = False
    if options.get("no_treekill"):
        found["treekill"] = False
    if options.get("no_vizion"):
        found["vizion"] = False
    if options.get("force_fork"):
        found["exec_mode"] = "fork_mode"  # PM2's -x: execute_command, fork mode
    if options.get("stop_exit_codes"):
        found["stop_exit_codes"] = [
            code for item in options["stop_exit_codes"] for code in item.replace(",", " ").split()
        ]
    if options.get("filter_env"):
        found["filter_env"] = list(options["filter_env"])
    if options.get("watch_delay"):
        found["watch_delay"] = watch_delay_ms(options["watch_delay"])
    return found


def watch_delay_ms(text: str) -> int:
    """PM2's `--watch-delay`: a bare number is seconds ("4", "1.5"), "4000ms" milliseconds
    (the ecosystem attribute `watch_delay` is milliseconds)."""
    from pm.config.spec import parse_duration_ms
    from pm.errors import ConfigError

    try:
        return parse_duration_ms(text, "--watch-delay", default_unit="s")
    except ConfigError:
        raise click.BadParameter(
            f"{text!r} is not a delay (use 4 for seconds or 4000ms)", param_hint="--watch-delay"
        ) from None
