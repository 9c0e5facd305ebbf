"""Steady HTTP load on 127.0.0.1:PORT for the reload workload (workload 8); stdlib only.

    python loadgen.py PORT [--rate 300] [--timeout 2] [--seconds S]

Open loop: request k is sent at start + k/rate whatever became of the earlier ones, so a
server that stalls or refuses does not slow the stream down (a closed loop of client threads
sends less exactly while the server fails, and counts fewer failures). Each request is a fresh
connection (`GET /` in HTTP/1.0, closed by the server after its response): every request then
goes through the listening socket's accept queue, which is what a reload takes away, as it
would for many independent clients; a keep-alive connection would stay on its old instance
and hide a gap in listening.

It runs until SIGINT/SIGTERM (or --seconds), lets the requests in flight finish (each is
bounded by --timeout), and prints one JSON object: `records`, one `[start, ms, outcome, pid]`
per request (start on the monotonic clock, which every process on the machine shares;
outcome "ok", "refused", "reset", "status", "timeout" or "other:<error>", "other:skipped" for
one not sent because MAX_IN_FLIGHT were open; pid the instance that answered, or 0), and
`max_lag_ms`, how late the generator itself sent its worst request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import sys
import time

#: In-flight cap, below the open-file limit; at 300/s with a 2 s timeout at most 600 are open.
MAX_IN_FLIGHT = 900
REQUEST = b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: pm-bench\r\n\r\n"


def classify(error: BaseException) -> str:
    """The failure kind of an exception raised by one request."""
    if isinstance(error, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError)):
        return "reset"
    return f"other:{type(error).__name__}"


def parse(response: bytes) -> tuple[str, int]:
    """(outcome, pid) of a whole HTTP response: "ok" for 2xx, "reset" when empty."""
    if not response:
        return "reset", 0  # closed before answering: what a client sees of a reset
    status_line, _, rest = response.partition(b"\r\n")
    parts = status_line.split()
    if len(parts) < 2 or not parts[1].isdigit() or not 200 <= int(parts[1]) < 300:
        return "status", 0
    body = rest.partition(b"\r\n\r\n")[2].split()
    pid = int(body[1]) if len(body) >= 2 and body[0] == b"pid" and body[1].isdigit() else 0
    return "ok", pid


async def one_request(port: int) -> tuple[str, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(REQUEST)
        await writer.drain()
        return parse(await reader.read())  # HTTP/1.0: the response ends at EOF
    finally:
        writer.close()


async def timed_request(port: int, timeout: float, records: list[list[object]]) -> None:
    began = time.monotonic()
    try:
        outcome, pid = await asyncio.wait_for(one_request(port), timeout)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as error:
        outcome, pid = classify(error), 0
    records.append([round(began, 6), round((time.monotonic() - began) * 1000, 3), outcome, pid])


async def generate(
    port: int, rate: float, timeout: float, seconds: float | None
) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    records: list[list[object]] = []
    tasks: set[asyncio.Task[None]] = set()
    skipped, max_lag, sent = 0, 0.0, 0
    start = time.monotonic()
    while not stop.is_set() and (seconds is None or time.monotonic() - start < seconds):
        due = start + sent / rate
        now = time.monotonic()
        if due > now:
            try:
                await asyncio.wait_for(stop.wait(), due - now)
            except asyncio.TimeoutError:
                pass
            continue
        max_lag = max(max_lag, now - due)
        sent += 1
        if len(tasks) >= MAX_IN_FLIGHT:  # never at 300/s with a 2 s timeout: counted as failed
            skipped += 1
            records.append([round(now, 6), 0.0, "other:skipped", 0])
            continue
        task = asyncio.ensure_future(timed_request(port, timeout, records))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks)
    records.sort(key=lambda record: record[0])  # type: ignore[arg-type, return-value]
    return {
        "port": port,
        "rate": rate,
        "timeout_s": timeout,
        "started": start,
        "ended": time.monotonic(),
        "skipped": skipped,
        "max_lag_ms": round(max_lag * 1000, 3),
        "records": records,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--rate", type=float, default=300.0, help="requests per second")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds per request")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: at SIGTERM)")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    result = asyncio.run(generate(args.port, args.rate, args.timeout, args.seconds))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
