"""How a launched app talks to pm: "I am ready" (`wait_ready`), and "please shut down".

Two channels, opened for each launch before the process starts:

* a **notify socket**, systemd's protocol (`NOTIFY_SOCKET`, a datagram `READY=1`), for apps with
  `wait_ready` in any language: `systemd-notify --ready` from a shell script, the `sdnotify`
  package, a few lines of socket code. One socket per launch, so a datagram needs no sender
  credentials to say whose it is (`systemd-notify` sends from its own short-lived pid);
* for Node apps an **IPC channel** as PM2 gives every fork-mode Node app (`NODE_CHANNEL_FD`, JSON
  lines): `process.send('ready')` works, and `shutdown_with_message` sends `'shutdown'` on it.
  In cluster mode the app is a Node cluster worker (`NODE_UNIQUE_ID`) and pm answers the
  worker's `listen()` as Node's cluster primary does: it binds the address once (listeners.py)
  and sends the listening socket over the channel, so every instance shares the port.

Readiness ends at `listen_timeout` whatever happens: then the app counts as ready, as PM2 does,
and the daemon log says it never signalled (see Supervisor.mark_ready).
"""

from __future__ import annotations

import array
import asyncio
import itertools
import json
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("pm")

#: What PM2's Node apps send, and receive, over their IPC channel.
READY_MESSAGE = "ready"
SHUTDOWN_MESSAGE = "shutdown"
#: Unix socket paths longer than this cannot be bound (sun_path is 108 bytes with its NUL).
MAX_SOCKET_PATH = 107

OnReady = Callable[[str], None]
#: Binds (or finds) the listening socket a cluster worker asks for: (host, port) -> its fd.
ShareSocket = Callable[[str, int], int]
#: What a cluster worker says once its server listens (a rolling reload's readiness).
LISTENING = "listening"

_launches = itertools.count()


class Channels:
    """One launch's channels; all optional (an app without wait_ready that is not Node has none)."""

    def __init__(
        self,
        notify: socket.socket | None = None,
        notify_address: str | None = None,
        ipc: socket.socket | None = None,
        ipc_child: socket.socket | None = None,
        share: ShareSocket | None = None,
        worker_id: int | None = None,
    ) -> None:
        self.notify = notify
        self.notify_address = notify_address
        self.ipc = ipc
        self.ipc_child = ipc_child
        self.share = share
        self.worker_id = worker_id
        self._ipc_buffer = b""
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def open(
        cls,
        run_dir: Path,
        pm_id: int,
        wait_ready: bool,
        node: bool,
        share: ShareSocket | None = None,
    ) -> Channels:
        """The channels a launch needs: notify for wait_ready, IPC for Node apps; share makes
        the Node app a cluster worker whose listen() gets its socket from pm."""
        channels = cls(share=share if node else None, worker_id=pm_id if node and share else None)
        if wait_ready:
            channels.notify, channels.notify_address = _notify_socket(run_dir, pm_id)
        if node:
            channels.ipc, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            channels.ipc.setblocking(False)
            channels.ipc_child = _high(child)
        return channels

    def env(self) -> dict[str, str]:
        """What the child's environment gets so it finds its channels."""
        env = {}
        if self.notify_address is not None:
            env["NOTIFY_SOCKET"] = self.notify_address
        if self.ipc_child is not None:
            env["NODE_CHANNEL_FD"] = str(self.ipc_child.fileno())
            env["NODE_CHANNEL_SERIALIZATION_MODE"] = "json"
        if self.worker_id is not None:
            env["NODE_UNIQUE_ID"] = str(self.worker_id)
        return env

    def child_fds(self) -> tuple[int, ...]:
        """Descriptors the child keeps across exec (its IPC end)."""
        return (self.ipc_child.fileno(),) if self.ipc_child is not None else ()

    def after_spawn(self) -> None:
        """The child holds its IPC end now: ours would keep the channel open after it dies."""
        if self.ipc_child is not None:
            self.ipc_child.close()
            self.ipc_child = None

    def listen(self, loop: asyncio.AbstractEventLoop, on_ready: OnReady) -> None:
        """Call on_ready(how) from the loop when the app says it is ready."""
        self._loop = loop
        if self.notify is not None:
            loop.add_reader(self.notify.fileno(), self._read_notify, on_ready)
        if self.ipc is not None:
            loop.add_reader(self.ipc.fileno(), self._read_ipc, on_ready)

    def _read_notify(self, on_ready: OnReady) -> None:
        assert self.notify is not None
        try:
            datagram = self.notify.recv(4096)
        except OSError:
            return
        fields = dict(
            line.split("=", 1)
            for line in datagram.decode(errors="replace").split("\n")
            if "=" in line
        )
        if fields.get("READY") == "1":
            on_ready("READY=1 on NOTIFY_SOCKET")

    def _read_ipc(self, on_ready: OnReady) -> None:
        assert self.ipc is not None
        try:
            chunk = self.ipc.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:  # the app closed its end (exited, or process.disconnect())
            self._stop_reading(self.ipc)
            return
        *lines, self._ipc_buffer = (self._ipc_buffer + chunk).split(b"\n")
        for line in lines:
            message = _decode(line)
            if message == READY_MESSAGE:
                on_ready("process.send('ready')")
            elif isinstance(message, dict) and message.get("cmd") == "NODE_CLUSTER":
                self._cluster_message(message, on_ready)

    def _cluster_message(self, message: dict[str, object], on_ready: OnReady) -> None:
        """A Node cluster worker's request, answered as Node's cluster primary answers it."""
        if message.get("act") == LISTENING:
            on_ready(LISTENING)
        if message.get("act") != "queryServer" or self.share is None:
            return  # 'online', 'listening', 'close': nothing to answer
        errno, fd = 0, None
        try:
            fd = self.share(_cluster_host(message), int(str(message.get("port") or 0)))
        except OSError as exc:
            errno = -(exc.errno or 1)  # Node expects a negative errno, as libuv returns
        reply = {
            "cmd": "NODE_CLUSTER",
            "errno": errno,
            "ack": message.get("seq"),
            "data": None,
            "key": f"{message.get('address')}:{message.get('port')}",
        }
        self._send_handle(reply, fd)

    def _send_handle(self, reply: dict[str, object], fd: int | None) -> None:
        """Send reply, with fd as a Node 'net.Native' handle (SCM_RIGHTS) when there is one."""
        assert self.ipc is not None
        if fd is None:
            data, ancillary = json.dumps(reply).encode() + b"\n", []
        else:
            wrapped = {"cmd": "NODE_HANDLE", "type": "net.Native", "msg": reply}
            data = json.dumps(wrapped).encode() + b"\n"
            ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))]
        try:
            self.ipc.sendmsg([data], ancillary)
        except OSError as exc:
            log.warning("cannot answer a cluster worker: %s", exc)

    def send_shutdown(self) -> bool:
        """`shutdown_with_message`: send 'shutdown' over the IPC channel; False without one."""
        if self.ipc is None:
            return False
        try:
            self.ipc.send(json.dumps(SHUTDOWN_MESSAGE).encode() + b"\n")
        except OSError:
            return False
        return True

    def close(self) -> None:
        for sock in (self.notify, self.ipc):
            if sock is not None:
                self._stop_reading(sock)
                sock.close()
        if self.notify_address and not self.notify_address.startswith("@"):
            _unlink(self.notify_address)
        self.after_spawn()
        self.notify = self.ipc = None

    def _stop_reading(self, sock: socket.socket) -> None:
        if self._loop is not None and sock.fileno() >= 0:
            self._loop.remove_reader(sock.fileno())


def _notify_socket(run_dir: Path, pm_id: int) -> tuple[socket.socket, str]:
    """A datagram socket for one launch: a file in PM_HOME/run (0600, the home is 0700), or an
    abstract name when the home's path is too long for a socket path."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
    name = f"{pm_id}-{os.getpid()}-{next(_launches)}.notify"
    path = run_dir / name
    try:
        if len(str(path)) > MAX_SOCKET_PATH:
            address = f"@pm-{os.urandom(6).hex()}-{name}"
            sock.bind("\0" + address[1:])
            return sock, address
        run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        _unlink(str(path))
        sock.bind(str(path))  # reachable only through run/ (0700) in the home (0700)
        os.chmod(path, 0o600)
        return sock, str(path)
    except OSError:
        sock.close()
        raise


def _high(sock: socket.socket) -> socket.socket:
    """The socket again at a descriptor of 64 or more, where the handed-over sockets, moved to
    3, 4, ... just before exec (listen_exec.py), never land on it."""
    import fcntl

    high = socket.socket(fileno=fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD_CLOEXEC, 64))
    sock.close()
    return high


def _cluster_host(message: dict[str, object]) -> str:
    """The address a worker's listen() names; none means every interface, as Node binds it."""
    address = message.get("address")
    return address if isinstance(address, str) and address else "::"


def _decode(line: bytes) -> object:
    try:
        return json.loads(line)
    except ValueError:
        return None


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
