"""The HTTP app of the reload workload (workload 8): stdlib only, any manager can run it.

    python reload_app.py PORT [--boot SECONDS] [--work-ms MS]

Where it listens: on the socket inherited as fd 3 when the manager hands one over with
systemd's socket-activation convention (`LISTEN_FDS=1`, and `LISTEN_PID` naming this process
when set), otherwise on 127.0.0.1:PORT, bound with SO_REUSEPORT so several instances share it.
It waits `--boot` seconds before it binds and serves (a real app imports its framework and
opens its database first), then says it is ready with the systemd notify protocol when
`NOTIFY_SOCKET` is set (a datagram `READY=1`). Each request sleeps `--work-ms` (so some are in
flight when a reload stops the instance) and is answered 200 on a connection closed after the
response (HTTP/1.0), with the body `pid <pid> socket=<inherited|own> notify=<yes|no>`.

SIGINT or SIGTERM end it gracefully: it stops accepting, finishes the requests in flight,
closes its copy of the listening socket and exits 0. Connections still waiting in the
kernel's queue stay there for the other instances when the socket is shared through fd 3;
on a socket of its own (SO_REUSEPORT) the kernel resets them when it is closed.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SD_LISTEN_FDS_START = 3
BACKLOG = 1024


class Handler(BaseHTTPRequestHandler):
    work_seconds = 0.0
    #: What the response says of this instance, so the benchmark can tell a socket handed
    #: over from one the app bound itself, and whether a readiness channel was offered.
    socket_kind = "own"
    notify = "yes" if os.environ.get("NOTIFY_SOCKET") else "no"

    def do_GET(self) -> None:
        if self.work_seconds:
            time.sleep(self.work_seconds)
        body = f"pid {os.getpid()} socket={self.socket_kind} notify={self.notify}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request would only measure the manager's log path


def inherited_socket() -> socket.socket | None:
    """The listening socket passed as fd 3, or None when none was handed over to this process."""
    if int(os.environ.get("LISTEN_FDS", "0") or 0) < 1:
        return None
    owner = os.environ.get("LISTEN_PID")
    if owner and owner != str(os.getpid()):
        return None  # meant for another process (a wrapper that exec'd us would keep its pid)
    sock = socket.socket(fileno=SD_LISTEN_FDS_START)
    sock.setblocking(False)  # shared: another instance may take the connection select() saw
    return sock


def own_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(BACKLOG)
    return sock


def notify_ready() -> None:
    """Send READY=1 to $NOTIFY_SOCKET (a path, or an abstract name when it starts with '@')."""
    target = os.environ.get("NOTIFY_SOCKET")
    if not target:
        return
    address = "\0" + target[1:] if target.startswith("@") else target
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"READY=1", address)


def serve(listener: socket.socket) -> ThreadingHTTPServer:
    """An HTTP server on an already listening socket, serving from a thread."""
    server = ThreadingHTTPServer(listener.getsockname()[:2], Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listener
    server.daemon_threads = False  # server_close() waits for the requests in flight
    threading.Thread(target=server.serve_forever, args=(0.05,), name="accept").start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--boot", type=float, default=0.5, help="seconds before it serves")
    parser.add_argument("--work-ms", type=float, default=2.0, help="time each request takes")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    Handler.work_seconds = args.work_ms / 1000
    time.sleep(args.boot)
    listener = inherited_socket()
    if listener is not None:
        Handler.socket_kind = "inherited"
    else:
        listener = own_socket(args.port)
    server = serve(listener)
    notify_ready()
    while not stop.wait(0.5):
        pass
    server.shutdown()  # stop accepting: serve_forever returns after its current poll
    server.server_close()  # joins the request threads, then closes our copy of the socket
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
