"""The chat-model interface: a request in, an async stream of text deltas out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from knowledge.records import Hit


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str
    images: tuple[bytes, ...] = ()  # raw image bytes, for vision-capable backends


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[ChatMessage, ...]
    max_new_tokens: int = 200
    temperature: float = 0.0
    references: tuple[Hit, ...] = field(default=())  # the retrieved records (extractive uses them)


@dataclass(frozen=True)
class Delta:
    text: str


class LLMBackend(Protocol):
    """One chat model. `stream` yields text as it is generated; closing the iterator
    (the consumer went away) must stop generation. Failures raise ModelError."""

    name: str
    supports_images: bool
    # False for a backend that reads no prompt (extractive): the cap on reference tokens, a price
    # of a model's prefill time, does not apply, and every retrieved record is there to choose from.
    reads_prompt: bool

    def stream(self, request: ChatRequest) -> AsyncIterator[Delta]: ...

    def count_tokens(self, text: str) -> int: ...

    async def aclose(self) -> None: ...
