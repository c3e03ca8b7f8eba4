"""Sending frames on a socket: one writer at a time, JSON at the edge, errors counted."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from assistant.settings import Settings
from channels.errors import close_code
from channels.frames import ServerError, ServerFrame
from channels.metrics import Metrics
from knowledge.errors import SupportError


class Outbox:
    def __init__(self, ws: WebSocket, metrics: Metrics) -> None:
        self.ws = ws
        self.metrics = metrics
        self._lock = asyncio.Lock()  # the feed task and the receive loop both send

    async def send(self, frame: dict[str, Any] | ServerFrame) -> None:
        """Log frames come as the dicts their view made (channels.views), the rest typed."""
        wire = frame if isinstance(frame, dict) else frame.to_wire()
        text = json.dumps(wire, ensure_ascii=False, separators=(",", ":"))
        async with self._lock:
            await self.ws.send_text(text)

    async def error(self, exc: SupportError) -> bool:
        """An `error` frame about something the client sent (outside the log: no seq), then the
        close the error table (channels.errors) gives its code, if any. True: the socket stays."""
        self.metrics.error(exc.code)
        frame = ServerError(code=exc.code, message=exc.message)
        code = close_code(exc)
        if code is None:
            await self.send(frame)
            return True
        with contextlib.suppress(Exception):  # closing anyway: a socket already gone is fine
            await self.send(frame)
            await self.ws.close(code)
        return False


def client_ip(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


def origin_allowed(settings: Settings, origin: str | None) -> bool:
    """Browsers send Origin; other clients (the CLI, tests) do not and are not limited by it."""
    allowed = settings.server.allowed_origins
    return not allowed or origin is None or origin in allowed
