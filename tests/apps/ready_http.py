"""An HTTP app for readiness, handover, reload and health tests.

Serves on the socket pm hands over (fd 3, LISTEN_FDS) or binds PORT itself; answers every path
with its pid, and /health with 200 unless the file HANG_FILE exists (then it never answers: a
hung app). It says READY=1 on NOTIFY_SOCKET after READY_DELAY seconds (NO_READY=1: never), and
stops gracefully on SIGINT/SIGTERM: no new connections, in-flight requests finish, exit 0.
EXIT_AT_START=1 makes it exit with code 3 at once (a new version that cannot start).
"""

import http.server
import os
import signal
import socket
import socketserver
import sys
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        hang = os.environ.get("HANG_FILE")
        if self.path == "/health" and hang and os.path.exists(hang):
            time.sleep(3600)
        body = f"{os.getpid()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = False  # server_close() waits for the requests in flight
    block_on_close = True


def listening_socket() -> socket.socket:
    """The handed-over socket, non-blocking: it is shared with the other instances, so after
    select() says "readable" another one may have taken the connection, and a blocking accept()
    would then wait for the next one (and a stop with it)."""
    if os.environ.get("LISTEN_FDS") == "1" and os.environ.get("LISTEN_PID") == str(os.getpid()):
        sock = socket.socket(fileno=3)
        sock.setblocking(False)
        return sock
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", int(os.environ["PORT"])))
    sock.listen(128)
    return sock


def notify_ready() -> None:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address or os.environ.get("NO_READY") == "1":
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"READY=1", address)


def main() -> None:
    if os.environ.get("EXIT_AT_START") == "1":
        sys.exit(3)
    server = Server(("127.0.0.1", 0), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listening_socket()
    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopping.set()
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    time.sleep(float(os.environ.get("READY_DELAY", "0")))
    print(f"serving as {os.getpid()}", flush=True)
    notify_ready()
    server.serve_forever(poll_interval=0.05)
    server.server_close()  # waits for in-flight requests (block_on_close)
    print(f"stopped {os.getpid()}", flush=True)


if __name__ == "__main__":
    main()
