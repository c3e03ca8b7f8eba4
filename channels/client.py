"""A Python client of the customer protocol v1 (/ws/chat), for scripts, tests and `assistant chat`.

    async with await connect("ws://127.0.0.1:8080/ws/chat") as chat:
        await chat.send("Where is my order?")
        async for frame in chat.frames():
            if isinstance(frame, AnswerDelta): print(frame.text, end="")
            if isinstance(frame, AnswerCompleted): break

When the socket drops, `frames()` reconnects (with backoff) and resumes after the
last seq it saw, so nothing is missed or repeated; messages not yet echoed by the
server are sent again (the server ignores a resend). Files go up over HTTP first
and travel as attachment ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from assistant.events import Event, UserMessage
from channels.errors import ERRORS, ChannelError
from channels.frames import Frame, Ready, ServerError, parse_server_frame

# Close codes after which trying again cannot help (bad token, origin not allowed): the
# server's error table read backwards (the first code of each close names it).
CLOSE_CODES = {o.close: code for code, o in reversed(ERRORS.items()) if o.close is not None}
FINAL_CLOSE = frozenset(CLOSE_CODES)


class ClientError(ChannelError):
    """The server refused something; `code` is the protocol's error code."""


async def connect(url: str | Sequence[str], *, conversation_id: str | None = None,
                  resume_token: str | None = None, last_seq: int = 0, **options: Any) -> ChatClient:
    """Open a chat: a new conversation, or resume one after `last_seq` with its resume token
    (or a verified user_id/user_hash). Several URLs (workers without a proxy in front) are
    tried in turn when one fails. Options: user_id, user_hash, inbox, origin, reconnect
    (True), retries (30), timeout (s)."""
    client = ChatClient(url, conversation_id=conversation_id, resume_token=resume_token,
                        last_seq=last_seq, **options)
    await client.open()
    return client


class ChatClient:
    def __init__(self, url: str | Sequence[str], *, conversation_id: str | None = None,
                 resume_token: str | None = None, last_seq: int = 0, user_id: str | None = None,
                 user_hash: str | None = None, inbox: str | None = None, origin: str | None = None,
                 reconnect: bool = True, retries: int = 30, timeout: float = 30.0) -> None:
        self.urls = [url] if isinstance(url, str) else list(url)
        self._at = 0  # index of the URL in use
        self.conversation_id = conversation_id
        self.resume_token = resume_token
        self.last_seq = last_seq  # highest seq seen: a resume asks for what follows
        self.state = "bot"
        self.identity = {"user_id": user_id, "user_hash": user_hash, "inbox": inbox}
        self.origin = origin
        self.reconnect = reconnect
        self.retries = retries  # reconnect attempts in a row before giving up
        self.timeout = timeout
        self.pending: dict[str, dict[str, Any]] = {}  # client_msg_id -> frame, until echoed
        self.reconnects = 0
        self._ws: Any = None
        self._ready: Ready | None = None
        self._closed = False

    # -- connection ----------------------------------------------------------------

    async def open(self) -> Ready:
        from websockets.asyncio.client import connect as ws_connect
        from websockets.typing import Origin

        origin = Origin(self.origin) if self.origin else None
        self._ws = await asyncio.wait_for(ws_connect(self.url, origin=origin, max_size=None,
                                                     open_timeout=self.timeout), self.timeout)
        hello: dict[str, Any] = {"type": "hello", **{k: v for k, v in self.identity.items() if v}}
        if self.conversation_id:
            hello.update(conversation_id=self.conversation_id, resume_token=self.resume_token,
                         last_seq=self.last_seq)
        frame = await self._hello(hello)
        if isinstance(frame, ServerError):
            await self._ws.close()
            raise ClientError(frame.message, code=frame.code)
        if not isinstance(frame, Ready):
            raise ClientError(f"expected 'ready', got {frame!r}", code="bad_frame")
        self.conversation_id, self.resume_token = frame.conversation_id, frame.resume_token
        self.state, self._ready = frame.state, frame
        for pending in list(self.pending.values()):  # unacknowledged: the server dedupes
            await self._ws.send(json.dumps(pending))
        return frame

    async def _hello(self, hello: dict[str, Any]) -> Frame:
        from websockets.exceptions import ConnectionClosed

        # A server that refuses the socket (origin) sends its error and closes at once:
        # the hello may find the socket closed, but the error frame is still there to read.
        with contextlib.suppress(ConnectionClosed):
            await self._ws.send(json.dumps(hello))
        try:
            return parse_server_frame(json.loads(await asyncio.wait_for(self._ws.recv(), self.timeout)))
        except ConnectionClosed as exc:
            code = getattr(exc.rcvd, "code", None)
            raise ClientError(f"The server closed the connection ({code}).",
                              code=CLOSE_CODES.get(code or 0, "disconnected")) from None

    @property
    def url(self) -> str:
        return self.urls[self._at]

    @property
    def ready(self) -> Ready | None:
        return self._ready

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # -- sending -------------------------------------------------------------------

    async def send(self, text: str = "", attachments: list[str] | tuple[str, ...] = (),
                   client_msg_id: str | None = None) -> str:
        """Send a message; returns its client_msg_id (echoed in the stored `message`)."""
        cmid = client_msg_id or f"py-{uuid.uuid4().hex}"
        frame = {"type": "message", "text": text, "attachments": list(attachments), "client_msg_id": cmid}
        self.pending[cmid] = frame
        await self._send(frame)
        return cmid

    async def send_file(self, path: str | Path, text: str = "") -> str:
        """Upload an image or a voice note, then send it as a message's attachment."""
        return await self.send(text, [await self.upload(path)])

    async def handoff(self, reason: str = "customer_request") -> None:
        await self._send({"type": "handoff", "reason": reason})

    async def feedback(self, message_id: str, rating: str, comment: str = "") -> None:
        await self._send({"type": "feedback", "message_id": message_id, "rating": rating, "comment": comment})

    async def upload(self, path: str | Path, data: bytes | None = None) -> str:
        """POST the file to /api/uploads of this server; returns the attachment id."""
        import httpx

        path = Path(path)
        body = data if data is not None else path.read_bytes()
        async with httpx.AsyncClient(base_url=http_base(self.url), timeout=self.timeout) as http:
            r = await http.post("/api/uploads", headers={"X-Resume-Token": self.resume_token or ""},
                                params={"conversation_id": self.conversation_id or ""},
                                files={"file": (path.name, body)})
        payload = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        if r.status_code != 200:
            raise ClientError(payload.get("message", r.text[:200]), code=payload.get("code", "upload_failed"))
        return str(payload["id"])

    async def _send(self, frame: dict[str, Any]) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self._ws.send(json.dumps(frame))
        except ConnectionClosed:
            if not self.reconnect:
                raise
            # frames() reconnects; a message stays in `pending` and is sent again then.

    # -- receiving -----------------------------------------------------------------

    async def frames(self) -> AsyncIterator[Frame]:
        """Every server frame, typed; after a drop, the new `Ready` (resumed) and what followed."""
        from websockets.exceptions import ConnectionClosed

        while not self._closed:
            try:
                raw = await self._ws.recv()
            except ConnectionClosed as exc:
                if self._closed or not self.reconnect or _final(exc):
                    return
                yield await self._resume()
                continue
            frame = parse_server_frame(json.loads(raw), self.conversation_id or "")
            self._track(frame)
            yield frame

    def _track(self, frame: Frame) -> None:
        if isinstance(frame, Event):
            self.last_seq = max(self.last_seq, frame.seq)
            if isinstance(frame, UserMessage):
                self.pending.pop(frame.client_msg_id, None)
            if frame.type == "status":
                self.state = frame.state  # type: ignore[attr-defined]

    async def _resume(self) -> Ready:
        delay, last = 0.1, ""
        for _ in range(self.retries):
            try:
                ready = await self.open()
                self.reconnects += 1
                return ready
            except ClientError as exc:
                if exc.code not in ("shutting_down", "disconnected"):  # forbidden, not found …: final
                    raise
                last = exc.message
            except Exception as exc:  # refused, timed out, a proxy's 502 during the handshake
                last = f"{type(exc).__name__}: {exc}"
            self._at = (self._at + 1) % len(self.urls)
            if self._at == 0:  # every URL tried once: back off
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        raise ClientError(f"Could not reconnect after {self.retries} attempts ({last}).", code="disconnected")


def _final(exc: Any) -> bool:
    rcvd = getattr(exc, "rcvd", None)
    return rcvd is not None and rcvd.code in FINAL_CLOSE


def http_base(ws_url: str) -> str:
    """http(s)://host:port of a ws(s):// URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(ws_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"
