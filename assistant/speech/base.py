"""The transcriber interface: audio in (any common format), a Transcript out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from assistant.errors import AudioError


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
    language_probability: float | None = None  # confidence of a detected language; None if forced

    @classmethod
    def from_segments(cls, segments: tuple[Segment, ...], *, language: str, duration: float,
                      language_probability: float | None = None) -> Transcript:
        """Join the segments; no words at all means nobody spoke (audio_silent)."""
        kept = tuple(s for s in segments if s.text)
        text = " ".join(s.text for s in kept)
        if not text:
            raise AudioError("no speech could be heard in the voice note", code="audio_silent")
        return cls(text, language, duration, kept, language_probability)

    def to_json(self) -> dict[str, object]:
        """The CLI's and the socket's shape: text, language, duration, segments."""
        return {
            "text": self.text,
            "language": self.language,
            "language_probability": (None if self.language_probability is None
                                     else round(self.language_probability, 3)),
            "duration": round(self.duration, 3),
            "segments": [{"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text}
                         for s in self.segments],
        }


class Transcriber(Protocol):
    """Blocking: callers run it off the event loop. Bad audio raises AudioError."""

    name: str

    def transcribe(self, audio: bytes, *, language: str | None = None,
                   prompt: str | None = None) -> Transcript: ...
