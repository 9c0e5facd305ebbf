"""The god daemon: single instance per PM_HOME, detached, signal-driven orderly shutdown.

Started by the client as ``python -m pm.daemon.main`` in a new session with stdio on ``pm.log``.
A lock file held for the daemon's lifetime guarantees one daemon per home; a stale pid file or
socket left by a crashed daemon is removed once the lock proves nobody owns them.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import resource
import signal
import sys
from collections.abc import Callable
from typing import IO

from pm.daemon.automation.health import HealthChecks
from pm.daemon.automation.hooks import HookRunner
from pm.daemon.automation.restarts import Automation
from pm.daemon.core.groups import GroupRestarter
from pm.daemon.core.supervisor import Supervisor
from pm.daemon.handlers import Context
from pm.daemon.handlers import logs as handlers_logs
from pm.daemon.output import rotation as logrotate
from pm.daemon.persist import dump, recovery, state
from pm.daemon.server import Server
from pm.errors import PMError
from pm.paths import Home, home_error

log = logging.getLogger("pm")

ALREADY_RUNNING_EXIT = 3
#: How long an exiting daemon waits for its stopped apps' last output to reach the files.
OUTPUT_DRAIN_SECONDS = 1.0


class _PMFormatter(logging.Formatter):
    """PM2's daemon log line: `2026-11-23T18:53:17: PM log: App [api:0] online`."""

    def format(self, record: logging.LogRecord) -> str:
        kind = "error" if record.levelno >= logging.ERROR else "log"
        stamp = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        text = f"{stamp}: PM {kind}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def setup_logging(stream: IO[str]) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_PMFormatter())
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def acquire_file_lock(path: str | os.PathLike[str]) -> int | None:
    """Hold an exclusive lock on path (kept while the fd is open); None when another holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def acquire_lock(home: Home) -> int | None:
    """Hold pm.lock for the daemon's life; None when another daemon holds it."""
    return acquire_file_lock(home.lock_file)


def remove_stale(home: Home) -> None:
    for path in (home.socket, home.pid_file):
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def set_title(home: Home) -> None:
    try:
        import setproctitle
    except ImportError:
        return
    setproctitle.setproctitle(f"pm: God Daemon ({home.root})")


def raise_fd_limit() -> None:
    """Each app costs a pidfd and its log descriptors; 1,000 apps need more than 1,024 fds."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass


class Daemon:
    def __init__(self, home: Home, on_ready: Callable[[], None] = lambda: None) -> None:
        self.home = home
        self.on_ready = on_ready
        self.supervisor = Supervisor(home)
        self.keeper = state.StateKeeper(home, self.supervisor)
        self.ctx = Context(
            self.supervisor,
            request_shutdown=self.request_shutdown,
            request_exit_leaving_apps=self.request_exit_leaving_apps,
            persist_now=self.keeper.flush,
        )
        self.leave_apps = False
        self.server = Server(self.ctx, str(home.socket))
        self.automation = Automation(self.supervisor)
        self._stopping: asyncio.Future[bool] | None = None
        self._signals_seen = 0

    def request_shutdown(self, save: bool) -> None:
        if self._stopping is not None and not self._stopping.done():
            self._stopping.set_result(save)

    def request_exit_leaving_apps(self) -> None:
        """Exit without stopping the apps; the next daemon re-adopts them (`pm update`)."""
        self.leave_apps = True
        self.request_shutdown(False)

    def _on_signal(self, signum: int) -> None:
        self._signals_seen += 1
        if self._signals_seen > 1 and signum == signal.SIGINT:
            log.info("second SIGINT: exiting now")
            os._exit(1)
        log.info("%s received: saving the process list and stopping", signal.Signals(signum).name)
        self.request_shutdown(True)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._stopping = loop.create_future()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            loop.add_signal_handler(signum, self._on_signal, signum)
        loop.add_signal_handler(signal.SIGHUP, lambda: None)
        loop.add_signal_handler(signal.SIGUSR2, handlers_logs.reload_logs)  # PM2: reopen logs
        recovery.recover(self.supervisor)  # take back what a previous daemon left running
        self.keeper.start()
        await self.server.start()
        self._rotation = logrotate.start(self.supervisor, self.home)
        self.automation.start()
        self.extras: list[HookRunner | GroupRestarter | HealthChecks] = [
            HookRunner(self.supervisor),
            GroupRestarter(self.supervisor),
            HealthChecks(self.supervisor),
        ]
        for extra in self.extras:
            extra.start()
        self.home.pid_file.write_text(str(os.getpid()))
        log.info("daemon started (pid %d, home %s)", os.getpid(), self.home.root)
        self.on_ready()
        self.server.trimmer.after_work()  # recovery may have re-adopted many apps
        save = await self._stopping
        await self.shutdown(save)

    async def shutdown(self, save: bool) -> None:
        if save:
            self._save_on_exit()
        await asyncio.sleep(0)  # let the reply to `pm kill` reach the client first
        self.automation.close()  # no watch, cron or memory restart while stopping
        if self.leave_apps:
            self.keeper.close(keep=True)
            for extra in getattr(self, "extras", ()):
                await extra.close()
            await self.server.close()
            remove_stale(self.home)
            log.info("daemon exited leaving %d apps running", len(self.supervisor.apps))
            return
        await self.supervisor.stop_all()
        await self._drain_output()
        self.keeper.close(keep=False)
        for extra in getattr(self, "extras", ()):  # hooks for the final stops run, then end
            await extra.close()
        await self.server.close()
        remove_stale(self.home)
        log.info("daemon stopped")

    @staticmethod
    async def _drain_output() -> None:
        """Let the stopped apps' last output reach their files before the daemon exits."""
        logpipe = sys.modules.get("pm.daemon.output.logpipe")  # not imported: no app had a pipe
        if logpipe is not None and not await logpipe.drained(OUTPUT_DRAIN_SECONDS):
            log.warning(
                "exiting with app output still unread: a pipe is held open by a "
                "process that outlived its app"
            )

    def _save_on_exit(self) -> None:
        apps = list(self.supervisor.apps.values())
        if not apps:
            return  # PM2 rule: never replace a saved list with an empty one on exit
        try:
            dump.save(self.home, apps)
            log.info("process list saved to %s (%d apps)", self.home.dump, len(apps))
        except (OSError, PMError) as exc:
            log.error("could not save the process list: %s", exc)


READY = b"1"
ALREADY = b"3"


def detach() -> int:
    """Fork the real daemon and exit with its start-up outcome, so the caller never reaps it.

    The grandchild writes one byte on a pipe once its socket listens (or that another daemon
    owns the home); EOF without a byte means it failed, and pm.log says why.
    """
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        os.close(read_end)
        os._exit(serve(ready_fd=write_end))
    os.close(write_end)
    outcome = os.read(read_end, 1)
    if outcome == READY:
        return 0
    return ALREADY_RUNNING_EXIT if outcome == ALREADY else 1


def serve(ready_fd: int | None = None) -> int:
    """Run the daemon in this process until it is told to stop."""
    home = Home.from_env()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    try:  # a bad home (read-only, not a directory, another user's, full): one line, exit 1
        home.ensure()
        lock = acquire_lock(home)
        if lock is not None:
            remove_stale(home)
    except OSError as exc:
        print(f"[PM][ERROR] {home_error(home.root, exc).message}", file=sys.stderr)
        return 1
    except PMError as exc:
        print(f"[PM][ERROR] {exc.message}", file=sys.stderr)
        return 1
    if lock is None:
        print(f"a pm daemon already runs for {home.root}", file=sys.stderr)
        _notify(ready_fd, ALREADY)
        return ALREADY_RUNNING_EXIT
    setup_logging(sys.stdout)
    set_title(home)
    raise_fd_limit()
    daemon = Daemon(home, on_ready=lambda: _notify(ready_fd, READY))
    try:
        asyncio.run(daemon.run())
    except Exception:
        log.exception("daemon crashed")
        return 1
    finally:
        os.close(lock)
    return 0


def _notify(fd: int | None, outcome: bytes) -> None:
    if fd is None:
        return
    try:
        os.write(fd, outcome)
        os.close(fd)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    return detach() if "--detach" in args else serve()


if __name__ == "__main__":
    sys.exit(main())
