"""No generator at all: the answer is the best retrieved record's resolution.

The fallback when no model can be loaded, and the baseline the generative
backends are measured against. It streams word by word so clients see the same
flow of deltas as from a model.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

from assistant.llm.base import ChatRequest, Delta

NO_RECORD = "I could not find this in our records; I can connect you with a person."

_WORDS = re.compile(r"\s*\S+")  # each word with the whitespace before it: joins back exactly


class ExtractiveBackend:
    name = "extractive"
    supports_images = False

    def __init__(self, no_record: str = NO_RECORD) -> None:
        self.no_record = no_record

    @classmethod
    def from_settings(cls, settings: Any) -> ExtractiveBackend:
        return cls()

    def answer(self, request: ChatRequest) -> str:
        best = request.references[0].text.strip() if request.references else ""
        return best or self.no_record

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        for word in _WORDS.findall(self.answer(request)):
            yield Delta(word)
            await asyncio.sleep(0)  # let other conversations (and cancellation) in

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def aclose(self) -> None:
        return None
