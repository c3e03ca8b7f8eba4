"""No generator at all: the answer is the best retrieved record's resolution, composed
for this customer (assistant.compose: placeholders from [company] and the conversation).

The default answer path (nothing generated, nothing invented: see
benchmarks/answer_quality.py), the fallback when no model can be loaded, and what
the grounding guard falls back to when a model's sentences are all unsupported.
It streams word by word so clients see the same flow of deltas as from a model.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from assistant.compose import compose_best
from assistant.llm.base import ChatRequest, Delta

if TYPE_CHECKING:
    from assistant.settings import Settings

NO_RECORD = "I could not find this in our records; I can connect you with a person."

_WORDS = re.compile(r"\s*\S+")  # each word with the whitespace before it: joins back exactly


class ExtractiveBackend:
    name = "extractive"
    supports_images = False
    reads_prompt = False

    def __init__(self, no_record: str = NO_RECORD, company: Mapping[str, str] | None = None,
                 floor: float = 0.0) -> None:
        self.no_record = no_record
        self.company = dict(company or {})
        self.floor = floor  # the similarity a record needs to answer when a nearer one reads poorly

    @classmethod
    def from_settings(cls, settings: Settings) -> ExtractiveBackend:
        return cls(company=settings.company, floor=settings.dialogue.min_score)

    def answer(self, request: ChatRequest) -> str:
        if not request.references:
            return self.no_record
        said = [m.content for m in request.messages if m.role == "user"]
        return compose_best(request.references, self.company, said, floor=self.floor) or self.no_record

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        for word in _WORDS.findall(self.answer(request)):
            yield Delta(word)
            await asyncio.sleep(0)  # let other conversations (and cancellation) in

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def aclose(self) -> None:
        return None
