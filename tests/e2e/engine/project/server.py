"""An HTTP app on the socket pm hands it (fd 3, `listen`): answers with its container's name."""

import http.server
import socket


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"api on {socket.gethostname()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        print(format % args, flush=True)


server = http.server.HTTPServer(("0.0.0.0", 0), Handler, bind_and_activate=False)
server.socket.close()
server.socket = socket.socket(fileno=3)
print("api serving", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    print("api stopping", flush=True)
