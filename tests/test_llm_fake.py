"""FakeLLM behaves like a backend: deltas, recorded requests, failure, early close."""

from __future__ import annotations

import pytest

from assistant.errors import ModelError
from assistant.llm.base import ChatMessage, ChatRequest
from assistant.llm.fake import FakeLLM

REQUEST = ChatRequest((ChatMessage("user", "hi"),))


async def test_yields_its_deltas_and_records_requests() -> None:
    llm = FakeLLM(["Hel", "lo"])
    assert [d.text async for d in llm.stream(REQUEST)] == ["Hel", "lo"]
    assert llm.requests == [REQUEST]


async def test_fails_after_n_deltas_with_model_error() -> None:
    llm = FakeLLM(["a", "b", "c"], fail_after=1)
    seen = []
    with pytest.raises(ModelError):
        async for d in llm.stream(REQUEST):
            seen.append(d.text)
    assert seen == ["a"]


async def test_counts_consumers_that_go_away() -> None:
    llm = FakeLLM(["a", "b", "c"])
    stream = llm.stream(REQUEST)
    await anext(stream)
    await stream.aclose()
    assert (llm.yielded, llm.closed_early) == (1, 1)
