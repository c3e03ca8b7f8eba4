"""What both websocket endpoints share: the connection gauge and the receive loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from fastapi import WebSocket, WebSocketDisconnect

from channels.outbox import Outbox
from channels.protocol import ProtocolError
from channels.service import Service


class Connection(Protocol):
    async def run(self) -> None: ...

    async def stop(self) -> None: ...


async def serve_counted(service: Service, endpoint: str, conn: Connection) -> None:
    """Run a connection to its end, counted in the connections gauge, then stop its tasks."""
    gauge = service.metrics.connections.labels(endpoint=endpoint)
    gauge.inc()
    try:
        await conn.run()
    finally:
        gauge.dec()
        await conn.stop()


async def text_frames(ws: WebSocket, out: Outbox) -> AsyncIterator[str]:
    """The client's text frames until it disconnects; a binary frame gets an error and is skipped."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("text") is None:
                await out.error(ProtocolError(
                    "Binary frames are not supported: upload files with POST /api/uploads.",
                    code="binary_not_supported"))
                continue
            yield msg["text"]
