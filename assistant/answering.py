"""Streaming one answer into the conversation log, whatever happens to it.

Every delta is stored before it is yielded, so the log holds what the client saw.
The turn always ends with one closing event: AnswerCompleted (with sources), or
AnswerCompleted(interrupted=True) when the consumer went away mid-stream, or an
ErrorEvent when the model failed. The stream is never left hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

from assistant.errors import AssistantError
from assistant.events import AnswerCompleted, AnswerDelta, AnswerStarted, ErrorEvent, Event, Source
from assistant.llm.base import ChatRequest, LLMBackend
from assistant.store.base import ConversationStore
from knowledge.records import Hit

log = logging.getLogger(__name__)


def sources_of(hits: Sequence[Hit]) -> tuple[Source, ...]:
    return tuple(Source(id=h.id, score=round(h.score, 4), intent=h.record.intent,
                        category=h.record.category, title=(h.record.subject or h.record.request)[:120])
                 for h in hits)


async def stream_answer(store: ConversationStore, llm: LLMBackend, request: ChatRequest, *,
                        conversation_id: str, answer_id: str,
                        sources: tuple[Source, ...]) -> AsyncGenerator[Event, None]:
    """AnswerStarted, AnswerDelta…, then the closing event; each stored, then yielded."""
    yield await store.append(AnswerStarted(conversation_id=conversation_id, message_id=answer_id))
    parts: list[str] = []
    finished = False
    stream = llm.stream(request)
    try:
        try:
            async for delta in stream:
                if delta.text:
                    parts.append(delta.text)
                    yield await store.append(AnswerDelta(conversation_id=conversation_id,
                                                         message_id=answer_id, text=delta.text))
        except AssistantError as exc:
            finished = True
            log.warning("answer %s failed: %s", answer_id, exc.message)
            yield await store.append(ErrorEvent(conversation_id=conversation_id, code=exc.code,
                                                message=exc.message, message_id=answer_id))
            return
        except Exception:  # a backend bug must still end the turn, not hang the client
            finished = True
            log.exception("answer %s: the model backend crashed", answer_id)
            yield await store.append(ErrorEvent(
                conversation_id=conversation_id, code="model_error", message_id=answer_id,
                message="The assistant could not answer because of an internal error."))
            return
        finished = True
        yield await store.append(AnswerCompleted(conversation_id=conversation_id, message_id=answer_id,
                                                 text="".join(parts).strip(), sources=sources))
    finally:
        await _close(stream)
        if not finished:
            # The consumer went away (aclose or cancel): stop the model and record what was said.
            # Shielded so a second cancellation cannot lose the write.
            cut = AnswerCompleted(conversation_id=conversation_id, message_id=answer_id,
                                  text="".join(parts), sources=sources, interrupted=True)
            await asyncio.shield(store.append(cut))


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
