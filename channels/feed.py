"""Follow one conversation for one socket: replay what the client missed, then live.

Subscribe to the conversation's bus topic FIRST, then read the store: an event
stored in between arrives both ways and the view drops the copy. Live events
come from the bus; when one arrives whose predecessor was never seen, or the bus
says it dropped messages (a gap marker), the missing ones are re-read from the store. So the
client gets every event of its view once, in order, whatever the bus does.
Both sockets start their feeds with `follow`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocketDisconnect

from assistant.events import Event
from assistant.store.base import ConversationStore
from channels.bus import Bus
from channels.views import Gap, View, conv_topic, event_of

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]
Announce = Callable[[int], Awaitable[None]]  # told the view's last_seq before the replay starts


class Feed:
    def __init__(self, store: ConversationStore, bus: Bus, conversation_id: str, view: View,
                 send: Send, on_ephemeral: Send | None = None) -> None:
        self.store = store
        self.bus = bus
        self.conversation_id = conversation_id
        self.view = view
        self.send = send
        self.on_ephemeral = on_ephemeral
        self.after = 0  # frames with seq <= after are the client's already

    async def run(self, after: int | None, announce: Announce | None = None) -> None:
        """Replay after `after` (None = everything), calling announce(last_seq) before the
        first replayed frame; then forward live events until cancelled."""
        self.after = after or 0
        async with self.bus.subscribe(conv_topic(self.conversation_id)) as messages:
            if self.view.agent and after:
                self.view.start_after(after)
            backlog = await self._frames(await self.store.events(self.conversation_id,
                                                                 after=self.view.store_seq))
            if announce is not None:
                await announce(self.view.seq)
            for frame in backlog:
                await self._emit(frame)
            async for _topic, message in messages:
                await self._on_message(message)

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        if kind == "gap":  # the bus lost messages (slow socket, Redis reconnect): the store has them
            frames = await self._catch_up()
        elif kind == "ephemeral":
            if self.on_ephemeral is not None:
                await self.on_ephemeral(message["frame"])
            return
        elif (event := event_of(message)) is not None:
            frames = await self._frames([event])
        else:
            return
        for frame in frames:
            await self._emit(frame)

    async def _catch_up(self) -> list[dict[str, Any]]:
        return await self._frames(await self.store.events(self.conversation_id, after=self.view.store_seq))

    async def _frames(self, events: list[Event]) -> list[dict[str, Any]]:
        frames = []
        for event in events:
            try:
                frame = self.view.take(event)
            except Gap:
                frames.extend(await self._catch_up())
                continue
            if frame is not None:
                frames.append(frame)
        return frames

    async def _emit(self, frame: dict[str, Any]) -> None:
        if frame["seq"] > self.after:
            await self.send(frame)


async def follow(feed: Feed, after: int | None, announce: Announce, *,
                 on_failure: Callable[[], Awaitable[None]] | None = None) -> asyncio.Task[None]:
    """Run the feed in a task; return the task once the feed has announced (or ended),
    so that what the socket answers next (errors, pongs) comes after the announcement.

    A socket that went away ends the task quietly (the client resumes elsewhere); any
    other failure is logged, then `on_failure` runs.
    """
    announced = asyncio.Event()

    async def announce_then_mark(last_seq: int) -> None:
        await announce(last_seq)
        announced.set()

    task = asyncio.create_task(_run(feed, after, announce_then_mark, on_failure))
    waiter = asyncio.create_task(announced.wait())
    try:
        await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()  # its owner never got it, so nobody else would end it
        raise
    finally:
        waiter.cancel()
    return task


async def _run(feed: Feed, after: int | None, announce: Announce,
               on_failure: Callable[[], Awaitable[None]] | None) -> None:
    try:
        await feed.run(after, announce)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the socket went away; the client resumes elsewhere
    except Exception:
        log.exception("feed of conversation %s failed", feed.conversation_id)
        if on_failure is not None:
            with contextlib.suppress(Exception):
                await on_failure()
