"""How to run Whisper, read once from the `[speech]` config and shared by both backends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.speech.audio import AudioLimits

if TYPE_CHECKING:
    from assistant.settings import SpeechConfig


@dataclass(frozen=True)
class WhisperOptions:
    model: str = "base"  # packaged size (base, tiny.en, small), a hub name, or a path
    language: str | None = None  # None detects it; "en" etc. forces it
    languages: tuple[str, ...] = ()  # detection picks among these only (() = any Whisper knows)
    beam_size: int = 5  # 1 = greedy: about a fifth faster, and it mishears more
    threads: int = 2  # CPU threads per transcription
    workers: int = 1  # transcriptions the model may run at once
    vocabulary: tuple[str, ...] = ()  # words to expect, put in Whisper's prompt
    vad_filter: bool = False  # cut non-speech first (Silero VAD): fewer made-up words on noise
    timestamps: bool = False  # phrase timings; without them decoding is faster
    trim_window: bool = True  # encode a short clip's window without most of its padding (faster-whisper)
    limits: AudioLimits = field(default_factory=AudioLimits)

    @classmethod
    def from_config(cls, config: SpeechConfig) -> WhisperOptions:
        return cls(
            model=config.model,
            language=config.language or None,
            languages=tuple(config.languages),
            beam_size=config.beam_size,
            threads=config.threads,
            workers=config.concurrency,
            vocabulary=tuple(config.vocabulary),
            vad_filter=config.vad_filter,
            timestamps=config.timestamps,
            trim_window=config.trim_window,
            limits=AudioLimits(max_bytes=config.max_bytes, max_seconds=config.max_seconds),
        )
