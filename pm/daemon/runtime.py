"""Foreground runtime for containers and cron: `pm-runtime start eco.json`, `pm start --no-daemon`.

The command line (pm/cli/runtime.py) reads the files and flags, then execs this module with the
resulting specs, so the daemon side never loads click and the process keeps its pid.

The whole daemon (supervisor, socket server, hooks, restart groups) runs in this process, in the
foreground. By default it uses a private temporary PM_HOME that is removed on exit, so it never
meets a user's daemon; `--home DIR` uses a fixed home instead, and then `PM_HOME=DIR pm ls` works
against the running runtime. App output is printed with PM2's prefix (`0|api      | line`): stdout
lines on stdout, stderr lines on stderr; pm's own log lines go to stdout.

It ends when every app is down (stopped or errored), unless `--no-auto-exit`: status 0 when each
app ended with exit code 0 or one of its `stop_exit_codes`, otherwise the first failing app's exit
code (1 when that is not a plain code). SIGTERM/SIGINT stop all apps gracefully (kill_timeout,
reverse start order) and exit 0 unless an app could not be stopped. `--lock FILE` takes an
exclusive lock for the runtime's life and refuses to run when another instance holds it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pm.config.spec import AppSpec
from pm.protocol import DOWN_STATUSES, Status

LOCKED_EXIT = 3
POLL_INTERVAL = 0.05
PREFIX_WIDTH = 10


def prefix(pm_id: int, name: str) -> str:
    """PM2's log prefix: `<id>|<name>` padded to 10 characters, then ` | `."""
    return f"{pm_id}|{name}".ljust(PREFIX_WIDTH) + " | "


@dataclass
class _Followed:
    label: str
    stream: IO[bytes]
    offset: int = 0
    pending: bytes = b""


@dataclass
class LogFollower:
    """Print new lines of every app's log files with PM2's prefix (polls; files stay the truth)."""

    supervisor: Any
    out: IO[bytes]
    err: IO[bytes]
    from_start: bool = True
    files: dict[str, _Followed] = field(default_factory=dict)

    def poll(self) -> None:
        for app in list(self.supervisor.apps.values()):
            label = prefix(app.pm_id, app.name)
            for path, stream in ((app.paths.out, self.out), (app.paths.err, self.err)):
                if path == "/dev/null":
                    continue
                if path not in self.files:
                    self.files[path] = _Followed(label, stream, self._start_offset(path))
                self._read(path, self.files[path])
        self.out.flush()
        self.err.flush()

    def _start_offset(self, path: str) -> int:
        if self.from_start:
            return 0
        try:
            return os.path.getsize(path)
        except OSError:
            return 0

    def _read(self, path: str, followed: _Followed) -> None:
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size < followed.offset:  # truncated (flush / rotation): start over
                    followed.offset = 0
                handle.seek(followed.offset)
                data = handle.read()
        except OSError:
            return
        followed.offset += len(data)
        *lines, followed.pending = (followed.pending + data).split(b"\n")
        for line in lines:
            followed.stream.write(followed.label.encode() + line + b"\n")

    def flush_partial(self) -> None:
        for followed in self.files.values():
            if followed.pending:
                followed.stream.write(followed.label.encode() + followed.pending + b"\n")
                followed.pending = b""
        self.out.flush()
        self.err.flush()


def outcome(apps: list[Any], interrupted: bool) -> int:
    """The runtime's exit status from how its apps ended."""
    for app in sorted(apps, key=lambda a: a.pm_id):
        if app.status == Status.ERRORED:
            return _as_status(app.exit_code)
        if interrupted:
            continue  # we stopped it: whatever code it died with was asked for
        code = app.exit_code
        if code is not None and code != 0 and code not in app.spec.stop_exit_codes:
            return _as_status(code)
    return 0


def _as_status(code: int | None) -> int:
    return code if code is not None and 0 < code < 256 else 1


async def _run(specs: list[AppSpec], home: Any, auto_exit: bool, from_start: bool) -> int:
    from pm.daemon.handlers import HANDLERS
    from pm.daemon.main import Daemon

    ready = asyncio.Event()
    daemon = Daemon(home, on_ready=ready.set)
    runner = asyncio.create_task(daemon.run())
    follower = LogFollower(daemon.supervisor, sys.stdout.buffer, sys.stderr.buffer, from_start)
    waiter = asyncio.ensure_future(ready.wait())
    await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if runner.done():
        waiter.cancel()
        runner.result()
        return 1
    started = False
    verdict: list[int] = []  # decided when the apps are all down, before shutdown stops them

    def check_done() -> None:
        stopping = daemon._stopping
        if stopping is not None and stopping.done():
            return  # a signal (or an error) is already stopping everything: apps die on request
        apps = list(daemon.supervisor.apps.values())
        if auto_exit and started and not verdict and all(a.status in DOWN_STATUSES for a in apps):
            verdict.append(outcome(apps, interrupted=False))
            daemon.request_shutdown(False)

    daemon.supervisor.on_change(check_done)
    failed = False
    try:
        await HANDLERS["start"](
            daemon.ctx, {"apps": [spec.to_dict() for spec in specs], "shell_env": dict(os.environ)}
        )
    except Exception as exc:  # a bad spec or a failed dependency: stop what started
        print(f"[PM][ERROR] {getattr(exc, 'message', exc)}", file=sys.stderr, flush=True)
        failed = True
        daemon.request_shutdown(False)
    started = True
    check_done()
    while not runner.done():
        follower.poll()
        await asyncio.wait({runner}, timeout=POLL_INTERVAL)
    follower.poll()
    follower.flush_partial()
    runner.result()
    status = verdict[0] if verdict else outcome(list(daemon.supervisor.apps.values()), True)
    return 1 if failed and status == 0 else status


def run_foreground(
    specs: list[AppSpec],
    home_dir: str | None = None,
    auto_exit: bool = True,
    lock_file: str | None = None,
) -> int:
    """Run specs in the foreground until they are all down (or a signal); return the exit status."""
    from pm.daemon.main import acquire_lock, setup_logging
    from pm.paths import Home

    lock_fd = None
    if lock_file:
        from pm.daemon.main import acquire_file_lock

        lock_fd = acquire_file_lock(lock_file)
        if lock_fd is None:
            print(
                f"[PM][ERROR] another instance holds the lock {lock_file}; not starting",
                file=sys.stderr,
            )
            return LOCKED_EXIT
    private = home_dir is None
    root = Path(home_dir or tempfile.mkdtemp(prefix="pmrt", dir="/tmp")).absolute()
    home = Home(root)
    try:
        home.ensure()
        home_lock = acquire_lock(home)
        if home_lock is None:
            print(f"[PM][ERROR] a pm daemon already runs for {root}", file=sys.stderr)
            return LOCKED_EXIT
        try:
            setup_logging(sys.stdout)
            return asyncio.run(_run(specs, home, auto_exit, from_start=private))
        finally:
            os.close(home_lock)
    finally:
        if private:
            shutil.rmtree(root, ignore_errors=True)
        if lock_fd is not None:
            os.close(lock_fd)


def main(argv: list[str] | None = None) -> None:
    """`python -m pm.daemon.runtime --specs JSON`: what `pm-runtime` and `pm start --no-daemon`
    exec into once the command line has turned files and flags into app specs."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="pm-runtime")
    parser.add_argument("--specs", required=True, help="the apps, as a JSON list of specs")
    parser.add_argument("--home", dest="home_dir")
    parser.add_argument("--lock", dest="lock_file")
    parser.add_argument("--no-auto-exit", action="store_true")
    options = parser.parse_args(argv)
    specs = [
        AppSpec.from_dict(raw, where=f"app #{index}")
        for index, raw in enumerate(json.loads(options.specs))
    ]
    sys.exit(run_foreground(specs, options.home_dir, not options.no_auto_exit, options.lock_file))


if __name__ == "__main__":
    main()
