"""Find or start the daemon, send it a request, return the result or raise a clear error.

Kept light on imports: every `pm` command pays for what this module loads.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from typing import Any

from pm import protocol
from pm.errors import DaemonUnavailable, PMError, from_wire
from pm.paths import Home, home_error

START_TIMEOUT = 15.0


class Client:
    """A connection-per-request client of one PM_HOME's daemon."""

    def __init__(self, home: Home | None = None, autostart: bool = True) -> None:
        self.home = home or Home.from_env()
        self.autostart = autostart
        self._ids = itertools.count(1)

    # ------------------------------------------------------------ connecting

    def _connect(self) -> socket.socket:
        """A connected socket, starting the daemon when none listens; a home that cannot be
        used (not a directory, another user's, read-only...) is one HomeError, never an
        OSError's traceback."""
        self.home.check_socket_length()
        self.home.check_usable()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.home.socket))
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if not self.autostart:
                raise DaemonUnavailable(f"no pm daemon is running for {self.home.root}") from None
            self.start_daemon()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.home.socket))
            except OSError as exc:
                sock.close()
                raise DaemonUnavailable(
                    f"the pm daemon started but {self.home.socket} does not answer "
                    f"({exc.strerror or exc}); see {self.home.daemon_log}"
                ) from None
        except PermissionError:
            sock.close()
            raise DaemonUnavailable(
                f"permission denied on {self.home.socket}: it belongs to another user; "
                "set PM_HOME to a home of your own"
            ) from None
        except OSError as exc:  # ENOTDIR, ELOOP...: the home itself is wrong
            sock.close()
            raise home_error(self.home.root, exc) from None
        return sock

    def daemon_running(self) -> bool:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.home.socket))
        except OSError:
            return False
        finally:
            sock.close()
        return True

    def start_daemon(self) -> None:
        """Launch a detached daemon and wait until its socket listens."""
        import subprocess

        self.home.ensure()
        env = dict(os.environ, PM_HOME=str(self.home.root))
        try:
            log_file = open(self.home.daemon_log, "ab")
        except OSError as exc:
            raise home_error(self.home.root, exc) from None
        with log_file:
            try:
                os.chmod(self.home.daemon_log, 0o600)
            except OSError as exc:
                raise home_error(self.home.root, exc) from None
            launcher = subprocess.Popen(
                [sys.executable, "-m", "pm.daemon", "--detach"],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,
                close_fds=True,
                env=env,
            )
        try:
            code = launcher.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            launcher.kill()
            launcher.wait()
            raise DaemonUnavailable(self._failure("did not start in time")) from None
        deadline = time.monotonic() + START_TIMEOUT
        while not self.daemon_running():
            if code not in (0, 3) or time.monotonic() > deadline:
                raise DaemonUnavailable(self._failure("failed to start"))
            time.sleep(0.005)

    def _failure(self, what: str) -> str:
        tail = ""
        try:
            lines = self.home.daemon_log.read_text(errors="replace").splitlines()[-5:]
            tail = "\n  " + "\n  ".join(lines) if lines else ""
        except OSError:
            pass
        return f"the pm daemon {what}; see {self.home.daemon_log}{tail}"

    # ------------------------------------------------------------ requests

    def call(self, cmd: str, **args: Any) -> Any:
        """Send one request and return its result, raising the daemon's error as a PMError.

        A request naming targets carries the working directory, so the daemon reads a relative
        script path (`pm restart app.js`) where the user stands."""
        if "targets" in args or "target" in args:
            args.setdefault("cwd", os.getcwd())
        _, frame = self._exchange(cmd, args)
        return _unwrap(_decode_reply(frame))

    def start_apps(
        self,
        specs: list[dict[str, Any]],
        *,
        from_file: bool = False,
        force: bool = False,
        with_table: bool = False,
        reload: bool = False,
    ) -> dict[str, Any]:
        """The one request that starts apps, whatever their source (pm/daemon/handlers/start.py):
        specs as plain dicts; `from_file` applies PM2's rule for ecosystem files (known names
        restart with the file's settings; `reload`: reload them instead, one at a time).
        Returns {entries, started, restarted[, table]}."""
        reply: dict[str, Any] = self.call(
            "start",
            apps=specs,
            shell_env=dict(os.environ),
            file=from_file,
            force=force,
            table=with_table,
            reload=reload,
        )
        return reply

    def start_known(self, targets: list[str]) -> dict[str, Any]:
        """Start known apps again (ids, names, namespaces, all, /regex/)."""
        reply: dict[str, Any] = self.call("start", targets=targets)
        return reply

    def _exchange(self, cmd: str, args: dict[str, Any]) -> tuple[int, bytes]:
        """Send one request on a fresh connection; return its id and the raw reply frame."""
        request_id = next(self._ids)
        request = protocol.request(request_id, cmd, args)
        request["v"] = protocol.PROTOCOL_VERSION
        sock = self._connect()
        try:
            sock.sendall(protocol.encode(request))
            return request_id, _read_raw_frame(sock)
        finally:
            sock.close()

    def call_raw(self, cmd: str, **args: Any) -> bytes:
        """Like call, but return the result as compact JSON bytes, sliced from the reply frame
        without decoding it when the frame has the shape protocol.encode gives a success."""
        request_id, frame = self._exchange(cmd, args)
        prefix = b'{"id":%d,"ok":true,"result":' % request_id
        if frame.startswith(prefix) and frame.endswith(b"}\n"):
            return frame[len(prefix) : -2]
        try:
            reply = protocol.decode(frame)
        except protocol.FrameError as exc:
            raise PMError(f"unreadable reply from the daemon: {exc}") from None
        return json.dumps(_unwrap(reply), separators=(",", ":")).encode()

    def subscribe(self) -> Iterator[dict[str, Any]]:
        """Yield daemon events (process state changes) until the daemon goes away."""
        sock = self._connect()
        try:
            sock.sendall(
                protocol.encode({"id": 0, "cmd": "subscribe", "v": protocol.PROTOCOL_VERSION})
            )
            buffer = b""
            first = True
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    message = protocol.decode(line)
                    if first:
                        first = False
                        _unwrap(message)
                        continue
                    yield message
        finally:
            sock.close()

    def kill(self, timeout: float = 30.0) -> bool:
        """Stop every app and the daemon; wait until the daemon process is gone."""
        if not self.daemon_running():
            return False
        pid = self.call("kill")["pid"]
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        return True


def _decode_reply(frame: bytes) -> dict[str, Any]:
    try:
        return protocol.decode(frame)
    except protocol.FrameError as exc:
        raise PMError(f"unreadable reply from the daemon: {exc}") from None


def _read_raw_frame(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise DaemonUnavailable(
                "the pm daemon closed the connection without replying; see pm.log in PM_HOME"
            )
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            break
    return b"".join(chunks)


def _unwrap(reply: dict[str, Any]) -> Any:
    if reply.get("ok"):
        return reply.get("result")
    error = reply.get("error") or {}
    raise from_wire(str(error.get("code", "error")), str(error.get("message", json.dumps(reply))))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
