"""The sockets pm binds for apps' `listen` and hands to every instance (socket handover).

pm binds each address once and keeps the socket while any app lists it, so instances share the
port and, while an app restarts or reloads, connections wait in the kernel's backlog instead of
being refused. Children get the sockets at fd 3, 4, ... with systemd's socket-activation
variables (`LISTEN_FDS`, `LISTEN_PID`), through listen_exec.py.

After a daemon restart the adopted instances still hold the sockets: the next daemon takes a
copy from one of them with pidfd_getfd(2) (`take_from`), so new instances join the same queue.
Where the kernel refuses that (no ptrace right over the process), it binds the address again;
SO_REUSEPORT, set on every socket pm binds, lets the two live side by side.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Iterable
from pathlib import Path

from pm.config.probes import listen_address
from pm.errors import BadRequest

log = logging.getLogger("pm")

SHIM = str(Path(__file__).with_name("listen_exec.py"))
BACKLOG = 4096  # the kernel caps it at net.core.somaxconn
_SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture


class Listeners:
    """Bound sockets by address ('host:port'), shared by every app that lists the address."""

    def __init__(self) -> None:
        self.sockets: dict[str, socket.socket] = {}

    def acquire(self, addresses: Iterable[str], app_name: str) -> tuple[int, ...]:
        """The fds of these addresses, in order, binding those not bound yet."""
        return tuple(self._socket(address, app_name).fileno() for address in addresses)

    def _socket(self, address: str, app_name: str) -> socket.socket:
        if address not in self.sockets:
            self.sockets[address] = bind(address, app_name)
            log.info("Listening on %s for app %s (handed to its instances)", address, app_name)
        return self.sockets[address]

    def take_from(self, pid: int, address: str) -> bool:
        """Adopt the socket an adopted instance holds at fd 3.. (crash recovery)."""
        if address in self.sockets:
            return True
        host, port = listen_address(address)
        for fd in range(3, 3 + 16):
            taken = pidfd_getfd(pid, fd)
            if taken is None:
                continue
            sock = socket.socket(fileno=taken)
            if _is_listening_on(sock, host, port):
                self.sockets[address] = sock
                log.info("Took over the socket of %s from pid %d", address, pid)
                return True
            sock.close()
        return False

    def release_unused(self, in_use: Iterable[str]) -> None:
        """Close the sockets no app lists any more (after delete)."""
        keep = set(in_use)
        for address in [address for address in self.sockets if address not in keep]:
            self.sockets.pop(address).close()
            log.info("Closed %s: no app listens on it any more", address)

    def close(self) -> None:
        self.release_unused(())


def bind(address: str, app_name: str) -> socket.socket:
    """A listening TCP socket on address, blocking (the flag is shared with the children)."""
    host, port = listen_address(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise BadRequest(f"app {app_name!r}: cannot listen on {address}: {exc.strerror}") from None
    return sock


def launch_argv(argv: list[str], fds: tuple[int, ...]) -> list[str]:
    """The command line that starts argv with the sockets fds at 3, 4, ..."""
    return [sys.executable, "-I", "-S", SHIM, ",".join(map(str, fds)), "--", *argv]


def pidfd_getfd(pid: int, fd: int) -> int | None:
    """A copy of another process's fd (Linux 5.6+; needs ptrace access to it), or None."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    import ctypes  # here: only a daemon recovering handed-over sockets needs it

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        taken = int(libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0))
        return taken if taken >= 0 else None
    finally:
        os.close(pidfd)


def _is_listening_on(sock: socket.socket, host: str, port: int) -> bool:
    try:
        if sock.type != socket.SOCK_STREAM or not sock.getsockopt(socket.SOL_SOCKET,
                                                                   socket.SO_ACCEPTCONN):
            return False
        bound = sock.getsockname()
    except OSError:
        return False
    return isinstance(bound, tuple) and bound[1] == port and (bound[0] == host or host in (
        "0.0.0.0", "::"))
