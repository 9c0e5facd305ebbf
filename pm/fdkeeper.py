"""The fd keeper: holds the read ends of pipe-mode apps' pipes while no daemon runs.

An app in pipe mode (`time`, `log_date_format`, `log_type: json`, a combined `log_file`) writes
into a pipe the daemon reads. If the daemon dies, its read ends die with it: the app would get
EPIPE/SIGPIPE and what sat in the pipe would be gone. So, like systemd's file-descriptor store,
a tiny long-lived process per PM_HOME (`python -m pm.fdkeeper`, its own session, title
`pm: fd keeper (<home>)`) holds a duplicate of every such read end, received over
`PM_HOME/fdkeeper.sock` (SOCK_SEQPACKET, 0600) with SCM_RIGHTS. It never reads them: it only keeps
the pipe open, so the writer never sees EPIPE and unread bytes stay in the pipe (an app whose
pipe fills while no daemon runs just waits). The next daemon fetches duplicates and resumes
reading exactly where the last one stopped.

Protocol, one datagram per message: `store <key>` + 1 fd (replaces the key), `drop <key>`,
`fetch` (replies `{"keys": [...], "more": bool}` datagrams, each carrying those keys' fds),
`quit` (replies `bye`, then exits). Keys are `<unique_id>:<out|err>:<pipe inode>`, so a new
process of the same app never collides with an old pipe not yet drained.

The daemon side (`Client`) sends a pipe's read end to the keeper *before* the app is spawned,
so there is no instant in which the app writes into a pipe only the daemon can read. A message
sent is held by the kernel even if the daemon dies right after.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pm.paths import Home
from pm.process import alive as process_alive

log = logging.getLogger("pm")

MAX_FDS = 250  # below the kernel's SCM_MAX_FD (253) per message
BUFSIZE = 1 << 16
TIMEOUT = 5.0


def socket_path(home: Home) -> Path:
    return home.root / "fdkeeper.sock"


def pid_path(home: Home) -> Path:
    return home.root / "fdkeeper.pid"


# ------------------------------------------------------------ the keeper process


class Keeper:
    """The keeper's state: key -> fd, and the loop serving its socket."""

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.fds: dict[str, int] = {}
        self.selector = selectors.DefaultSelector()
        self.selector.register(listener, selectors.EVENT_READ)
        self.running = True

    def serve(self) -> None:
        while self.running:
            for key, _ in self.selector.select():
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                if sock is self.listener:
                    conn, _ = sock.accept()
                    self.selector.register(conn, selectors.EVENT_READ)
                else:
                    self._on_message(sock)

    def _on_message(self, conn: socket.socket) -> None:
        try:
            data, fds, _, _ = socket.recv_fds(conn, BUFSIZE, MAX_FDS)
        except OSError:
            data, fds = b"", []
        if not data:
            self.selector.unregister(conn)
            conn.close()
            for fd in fds:
                os.close(fd)
            return
        command, _, key = data.decode(errors="replace").partition(" ")
        if command == "store" and key and len(fds) == 1:
            old = self.fds.pop(key, None)
            if old is not None:
                os.close(old)
            self.fds[key] = fds.pop()
        elif command == "drop":
            old = self.fds.pop(key, None)
            if old is not None:
                os.close(old)
        elif command == "fetch":
            self._send_all(conn)
        elif command == "quit":
            for fd in self.fds.values():
                os.close(fd)
            self.fds.clear()
            self.running = False
            try:
                conn.send(b"bye")
            except OSError:
                pass
        for fd in fds:  # anything not kept
            os.close(fd)

    def _send_all(self, conn: socket.socket) -> None:
        items = list(self.fds.items())
        try:
            for start in range(0, max(len(items), 1), MAX_FDS):
                batch = items[start:start + MAX_FDS]
                header = json.dumps({"keys": [key for key, _ in batch],
                                     "more": start + MAX_FDS < len(items)}).encode()
                socket.send_fds(conn, [header], [fd for _, fd in batch])
        except OSError:
            pass  # the daemon went away mid-reply: it will ask again


def _listen(home: Home) -> socket.socket | None:
    """Bind the keeper's socket; None when a live keeper already answers there."""
    path = socket_path(home)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        probe.connect(str(path))
        return None
    except OSError:
        pass
    finally:
        probe.close()
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    old_mask = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old_mask)
    listener.listen(16)
    return listener


def main() -> int:
    """Bind, then fork: the parent exits once the socket listens, so the caller never reaps
    the keeper and knows it is ready when `subprocess.run` returns."""
    home = Home.from_env()
    listener = _listen(home)
    if listener is None:
        return 0
    child = os.fork()
    if child:
        pid_path(home).write_text(str(child))
        listener.close()
        return 0
    try:
        import setproctitle

        setproctitle.setproctitle(f"pm: fd keeper ({home.root})")
    except ImportError:
        pass
    keeper = Keeper(listener)
    try:
        keeper.serve()
    finally:
        for path in (socket_path(home), pid_path(home)):
            try:
                if path != pid_path(home) or path.read_text().strip() == str(os.getpid()):
                    path.unlink()
            except (FileNotFoundError, ValueError):
                pass
        listener.close()
    os._exit(0)


# ------------------------------------------------------------ the daemon's side


class Client:
    """The daemon's connection to its keeper, started on first need.

    Every call is a short blocking exchange on a local socket (sends never wait for a reply,
    except `fetch` and `quit`); a failure is logged and never raised: without a keeper pipe
    mode still works, it only loses the protection against a daemon crash.
    """

    def __init__(self, home: Home) -> None:
        self.home = home
        self.sock: socket.socket | None = None
        self.held: dict[str, int] = {}  # key -> the daemon's own read end, to store again
        self._warned = False

    # -- connection

    def _connect(self, start: bool) -> socket.socket | None:
        if self.sock is not None:
            return self.sock
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sock.settimeout(TIMEOUT)
        try:
            sock.connect(str(socket_path(self.home)))
        except OSError:
            sock.close()
            if not start or not self._start():
                return None
            return self._connect(start=False)
        self.sock = sock
        for key, fd in list(self.held.items()):  # a new keeper: give it what the old one had
            self._send(f"store {key}", [fd], start=False)
        return sock

    def _start(self) -> bool:
        try:
            with open(self.home.daemon_log, "ab") as errors:
                result = subprocess.run(  # noqa: S603 - our own interpreter and module
                    [sys.executable, "-m", "pm.fdkeeper"], stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True,
                    close_fds=True, timeout=30, env={**os.environ, "PM_HOME": str(self.home.root)})
        except (OSError, subprocess.SubprocessError) as exc:
            self._warn(f"cannot start the fd keeper: {exc}")
            return False
        if result.returncode != 0:
            self._warn(f"the fd keeper exited with code {result.returncode}")
            return False
        log.info("fd keeper started (%s)", socket_path(self.home))
        return True

    def _send(self, text: str, fds: list[int] | None = None, start: bool = True) -> bool:
        sock = self._connect(start)
        if sock is None:
            return False
        try:
            socket.send_fds(sock, [text.encode()], fds or [])
            return True
        except OSError as exc:
            self._warn(f"fd keeper unreachable ({exc}); reconnecting")
            self.close()
            return False

    def _warn(self, message: str) -> None:
        if not self._warned:
            log.error("%s; pipe-mode apps will not survive a daemon crash", message)
            self._warned = True

    # -- operations

    def hold(self, key: str, fd: int) -> None:
        """Give the keeper a duplicate of a read end (send before the writer starts)."""
        self.held[key] = fd
        if not self._send(f"store {key}", [fd]):
            self._send(f"store {key}", [fd])  # one retry after a reconnect

    def release(self, key: str) -> None:
        """The pipe is drained and closed by the daemon: the keeper lets go of it too."""
        if self.held.pop(key, None) is not None:
            self._send(f"drop {key}", start=False)

    def forget(self, key: str) -> None:
        """Let the keeper drop a pipe nobody will read (its app is gone)."""
        self.held.pop(key, None)
        self._send(f"drop {key}", start=False)

    def fetch(self) -> dict[str, int]:
        """Duplicates of everything a running keeper holds (nothing if none runs)."""
        if not self._send("fetch", start=False):
            return {}
        assert self.sock is not None
        found: dict[str, int] = {}
        try:
            while True:
                data, fds, _, _ = socket.recv_fds(self.sock, BUFSIZE, MAX_FDS)
                reply: dict[str, Any] = json.loads(data)
                found.update(zip(reply["keys"], fds))
                if not reply["more"]:
                    return found
        except (OSError, ValueError, KeyError) as exc:
            log.error("fd keeper: fetch failed: %s", exc)
            for fd in found.values():
                os.close(fd)
            self.close()
            return {}

    def quit(self) -> None:
        """Stop the keeper (`pm kill`): nothing is left to protect."""
        self.held.clear()
        pid = _read_pid(self.home)
        if not self._send("quit", start=False):
            return
        assert self.sock is not None
        try:
            self.sock.recv(16)
        except OSError:
            pass
        self.close()
        deadline = time.monotonic() + TIMEOUT
        while pid and process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.005)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


# ------------------------------------------------------------ daemon hooks


def install(home: Home) -> Client:
    """Make pipe-mode spawns hand their read ends to this home's keeper (daemon start)."""
    from pm import logpipe

    client = Client(home)
    logpipe.keeper = client
    return client


def resume(supervisor: Any) -> int:
    """Rebuild a reader for every pipe the keeper holds (after re-adoption); returns how many.

    Reading resumes where the dead daemon stopped: what it had read is in the files, what it had
    not is still in the pipe. A pipe of an app no longer in the table is let go.
    """
    from pm import logpipe, logs

    client = logpipe.keeper
    if not isinstance(client, Client):
        return 0
    apps = {app.unique_id: app for app in supervisor.apps.values()}
    resumed = 0
    for key, fd in client.fetch().items():
        owner, _, kind = key.partition(":")
        kind = kind.partition(":")[0]
        app = apps.get(owner)
        if app is None or kind not in ("out", "err"):
            os.close(fd)
            client.forget(key)
            continue
        try:
            targets = logs.pipe_targets(app.paths, app.spec, app.pm_id, kind)
        except OSError as exc:
            log.error("App %s: cannot open its log files again: %s", app.label(), exc)
            os.close(fd)
            continue
        client.held[key] = fd
        logpipe.StreamReader(fd, targets, key=key).start(supervisor.loop)
        resumed += 1
    if resumed:
        log.info("resumed reading %d pipes held by the fd keeper", resumed)
    return resumed


def shutdown(stop_keeper: bool) -> None:
    """Daemon exit: `pm kill` stops the keeper; `pm update` leaves it for the next daemon."""
    from pm import logpipe

    client = logpipe.keeper
    if not isinstance(client, Client):
        return
    if stop_keeper:
        client.quit()
    else:
        client.close()


def _read_pid(home: Home) -> int:
    try:
        return int(pid_path(home).read_text())
    except (OSError, ValueError):
        return 0


if __name__ == "__main__":
    sys.exit(main())
