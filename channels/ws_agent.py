"""The agents' endpoint /ws/agent: the console's live queue and conversations.

`hello` with a token first (else the socket closes with 4401); then every frame
naming a conversation is checked against the agent's inboxes. An agent may
follow several conversations at once: each has its own Feed in the agent view
(private events included, the store's own seq numbers). The token is checked on
every frame and, when the agent sends nothing, every few seconds
(channels.accounts): an expired token or a removed or reset account closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from channels.accounts import AccountCheck, AgentIdentity, bearer_token
from channels.errors import AccessError, ChannelError, ProtocolError
from channels.feed import Feed, follow
from channels.frames import AgentReady, ConversationList, ConversationSummary, Pong, TypingNotice
from channels.outbox import Outbox
from channels.protocol import (
    AgentFrame,
    AgentHello,
    Close,
    ConversationFrame,
    HandBack,
    Leave,
    Open,
    Ping,
    Reply,
    Subscribe,
    Suggest,
    TakeOver,
    Typing,
    parse_client_frame,
)
from channels.service import Service
from channels.sockets import serve_counted, text_frames
from channels.views import View, conv_topic, ephemeral_message, inbox_topic, summary_of
from knowledge.errors import SupportError

log = logging.getLogger(__name__)



async def agent_socket(ws: WebSocket) -> None:
    service: Service = ws.app.state.service
    await ws.accept()
    await serve_counted(service, "agent", AgentConnection(ws, service, Outbox(ws, service.metrics)))


class AgentConnection:
    def __init__(self, ws: WebSocket, service: Service, out: Outbox) -> None:
        self.ws = ws
        self.service = service
        self.out = out
        self.agent: AgentIdentity | None = None
        self.token = ""  # checked again on every frame and by _watch: a dead token stops working
        self.tasks: dict[str, asyncio.Task[None]] = {}  # "inbox" and conversation ids
        self.last_typing: dict[str, float] = {}  # conversation id -> when this agent last signalled typing
        self.watch: asyncio.Task[None] | None = None  # the token's periodic check, after hello

    async def run(self) -> None:
        async for raw in text_frames(self.ws, self.out):
            if not await self.on_text(raw):
                return

    async def stop(self) -> None:
        if self.watch is not None:
            self.watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.watch
        await self._end_feeds()

    async def _end_feeds(self) -> None:
        # Taken out first: the watch may end them while the read loop still runs.
        tasks, self.tasks = list(self.tasks.values()), {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _start_watch(self) -> None:
        accounts = self.service.accounts
        if accounts is not None and self.watch is None:
            self.watch = asyncio.create_task(self._watch(accounts))

    async def _watch(self, accounts: AccountCheck) -> None:
        """Check the token every `accounts.seconds` even when the agent sends nothing, so an
        idle console of a removed agent is told and closed too. It reads the store each
        time (never a remembered answer), which keeps the delay within one interval."""
        while True:
            await asyncio.sleep(accounts.seconds)
            try:
                await accounts.verify(self.token, fresh=True)
            except AccessError as exc:
                await self.out.error(exc)  # token_revoked: closes with 4401
                # The read loop ends when the client answers the close; the feeds end now.
                await self._end_feeds()
                return
            except Exception:  # the store is unreachable: frames fail closed; try again later
                log.exception("checking the account of an agent failed")

    async def on_text(self, raw: str) -> bool:
        """Handle one frame; False when the socket has been closed."""
        try:
            self.service.limits.check_frame(raw)
            await self.dispatch(parse_client_frame(raw, "agent"))
        except SupportError as exc:
            return await self.out.error(exc)  # a dead token closes the socket (4401)
        except Exception:
            log.exception("agent frame failed")
            await self.out.error(ChannelError("The server could not handle that frame.", code="internal"))
        return True

    async def dispatch(self, frame: AgentFrame) -> None:
        if isinstance(frame, Ping):
            await self.out.send(Pong(frame.nonce))
            return
        if isinstance(frame, AgentHello):
            self.token = frame.token or bearer_token(self.ws.headers.get("authorization"))
            self.agent = await self.service.verify_agent(self.token)
            self._start_watch()
            await self.out.send(AgentReady(agent=self.agent.name, inboxes=tuple(self.agent.inboxes)))
            return
        if self.agent is None:
            raise AccessError("Send 'hello' with your token first.", code="unauthorized")
        self.agent = await self.service.verify_agent(self.token)
        if isinstance(frame, Subscribe):
            await self.on_subscribe(frame, self.agent)
            return
        cid = frame.conversation_id or ""  # a typing frame without one names no conversation
        await self.service.agent_conversation(self.agent, cid)
        await self.on_conversation_frame(frame, cid, self.agent)

    async def on_conversation_frame(self, frame: ConversationFrame, cid: str, agent: AgentIdentity) -> None:
        dialogue, publish = self.service.dialogue, self.service.publish_all
        if isinstance(frame, Open):
            await self.on_open(cid, frame.last_seq)
        elif isinstance(frame, Leave):
            task = self.tasks.pop(cid, None)
            if task is not None:
                task.cancel()
        elif isinstance(frame, TakeOver):
            await publish(await dialogue.take_over(cid, agent.name))
        elif isinstance(frame, HandBack):
            await publish(await dialogue.hand_back(cid, agent.name))
        elif isinstance(frame, Close):
            await publish(await dialogue.close(cid, agent.name))
        elif isinstance(frame, Reply):
            await publish(await dialogue.agent_reply(cid, agent.name, frame.text))
        elif isinstance(frame, Suggest):
            await self.service.publish_stream(dialogue.suggest(cid))
        elif isinstance(frame, Typing):
            now = time.monotonic()
            if now - self.last_typing.get(cid, 0.0) < 1.0:  # the protocol's one a second
                return
            self.last_typing[cid] = now
            await self.service.bus.publish(conv_topic(cid), ephemeral_message(
                TypingNotice(conversation_id=cid, sender="agent", agent=agent.name)))

    async def on_subscribe(self, frame: Subscribe, agent: AgentIdentity) -> None:
        mine = list(agent.inboxes)
        wanted = [i for i in frame.inboxes if "*" in mine or i in mine] if frame.inboxes else mine
        if "*" in wanted:
            raise ProtocolError("Name the inboxes to subscribe to.", code="bad_field")
        if not wanted:  # an empty filter would list every inbox
            raise AccessError("You do not handle these inboxes.", code="forbidden")
        infos = await self.service.store.list(inboxes=tuple(wanted))
        await self.out.send(ConversationList(tuple(ConversationSummary.of(i) for i in infos)))
        old = self.tasks.pop("inbox", None)
        if old is not None:
            old.cancel()
        self.tasks["inbox"] = asyncio.create_task(self._watch_inboxes(wanted))

    async def _watch_inboxes(self, inboxes: list[str]) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            async with self.service.bus.subscribe(*[inbox_topic(i) for i in inboxes]) as messages:
                async for _topic, message in messages:
                    if (changed := summary_of(message)) is not None:
                        await self.out.send(changed)

    async def on_open(self, cid: str, last_seq: int | None) -> None:
        if cid in self.tasks:
            return

        async def announce(_last: int) -> None:
            await self.out.send(ConversationSummary.of(await self.service.store.get(cid)))

        feed = Feed(self.service.store, self.service.bus, cid, View(agent=True), self.out.send,
                    on_ephemeral=self.on_ephemeral)
        self.tasks[cid] = await follow(feed, last_seq, announce)

    async def on_ephemeral(self, frame: dict[str, Any]) -> None:
        me = self.agent.name if self.agent is not None else None
        mine = frame.get("from") == "agent" and frame.get("agent") == me
        if not mine:
            await self.out.send(frame)
