"""The customer endpoint /ws/chat (protocol v1, docs/protocol.md).

A socket says `hello` (new conversation, or resume with its token), then sends
messages; everything it receives from the log comes from a Feed, in seq order.
Bad frames get an `error` frame and the socket stays usable; nothing a client
sends can end the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from functools import partial
from typing import Any

from starlette.websockets import WebSocket

from assistant.events import UserMessage
from assistant.store.base import ConversationInfo
from channels.access import holds_resume_token
from channels.errors import AccessError, ChannelError, ProtocolError
from channels.feed import Feed, follow
from channels.frames import Pong, Ready, TypingNotice
from channels.limits import TokenBucket, rate_limited
from channels.outbox import Outbox, client_ip, origin_allowed
from channels.protocol import (
    ChatFrame,
    FeedbackFrame,
    Handoff,
    Hello,
    MessageFrame,
    Ping,
    Typing,
    parse_client_frame,
)
from channels.service import Service
from channels.sockets import serve_counted, text_frames
from channels.views import View, conv_topic, ephemeral_message
from knowledge.errors import SupportError

log = logging.getLogger(__name__)


async def chat_socket(ws: WebSocket) -> None:
    service: Service = ws.app.state.service
    await ws.accept()
    out = Outbox(ws, service.metrics)
    if not origin_allowed(service.settings, ws.headers.get("origin")):
        await out.error(AccessError("This site may not open the chat.", code="origin_not_allowed"))  # 4403
        return
    await serve_counted(service, "chat", ChatConnection(ws, service, out))


class ChatConnection:
    def __init__(self, ws: WebSocket, service: Service, out: Outbox) -> None:
        self.ws = ws
        self.service = service
        self.out = out
        self.ip = client_ip(ws)
        self.bucket = TokenBucket(service.settings.server.messages_per_minute)
        self.info: ConversationInfo | None = None
        self.user_id = ""
        self.feed_task: asyncio.Task[None] | None = None
        self.last_typing = 0.0

    async def run(self) -> None:
        async for raw in text_frames(self.ws, self.out):
            await self.on_text(raw)

    async def stop(self) -> None:
        if self.feed_task is not None:
            self.feed_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.feed_task

    async def on_text(self, raw: str) -> None:
        try:
            self.service.limits.check_frame(raw)
            frame = parse_client_frame(raw, "chat")
            await self.dispatch(frame)
        except SupportError as exc:
            await self.out.error(exc)
        except Exception:  # a bug must cost one frame, not the connection or the worker
            log.exception("chat frame failed")
            await self.out.error(ChannelError("The server could not handle that frame.", code="internal"))

    async def dispatch(self, frame: ChatFrame) -> None:
        if isinstance(frame, Ping):
            await self.out.send(Pong(frame.nonce))
        elif isinstance(frame, Hello):
            await self.on_hello(frame)
        elif self.info is None:
            raise ProtocolError("Send 'hello' first.", code="hello_required")
        elif isinstance(frame, MessageFrame):
            await self.on_message(frame, self.info)
        elif isinstance(frame, Handoff):
            self.spend()  # every frame that writes to the log counts against the rate limits
            await self.service.publish_all(
                await self.service.dialogue.request_handoff(self.info.id, frame.reason or "customer_request"))
        elif isinstance(frame, FeedbackFrame):
            self.spend()
            await self.service.publish_all(await self.service.dialogue.feedback(
                self.info.id, frame.message_id, frame.rating, frame.comment))
        elif isinstance(frame, Typing):
            await self.on_typing(self.info)

    async def on_hello(self, frame: Hello) -> None:
        if self.info is not None:
            raise ProtocolError("This socket already has a conversation; open another socket.",
                                code="bad_field")
        self.user_id = self._verified_user(frame)
        if frame.conversation_id:
            info = await self._resume(frame.conversation_id, frame.resume_token)
        else:
            if self.service.shutting_down:
                raise ChannelError("The server is restarting; connect again in a moment.",
                                   code="shutting_down")
            info = await self.service.dialogue.new_conversation(user_id=self.user_id,
                                                                inbox=frame.inbox or "default")
        self.info = info
        await self._follow(info, frame.last_seq, resumed=bool(frame.conversation_id))

    def _verified_user(self, frame: Hello) -> str:
        if not frame.user_id:
            return ""
        if not frame.user_hash or not self.service.auth.verify_customer(frame.user_id, frame.user_hash):
            raise AccessError("The identity could not be verified.", code="identity_invalid")
        return frame.user_id

    async def _resume(self, conversation_id: str, resume_token: str | None) -> ConversationInfo:
        info = await self.service.store.get(conversation_id)
        token_ok = holds_resume_token(info, resume_token)
        user_ok = bool(self.user_id) and info.user_id == self.user_id
        if not (token_ok or user_ok):
            raise AccessError("This conversation cannot be resumed without its token.", code="forbidden")
        return info

    async def _follow(self, info: ConversationInfo, after: int | None, *, resumed: bool) -> None:
        async def announce(last_seq: int) -> None:
            await self.out.send(Ready(conversation_id=info.id, resume_token=info.resume_token,
                                      state=info.state, last_seq=last_seq, resumed=resumed))

        feed = Feed(self.service.store, self.service.bus, info.id, View(agent=False), self.out.send,
                    on_ephemeral=self.on_ephemeral)
        # Frames answered after this one (errors, pongs) must come after `ready`.
        self.feed_task = await follow(feed, after, announce, on_failure=partial(self.ws.close, 1011))

    async def on_message(self, frame: MessageFrame, info: ConversationInfo) -> None:
        self.service.limits.check_message(frame.text, len(frame.attachments))
        message = UserMessage(conversation_id=info.id, text=frame.text, attachments=tuple(frame.attachments),
                              client_msg_id=frame.client_msg_id, user_id=self.user_id)
        if await self.service.turns.resend(message):
            return  # being answered, or answered: the log has it
        self.spend()
        if self.service.shutting_down:
            raise ChannelError("The server is restarting; send again in a moment.", code="shutting_down")
        for attachment_id in frame.attachments:
            attachment = await self.service.store.get_attachment(attachment_id)
            if attachment.conversation_id != info.id:
                raise ChannelError(f"There is no attachment {attachment_id!r}.", code="attachment_not_found")
        self.service.turns.start(message)
        self.last_typing = 0.0  # the message ends this burst of typing: signal the next one at once

    def spend(self) -> None:
        """One write: from this connection's bucket and this address's (LimitError when empty)."""
        if not self.bucket.take():
            raise rate_limited("on this connection")
        if not self.service.ip_buckets.take(self.ip):
            raise rate_limited("from your address")

    async def on_typing(self, info: ConversationInfo) -> None:
        now = time.monotonic()
        if now - self.last_typing < 1.0:  # one typing signal a second is plenty
            return
        self.last_typing = now
        await self.service.bus.publish(conv_topic(info.id), ephemeral_message(
            TypingNotice(conversation_id=info.id, sender="customer")))

    async def on_ephemeral(self, frame: dict[str, Any]) -> None:
        if frame.get("from") != "customer":
            await self.out.send(frame)
