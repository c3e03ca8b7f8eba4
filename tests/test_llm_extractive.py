"""The extractive backend: the best record's resolution, streamed word by word."""

from __future__ import annotations

from assistant.llm import LLM_BACKENDS
from assistant.llm.base import ChatMessage, ChatRequest
from assistant.llm.extractive import NO_RECORD, ExtractiveBackend
from knowledge.records import Hit, Record


def hit(text: str, score: float) -> Hit:
    return Hit(Record(id=text[:8], request="q", resolution=text), score=score, text=text)


def request(*hits: Hit) -> ChatRequest:
    return ChatRequest((ChatMessage("user", "How do I cancel my order?"),), references=hits)


async def test_streams_the_best_record_word_by_word() -> None:
    best = "To cancel, open  Orders and click\nCancel order."
    deltas = [d.text async for d in ExtractiveBackend().stream(request(hit(best, 0.9), hit("Other.", 0.5)))]
    assert "".join(deltas) == best  # whitespace and line breaks survive
    assert len(deltas) == 8


async def test_without_records_it_offers_a_person() -> None:
    text = "".join([d.text async for d in ExtractiveBackend().stream(request())])
    assert text == NO_RECORD
    assert "person" in text


async def test_an_empty_best_record_is_no_answer() -> None:
    text = "".join([d.text async for d in ExtractiveBackend().stream(request(hit("   ", 0.9)))])
    assert text == NO_RECORD


async def test_registry_builds_it(settings) -> None:
    backend = LLM_BACKENDS.create("extractive", settings)
    assert backend.name == "extractive" and not backend.supports_images
    assert backend.count_tokens("three short words") == 3
    await backend.aclose()
