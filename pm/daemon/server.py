"""The Unix socket server: read NDJSON requests, dispatch them, write replies or an event stream.

Nothing a client sends can take the daemon down: malformed frames, unknown commands, wrong
argument types and handler bugs all become `{code, message}` error replies.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from pm import protocol
from pm.daemon.handlers import HANDLERS, READ_ONLY, Context
from pm.daemon.heap import HeapTrimmer
from pm.errors import BadRequest, PMError, VersionMismatch

log = logging.getLogger("pm")

READ_CHUNK = 256 * 1024


class Server:
    def __init__(self, ctx: Context, socket_path: str) -> None:
        self.ctx = ctx
        self.socket_path = socket_path
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.trimmer = HeapTrimmer()

    async def start(self) -> None:
        old_umask = os.umask(0o177)  # the socket is born 0600: no window where others can connect
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=self.socket_path)
        finally:
            os.umask(old_umask)
        os.chmod(self.socket_path, 0o600)

    async def close(self) -> None:
        self.trimmer.close()
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await self._read_requests(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("connection handler failed")
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()

    async def _read_requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        buffer = b""
        while True:
            chunk = await reader.read(READ_CHUNK)
            if not chunk:
                if buffer.strip():
                    await self._send(
                        writer,
                        protocol.reply_error(
                            None, BadRequest.code, "malformed frame: no newline before end of input"
                        ),
                    )
                return
            buffer += chunk
            if len(buffer) > protocol.MAX_FRAME_BYTES and b"\n" not in buffer:
                await self._send(
                    writer,
                    protocol.reply_error(
                        None,
                        BadRequest.code,
                        f"frame larger than {protocol.MAX_FRAME_BYTES} bytes; closing",
                    ),
                )
                return
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if not line.strip():
                    continue
                if await self._handle_line(line, reader, writer):
                    return

    async def _handle_line(
        self, line: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one frame; True when the connection became a stream and is now finished."""
        try:
            message = protocol.decode(line)
        except protocol.FrameError as exc:
            await self._send(writer, protocol.reply_error(None, BadRequest.code, str(exc)))
            return False
        request_id = message.get("id")
        cmd = message.get("cmd")
        if cmd == "subscribe":
            await self._stream(request_id, reader, writer)
            return True
        reply = await self.dispatch(request_id, cmd, message.get("args"), message.get("v"))
        await self._send(writer, reply)
        self.trimmer.after_work()
        return False

    async def dispatch(self, request_id: Any, cmd: Any, args: Any, version: Any) -> dict[str, Any]:
        try:
            if version is not None and version != protocol.PROTOCOL_VERSION:
                raise VersionMismatch(
                    f"the daemon speaks protocol {protocol.PROTOCOL_VERSION}, this pm speaks "
                    f"{version}; run `pm update` (keeps apps running) or `pm kill`"
                )
            if not isinstance(cmd, str) or cmd not in HANDLERS:
                raise BadRequest(f"unknown command {cmd!r}")
            if args is None:
                args = {}
            if not isinstance(args, dict):
                raise BadRequest("'args' must be an object")
            try:
                result = await HANDLERS[cmd](self.ctx, args)
            finally:  # a failed command may have acted on some apps before its error
                if cmd not in READ_ONLY:
                    self.ctx.persist_now()
            return protocol.reply_ok(request_id, result)
        except PMError as exc:
            return protocol.reply_error(request_id, exc.code, exc.message)
        except Exception as exc:
            log.exception("command %r failed", cmd)
            return protocol.reply_error(request_id, "internal", f"internal error: {exc}")

    async def _stream(
        self, request_id: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Send every bus event until the client goes away."""
        queue = self.ctx.supervisor.bus.subscribe()
        closed = asyncio.ensure_future(reader.read())  # EOF (or anything) ends the stream
        try:
            await self._send(writer, protocol.reply_ok(request_id, {"subscribed": True}))
            while not closed.done():
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                await self._send(writer, getter.result())
        finally:
            closed.cancel()
            self.ctx.supervisor.bus.unsubscribe(queue)

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
        writer.write(protocol.encode(message))
        await writer.drain()
