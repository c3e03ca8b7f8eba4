"""Request bodies are refused by size before they are read.

FastAPI parses a multipart upload (spooling it to temporary files) before the
endpoint can look at it, so a limit inside the endpoint comes too late: a 1 GiB
upload for a conversation that does not exist was read in full before its 404.
This ASGI middleware answers 413 at once when Content-Length is too large, and
stops a body sent without one (chunked) as soon as it passes the limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.settings import Settings

UPLOAD_OVERHEAD = 64 * 1024  # multipart boundaries and form fields around the file


class _TooLarge(BaseException):  # not Exception: body parsers catch those and answer 400
    pass


class BodyLimit:
    """413 {"code": "body_too_large"} for a body over `limit_for(method, path)` bytes."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str, str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _refuse(send, limit)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await _refuse(send, limit)


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"code": "body_too_large",
                       "message": f"The request body is larger than {limit} bytes."}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def limits_from_settings(settings: Settings) -> Callable[[str, str], int]:
    """Uploads: the larger of the image and voice-note limits; any other body: server.max_body_bytes."""
    upload = max(settings.vision.max_bytes, settings.speech.max_bytes) + UPLOAD_OVERHEAD
    other = settings.server.max_body_bytes

    def limit_for(method: str, path: str) -> int:
        return upload if path == "/api/uploads" else other
    return limit_for
