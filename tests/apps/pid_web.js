// The Node server of the real-server tests (tests/e2e/servers): answers every path with its
// pid, on the socket pm hands over (fd 3) when LISTEN_FDS says there is one, else on PORT.
// On SIGINT or SIGTERM it stops taking connections and exits once the open ones are done.
const http = require("http");

const server = http.createServer((req, res) => {
  const body = `${process.pid}\n`;
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
});
if (process.env.LISTEN_FDS) server.listen({fd: 3});
else server.listen(Number(process.env.PORT || 8000));
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
