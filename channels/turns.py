"""Runs customer turns as tasks of the app, not of the socket that sent them.

A dropped socket does not stop its answer: the answer keeps being generated and
stored, and the client gets the rest when it resumes. Turns of one conversation
run one after another (per worker). On shutdown `drain` lets them finish within
a grace period, then cancels them; after a cancelled or failed turn, any answer
left open in the store is completed as `interrupted`, so nothing said is lost.
A turn that ends normally has published all it stored: it costs no read after.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from assistant.dialogue import TurnTrace
from assistant.events import AnswerCompleted, AnswerDelta, AnswerStarted, ErrorEvent, Event
from channels.handlers import Turn

log = logging.getLogger(__name__)

Publish = Callable[[Event], Awaitable[None]]


class TurnRunner:
    def __init__(self, dialogue: Any, store: Any, publish: Publish, metrics: Any) -> None:
        self.dialogue = dialogue
        self.store = store
        self.publish = publish  # stored event -> on the bus
        self.metrics = metrics
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._inflight: set[tuple[str, str]] = set()

    def busy_with(self, conversation_id: str, client_msg_id: str) -> bool:
        return (conversation_id, client_msg_id) in self._inflight

    def start(self, turn: Turn) -> None:
        key = (turn.conversation_id, turn.client_msg_id)
        self._inflight.add(key)
        task = asyncio.create_task(self._run(turn), name=f"turn:{turn.conversation_id}")
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, key))

    def _done(self, task: asyncio.Task[None], key: tuple[str, str]) -> None:
        self._tasks.discard(task)
        self._inflight.discard(key)

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def drain(self, grace: float) -> None:
        """Wait up to `grace` seconds for running turns, then cancel the rest and wait for
        them to store their interrupted answers."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    async def _run(self, turn: Turn) -> None:
        lock = self._locks.setdefault(turn.conversation_id, asyncio.Lock())
        async with lock:
            await self._process(turn)
        if not lock.locked():
            self._locks.pop(turn.conversation_id, None)

    async def _process(self, turn: Turn) -> None:
        cid = turn.conversation_id
        start = time.monotonic()
        trace = TurnTrace()  # the dialogue notes there the seq its events follow
        published, outcome, first_delta, finished = 0, "ok", True, False
        try:
            async for event in self.dialogue.handle(turn, trace=trace):
                if isinstance(event, AnswerDelta) and first_delta:
                    first_delta = False
                    self.metrics.ttft.observe(time.monotonic() - start)
                elif event.type == "transcript":
                    self.metrics.transcription.observe(time.monotonic() - start)
                elif isinstance(event, ErrorEvent):
                    outcome = "error"
                    self.metrics.error(event.code)
                await self.publish(event)
                published = max(published, event.seq)
            finished = True  # the dialogue yielded, and so published, all it stored
        except asyncio.CancelledError:
            outcome = "interrupted"
            raise
        except Exception as exc:  # one conversation's failure must not touch the others
            outcome = "error"
            log.exception("turn failed in conversation %s", cid)
            await self._store_error(cid, exc)
        finally:
            self.metrics.turns.labels(outcome=outcome).inc()
            # A turn that had not read the log yet stored nothing.
            if not finished and trace.last_seq is not None:
                await self._settle(cid, trace.last_seq, max(published, trace.last_seq))

    async def _settle(self, cid: str, before: int, published: int) -> None:
        """Complete answers the turn left open, and publish what was stored but not yielded."""
        try:
            events = await self.store.events(cid, after=before)
            for done in _open_answers(cid, events):
                events.append(await self.store.append(done))
            for event in events:
                if event.seq > published:
                    await self.publish(event)
        except Exception:
            log.exception("could not settle the turn of conversation %s", cid)

    async def _store_error(self, cid: str, exc: Exception) -> None:
        code = getattr(exc, "code", "internal")
        message = getattr(exc, "message", "") or "Something went wrong while answering; please try again."
        self.metrics.error(code)
        try:
            await self.store.append(ErrorEvent(conversation_id=cid, code=code, message=message))
        except Exception:
            log.exception("could not store the error of conversation %s", cid)


def _open_answers(cid: str, events: list[Event]) -> list[AnswerCompleted]:
    """An interrupted AnswerCompleted for every answer started but never completed."""
    texts: dict[str, list[str]] = {}
    for event in events:
        if isinstance(event, AnswerStarted):
            texts[event.message_id] = []
        elif isinstance(event, AnswerDelta) and event.message_id in texts:
            texts[event.message_id].append(event.text)
        elif isinstance(event, AnswerCompleted):
            texts.pop(event.message_id, None)
    return [AnswerCompleted(conversation_id=cid, message_id=mid, text="".join(parts), interrupted=True)
            for mid, parts in texts.items()]
