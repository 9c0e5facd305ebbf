"""One health probe (`health_check`): an HTTP GET, a TCP connect, or a command, with a timeout.

Docker's HEALTHCHECK runs a command; pm also probes HTTP and TCP itself, so a check costs no
process. An HTTP answer from 200 to 399 is healthy, as Kubernetes' httpGet probe counts it.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from pm.config.probes import HealthCheck, listen_address

#: How much of a failing command's output the result keeps.
OUTPUT_LIMIT = 300


async def probe(check: HealthCheck, cwd: str, env: dict[str, str]) -> str | None:
    """None when healthy, else what failed (one line)."""
    run = {"http": _http, "tcp": _tcp, "cmd": _cmd}[check.kind]
    try:
        return await asyncio.wait_for(run(check.target, cwd, env), check.timeout)
    except asyncio.TimeoutError:
        return f"no answer within {check.timeout:g}s"
    except OSError as exc:
        return f"{check.kind} {check.target}: {exc.strerror or exc}"


async def _http(url: str, cwd: str, env: dict[str, str]) -> str | None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: pm-health\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        status_line = await reader.readline()
    finally:
        writer.close()
    fields = status_line.split()
    if len(fields) < 2 or not fields[1].isdigit():
        return f"GET {url}: no HTTP answer"
    status = int(fields[1])
    return None if 200 <= status < 400 else f"GET {url}: HTTP {status}"


async def _tcp(target: str, cwd: str, env: dict[str, str]) -> str | None:
    host, port = listen_address(target)
    _, writer = await asyncio.open_connection(host, port)
    writer.close()
    return None


async def _cmd(command: str, cwd: str, env: dict[str, str]) -> str | None:
    child = await asyncio.create_subprocess_shell(
        command,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = await child.communicate()
    except asyncio.CancelledError:  # the timeout: the command must not outlive its probe
        if child.returncode is None:
            child.kill()
            await child.wait()
        raise
    if child.returncode == 0:
        return None
    text = " ".join(output.decode(errors="replace").split())[-OUTPUT_LIMIT:]
    return f"`{command}` exited with {child.returncode}" + (f": {text}" if text else "")
