"""Customer turns, owned here from the message to the closing event; channels only publish.

    turns = Turns(runtime.dialogue, runtime.store, publish=service.publish, observer=metrics)
    if not await turns.resend(message):
        turns.start(message)

A turn runs as a task of the app, not of the socket that sent it: a dropped
socket does not stop its answer, which keeps being generated and stored, and the
client gets the rest when it resumes. Turns of one conversation run one after
another (per worker). Every event a turn stores is published once, in order:

- a turn that ends normally published all it stored (the dialogue yields each
  event after storing it): it costs no read after;
- a turn that fails stores an `error` naming the customer's message;
- a turn that is cancelled (shutdown: `drain`) or fails mid-answer has its answer
  closed by the answer stream itself (assistant.answering: AnswerCompleted
  interrupted, with what was said), and what was stored but never yielded (that
  close, or a message whose write was in flight) is read back and published here.

A worker that dies cannot do any of this: the store's lease sweep closes what it
left open (assistant.store.leases), and the app publishes those closes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from assistant.events import AnswerDelta, ErrorEvent, Event, UserMessage
from assistant.ports import Dialogue, TurnObserver, TurnTrace
from assistant.store.base import ConversationStore
from knowledge.errors import SupportError

log = logging.getLogger(__name__)

Publish = Callable[[Event], Awaitable[None]]
FAILED = "Something went wrong while answering; please try again."


class Turns:
    def __init__(self, dialogue: Dialogue, store: ConversationStore, *, publish: Publish,
                 observer: TurnObserver) -> None:
        self.dialogue = dialogue
        self.store = store
        self.publish = publish  # a stored event -> to whoever follows the conversation
        self.observer = observer
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._inflight: set[tuple[str, str]] = set()  # (conversation, client_msg_id) being answered

    async def resend(self, message: UserMessage) -> bool:
        """This message was sent before and is being answered now, or was answered: it is not
        a new question. (A turn a restart cut off is answered again: assistant.dialogue.)"""
        key = (message.conversation_id, message.client_msg_id)
        if message.client_msg_id and key in self._inflight:
            return True
        return await self.dialogue.resent(message.conversation_id, message.client_msg_id)

    def start(self, message: UserMessage) -> None:
        """Answer the message in a task of its own (after the conversation's earlier turns)."""
        key = (message.conversation_id, message.client_msg_id)
        self._inflight.add(key)
        task = asyncio.create_task(self._run(message), name=f"turn:{message.conversation_id}")
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
        them to store and publish their interrupted answers."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    async def _run(self, message: UserMessage) -> None:
        lock = self._locks.setdefault(message.conversation_id, asyncio.Lock())
        async with lock:
            await self._process(message)
        if not lock.locked():
            self._locks.pop(message.conversation_id, None)

    async def _process(self, message: UserMessage) -> None:
        cid = message.conversation_id
        start = time.monotonic()
        trace = TurnTrace()  # the dialogue notes there the seq its events follow
        published, outcome, first_delta, finished = 0, "ok", True, False
        question = ""  # the stored message's id, once the dialogue has yielded it
        try:
            async for event in self.dialogue.handle(message, trace=trace):
                if isinstance(event, UserMessage) and not question:
                    question = event.message_id
                elif isinstance(event, AnswerDelta) and first_delta:
                    first_delta = False
                    self.observer.first_delta(time.monotonic() - start)
                elif event.type == "transcript":
                    self.observer.transcribed(time.monotonic() - start)
                elif isinstance(event, ErrorEvent):
                    outcome = "error"
                    self.observer.error(event.code)
                await self.publish(event)
                published = max(published, event.seq)
            finished = True  # the dialogue yielded, and so published, all it stored
        except asyncio.CancelledError:
            outcome = "interrupted"
            raise
        except Exception as exc:  # one conversation's failure must not touch the others
            outcome = "error"
            log.exception("turn failed in conversation %s", cid)
            await self._store_error(cid, question, exc)
        finally:
            self.observer.turn_ended(outcome)
            # A turn that had not read the log yet stored nothing.
            if not finished and trace.last_seq is not None:
                await self._publish_rest(cid, max(published, trace.last_seq))

    async def _publish_rest(self, cid: str, published: int) -> None:
        """Publish what the turn stored but did not yield (an interrupted close, an error)."""
        try:
            for event in await self.store.events(cid, after=published):
                await self.publish(event)
        except Exception:
            log.exception("could not publish the rest of the turn of conversation %s", cid)

    async def _store_error(self, cid: str, question: str, exc: Exception) -> None:
        code, message = (exc.code, exc.message) if isinstance(exc, SupportError) else ("internal", FAILED)
        self.observer.error(code)
        try:
            await self.store.append(ErrorEvent(conversation_id=cid, code=code, message_id=question,
                                               message=message))
        except Exception:
            log.exception("could not store the error of conversation %s", cid)
