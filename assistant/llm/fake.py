"""A test double for every LLMBackend consumer: `FakeLLM(["Hel", "lo"])`.

It yields the given deltas, records each request it received, can pause between
deltas, and can fail after N deltas the way a real model does (ModelError).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from assistant.errors import ModelError
from assistant.llm.base import ChatRequest, Delta

if TYPE_CHECKING:
    from assistant.settings import Settings


class FakeLLM:
    name = "fake"
    reads_prompt = True

    def __init__(self, deltas: Sequence[str] = ("Hel", "lo"), *, delay: float = 0.0,
                 fail_after: int | None = None, supports_images: bool = False) -> None:
        self.deltas = list(deltas)
        self.delay = delay  # seconds before each delta
        self.fail_after = fail_after  # raise ModelError after this many deltas
        self.supports_images = supports_images
        self.requests: list[ChatRequest] = []
        self.yielded = 0  # deltas handed out, over all requests
        self.closed_early = 0  # streams whose consumer went away before the end
        self.closed = False

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        self.requests.append(request)
        done = False
        try:
            for i, text in enumerate(self.deltas):
                if self.fail_after is not None and i >= self.fail_after:
                    raise ModelError("the fake model failed on purpose")
                await asyncio.sleep(self.delay)
                self.yielded += 1
                yield Delta(text)
            done = True
        finally:
            if not done:
                self.closed_early += 1

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def aclose(self) -> None:
        self.closed = True


class FixedLLM:
    """A stand-in model for load tests (llm.backend = "fixed"): streams the same answer
    at once, word by word, remembering nothing, so the server's own cost is what shows."""

    name = "fixed"
    supports_images = False
    reads_prompt = True
    ANSWER = ("Thank you for reaching out. You can cancel the order from the Orders page: "
              "open it and press Cancel.")

    def __init__(self, answer: str = ANSWER) -> None:
        self.words = [w + " " for w in answer.split()]

    @classmethod
    def from_settings(cls, settings: Settings) -> FixedLLM:
        return cls()

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        for word in self.words:
            yield Delta(word)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def aclose(self) -> None:
        return None
