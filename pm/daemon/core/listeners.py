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
    """Bound sockets by address ('host:port'), shared by every app that lists the address (or,
    in Node cluster mode, asks for it), and closed when the last of those apps is deleted."""

    def __init__(self) -> None:
        self.sockets: dict[str, socket.socket] = {}
        self.owners: dict[str, set[str]] = {}

    def acquire(self, addresses: Iterable[str], app_name: str) -> tuple[int, ...]:
        """The fds of these addresses, in order, binding those not bound yet."""
        try:
            return tuple(self._socket(address, app_name).fileno() for address in addresses)
        except OSError as exc:
            raise BadRequest(
                f"app {app_name!r}: cannot listen on {exc.filename}: {exc.strerror}"
            ) from None

    def share(self, host: str, port: int, app_name: str) -> int:
        """A Node cluster worker's listen(): the fd of host:port, bound once for all workers.
        '::' falls back to '0.0.0.0' where IPv6 is off, as Node does."""
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            return self._socket(address, app_name).fileno()
        except OSError:
            if host != "::":
                raise
            return self._socket(f"0.0.0.0:{port}", app_name).fileno()

    def _socket(self, address: str, app_name: str) -> socket.socket:
        if address not in self.sockets:
            self.sockets[address] = bind(address)
            log.info("Listening on %s for app %s (handed to its instances)", address, app_name)
        self.owners.setdefault(address, set()).add(app_name)
        return self.sockets[address]

    def take_from(self, pid: int, address: str, app_name: str) -> bool:
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
                self.owners.setdefault(address, set()).add(app_name)
                log.info("Took over the socket of %s from pid %d", address, pid)
                return True
            sock.close()
        return False

    def release(self, app_name: str) -> None:
        """The last app of this name is gone: close the sockets no other app uses."""
        for address in [address for address, names in self.owners.items() if app_name in names]:
            self.owners[address].discard(app_name)
            if not self.owners[address]:
                del self.owners[address]
                self.sockets.pop(address).close()
                log.info("Closed %s: no app listens on it any more", address)

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close()
        self.sockets.clear()
        self.owners.clear()


def bind(address: str) -> socket.socket:
    """A listening TCP socket on address, blocking (the flag is shared with the children).
    Raises OSError with the address as its filename."""
    host, port = listen_address(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6 and host == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # both, as Node
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, exc.strerror, address) from None
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
        if sock.type != socket.SOCK_STREAM or not sock.getsockopt(
            socket.SOL_SOCKET, socket.SO_ACCEPTCONN
        ):
            return False
        bound = sock.getsockname()
    except OSError:
        return False
    return (
        isinstance(bound, tuple)
        and bound[1] == port
        and (bound[0] == host or host in ("0.0.0.0", "::"))
    )
