"""Streaming one answer into the conversation log, whatever happens to it.

Every delta is stored before it is yielded, so the log holds what the client saw.
The turn always ends with one closing event: AnswerCompleted (with sources), or
AnswerCompleted(interrupted=True) when the consumer went away mid-stream, or an
ErrorEvent naming the answer (`answer_id`) and the question (`message_id`) when the
model failed. The stream is never left hanging. An answer that
another worker closed meanwhile (it took this one for dead) just stops: its close
is in the log already.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence

from assistant.clarify import label
from assistant.errors import AnswerClosed, AssistantError
from assistant.events import AnswerCompleted, AnswerDelta, AnswerStarted, ErrorEvent, Event, Option, Source
from assistant.llm.base import ChatRequest, Delta, LLMBackend
from assistant.store.base import ConversationStore
from knowledge.records import Hit, Record

log = logging.getLogger(__name__)


RESOLVED_CASE = "a resolved case"  # a customer's title for a ticket of no intent


def sources_of(hits: Sequence[Hit], *, labels: Mapping[str, str] | None = None) -> tuple[Source, ...]:
    """The records as a client shows them. With `labels` (`dialogue.intent_labels`: an answer a
    customer reads) a ticket is titled by what it is about, never by its request or subject: a
    history's requests are other customers' words, redacted of contacts and numbers but not of
    everything a person writes. A policy keeps its heading, a transcript its subject (its flow)."""
    return tuple(Source(id=h.id, score=round(h.score, 4), intent=h.record.intent,
                        category=h.record.category, title=_title(h.record, labels)[:120],
                        audience=h.record.audience)
                 for h in hits)


def _title(record: Record, labels: Mapping[str, str] | None) -> str:
    if labels is None or record.kind == "policy":  # a policy's request is its own first line
        return record.subject or record.request
    if record.kind == "transcript" and record.subject:  # "Order issue / Status delivery time"
        return record.subject
    return label(record.intent, labels) if record.intent else RESOLVED_CASE


async def stream_answer(store: ConversationStore, llm: LLMBackend, request: ChatRequest, *,
                        conversation_id: str, answer_id: str, sources: tuple[Source, ...],
                        question_id: str = "", grounded: bool = True,
                        options: tuple[Option, ...] = ()) -> AsyncGenerator[Event, None]:
    """AnswerStarted, AnswerDelta…, then the closing event; each stored, then yielded.

    The model runs ahead in its own task. Whatever text arrived while the previous
    delta was being stored goes out as one delta: token by token when the store keeps
    up, fewer and larger writes when it does not (many conversations at once). Text
    the model has at once (a cached or extractive answer) is stored in the same
    transaction as AnswerStarted: one commit instead of two before the first delta.
    """
    parts: list[str] = []
    opened = finished = False
    stream = llm.stream(request)
    queue: asyncio.Queue[object] = asyncio.Queue()
    pump = asyncio.create_task(_pump(stream, queue))
    try:
        for _ in range(_FIRST_STEPS):  # a few turns of the loop for text the model has at hand
            await asyncio.sleep(0)
            if not queue.empty():
                break
        texts, end = _drain(queue.get_nowait(), queue) if not queue.empty() else ([], None)
        first: list[Event] = [AnswerStarted(conversation_id=conversation_id, message_id=answer_id)]
        while True:
            if texts:
                parts.append("".join(texts))
                first.append(AnswerDelta(conversation_id=conversation_id, message_id=answer_id,
                                         text=parts[-1]))
            if end is not None:
                first.append(_closing(end, conversation_id, answer_id, question_id, parts, sources, grounded,
                                            options))
            try:
                stored = await store.append_many(first)  # one transaction, durable on return
            except AnswerClosed:
                # Another worker took this one for dead and closed the answer: the log ends it.
                log.warning("answer %s was closed by another worker; stopping it", answer_id)
                finished = True
                return
            opened, finished = True, end is not None  # before yielding: the consumer may leave
            for event in stored:
                yield event
            if finished:
                return
            first = []
            texts, end = _drain(await queue.get(), queue)
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        await _close(stream)
        if opened and not finished:
            # The consumer went away (aclose or cancel): the model is stopped; record what was said.
            # Shielded so a second cancellation cannot lose the write.
            cut = AnswerCompleted(conversation_id=conversation_id, message_id=answer_id,
                                  text="".join(parts), sources=sources, interrupted=True, grounded=grounded)
            with contextlib.suppress(AnswerClosed):  # closed by another worker meanwhile
                await asyncio.shield(store.append(cut))


_END = object()  # the model finished normally
_FIRST_STEPS = 3  # event-loop turns an answer waits for text before storing AnswerStarted alone


async def _pump(stream: AsyncIterator[Delta], queue: asyncio.Queue[object]) -> None:
    """Model text into the queue, then _END, or the exception that ended it."""
    try:
        async for delta in stream:
            if delta.text:
                queue.put_nowait(delta.text)
    except Exception as exc:  # handed to the consumer, which ends the turn with it
        queue.put_nowait(exc)
        return
    queue.put_nowait(_END)


def _drain(first: object, queue: asyncio.Queue[object]) -> tuple[list[str], object | None]:
    """The texts waiting in the queue, and the end marker if one came after them."""
    texts: list[str] = []
    item: object = first
    while isinstance(item, str):
        texts.append(item)
        try:
            item = queue.get_nowait()
        except asyncio.QueueEmpty:
            return texts, None
    return texts, item


def _closing(end: object, conversation_id: str, answer_id: str, question_id: str, parts: list[str],
             sources: tuple[Source, ...], grounded: bool, options: tuple[Option, ...]) -> Event:
    if end is _END:
        return AnswerCompleted(conversation_id=conversation_id, message_id=answer_id,
                               text="".join(parts).strip(), sources=sources, grounded=grounded,
                               options=options)
    if isinstance(end, AssistantError):
        log.warning("answer %s failed: %s", answer_id, end.message)
        return ErrorEvent(conversation_id=conversation_id, code=end.code, message=end.message,
                          message_id=question_id, answer_id=answer_id)
    # A backend bug must still end the turn, not hang the client.
    log.error("answer %s: the model backend crashed", answer_id, exc_info=end)  # type: ignore[arg-type]
    return ErrorEvent(conversation_id=conversation_id, code="model_error", message_id=question_id,
                      answer_id=answer_id,
                      message="The assistant could not answer because of an internal error.")


async def collect(llm: LLMBackend, request: ChatRequest) -> str:
    """The whole text of a generation (suggestions for agents are not streamed)."""
    stream = llm.stream(request)
    try:
        return "".join([delta.text async for delta in stream]).strip()
    finally:
        await _close(stream)


async def _close(stream: AsyncIterator[object]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(RuntimeError):  # already closing (we are inside its own aclose)
            await aclose()
