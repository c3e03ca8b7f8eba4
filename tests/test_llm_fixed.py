"""FixedLLM, the load benchmark's stand-in model, picked by llm.backend = "fixed"."""

from __future__ import annotations

from typing import Any

from assistant.llm import LLM_BACKENDS
from assistant.llm.base import ChatMessage, ChatRequest


async def test_the_fixed_backend_streams_the_same_answer_word_by_word(settings: Any) -> None:
    llm = LLM_BACKENDS.create("fixed", settings)
    request = ChatRequest(messages=(ChatMessage(role="user", content="anything"),))
    first = [d.text async for d in llm.stream(request)]
    again = [d.text async for d in llm.stream(request)]
    assert first == again and len(first) > 10
    assert "".join(first).strip() == llm.ANSWER
