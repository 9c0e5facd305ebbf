"""Starting an app's process: its log outputs opened, its command launched, its pid file.

Nothing here decides whether to start: the supervisor does, and hands over the process
factory (`OSProcess.spawn`, or a test's fake) to start it with.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

from pm.config.command import is_node
from pm.daemon.core.app import App
from pm.daemon.core.listeners import launch_argv
from pm.daemon.core.process import AppProcess, LaunchSpec, ProcessFactory
from pm.daemon.core.readiness import Channels, ShareSocket
from pm.daemon.output import logfiles as logs

log = logging.getLogger("pm")


Launched = tuple[AppProcess, logs.Outputs, Channels]


def launch(
    app: App,
    home: str,
    spawn: ProcessFactory,
    run_first: bool,
    listen_fds: tuple[int, ...] = (),
    share: ShareSocket | None = None,
) -> Launched | str:
    """Open the app's outputs and channels and start its process, handing it the sockets
    listen_fds (at fd 3, 4, ...), and with share, the sockets its Node cluster worker asks
    for; on failure, why (nothing left open)."""
    try:
        outputs = logs.open_outputs(app.paths, app.spec, app.pm_id, app.unique_id)
    except OSError as exc:
        return f"cannot open log files: {exc}"
    try:
        channels = Channels.open(
            Path(home) / "run",
            app.pm_id,
            app.spec.wait_ready,
            is_node(app.command.interpreter),
            share,
        )
    except OSError as exc:
        outputs.close()
        outputs.close_child_ends()
        return f"cannot open its notify socket: {exc}"
    argv = launch_argv(app.command.argv, listen_fds) if listen_fds else app.command.argv
    try:
        proc = spawn(
            LaunchSpec(
                argv=argv,
                cwd=app.spec.cwd,
                env={**app.child_env(home), **channels.env()},
                stdout=outputs.stdout,
                stderr=outputs.stderr,
                uid=_id_or_none(app.spec.uid),
                gid=_id_or_none(app.spec.gid),
                pass_fds=listen_fds + channels.child_fds(),
            ),
            run_first=run_first,
        )
    except (KeyError, OSError, ValueError, subprocess.SubprocessError) as exc:
        # KeyError: Popen's getpwnam/getgrnam found no such user or group
        outputs.close()
        channels.close()
        reason = exc.args[0] if isinstance(exc, KeyError) else exc
        return f"cannot start {app.command.argv[0]}: {reason}"
    finally:
        outputs.close_child_ends()
        channels.after_spawn()
    return proc, outputs, channels


def _id_or_none(value: int | str | None) -> int | str | None:
    """uid/gid as Popen takes them; an empty value means the daemon's own."""
    return value if value not in (None, "") else None


def write_pid_file(path: str, pid: int) -> None:
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(str(pid))
    except OSError as exc:
        log.warning("cannot write pid file %s: %s", path, exc)


def remove_pid_file(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
