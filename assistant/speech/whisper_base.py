"""What both Whisper backends share: options, a model loaded once, decode then transcribe."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.speech.audio import decode
from assistant.speech.base import Transcript
from assistant.speech.options import WhisperOptions

if TYPE_CHECKING:
    from assistant.settings import Settings


class WhisperBackend:
    """A subclass builds its model (`_build`) and transcribes samples (`transcribe_samples`)."""

    name = "whisper"

    def __init__(self, options: WhisperOptions, data_dir: Path) -> None:
        self.options = options
        self.data_dir = data_dir
        self._model: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Any:
        return cls(WhisperOptions.from_config(settings.speech), settings.data_dir)

    def load(self) -> Any:
        """The model, loaded on first use (once, whichever thread asks first)."""
        with self._lock:
            if self._model is None:
                self._model = self._build()
        return self._model

    def transcribe(self, audio: bytes, *, language: str | None = None,
                   prompt: str | None = None) -> Transcript:
        """Decode any supported format and transcribe it; bad audio raises AudioError."""
        samples = decode(audio, self.options.limits).samples
        return self.transcribe_samples(samples, language=language, prompt=prompt)

    def _build(self) -> Any:
        raise NotImplementedError

    def transcribe_samples(self, samples: np.ndarray, *, language: str | None = None,
                           prompt: str | None = None) -> Transcript:
        raise NotImplementedError
