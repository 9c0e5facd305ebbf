"""A tiny in-daemon event bus: the supervisor publishes, subscribers (streams, hooks) read.

Each subscriber gets its own bounded queue; a subscriber that does not keep up loses its oldest
events rather than slowing the supervisor down or growing without bound.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

QUEUE_LIMIT = 10_000


class EventBus:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._queues.discard(queue)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        message = {"event": kind, "at": int(time.time() * 1000), "data": data}
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)
