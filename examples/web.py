"""A tiny HTTP server on $HOST:$PORT (default 127.0.0.1:8000): answers every GET with the app's
name and pid."""
import http.server
import os


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = f"hello from {os.environ.get('name', 'web')} (pid {os.getpid()})\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args: object) -> None:
        print(fmt % args, flush=True)


port = int(os.environ.get("PORT", "8000"))
host = os.environ.get("HOST", "127.0.0.1")  # 0.0.0.0 in a container (examples/Dockerfile)
print(f"listening on {host}:{port}", flush=True)
try:
    http.server.ThreadingHTTPServer((host, port), Handler).serve_forever()
except KeyboardInterrupt:  # pm stops an app with SIGINT
    print("web: stopped", flush=True)
