"""The transcriber interface: audio in (any common format), a Transcript out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Segment:
    start: float  # seconds
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str  # ISO 639-1 code, detected or forced
    duration: float  # seconds of audio
    segments: tuple[Segment, ...] = ()


class Transcriber(Protocol):
    """Blocking: callers run it off the event loop. Bad audio raises AudioError."""

    name: str

    def transcribe(self, audio: bytes, *, language: str | None = None,
                   prompt: str | None = None) -> Transcript: ...
