"""faster-whisper (CTranslate2, int8 on CPU): the default transcriber, offline from packaged weights."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.errors import DependencyMissing, ModelError
from assistant.speech.audio import SAMPLE_RATE, decode
from assistant.speech.base import Segment, Transcript
from assistant.speech.options import WhisperOptions
from assistant.speech.vocabulary import whisper_prompt
from assistant.speech.weights import ct2_model

if TYPE_CHECKING:
    from assistant.settings import Settings

log = logging.getLogger(__name__)


class FasterWhisperTranscriber:
    name = "faster-whisper"

    def __init__(self, options: WhisperOptions, data_dir: Path) -> None:
        self.options = options
        self.data_dir = data_dir
        self._model: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> FasterWhisperTranscriber:
        return cls(WhisperOptions.from_config(settings.speech), settings.data_dir)

    def load(self) -> Any:
        """The WhisperModel, loaded on first use (once, whichever thread asks first)."""
        with self._lock:
            if self._model is None:
                self._model = self._build()
        return self._model

    def _build(self) -> Any:
        started = time.perf_counter()
        source = ct2_model(self.options.model, self.data_dir)
        model_class = _model_class()
        try:
            model = model_class(source, device="cpu", compute_type="int8",
                                cpu_threads=self.options.threads, num_workers=self.options.workers,
                                download_root=str(self.data_dir / "models" / "hub"))
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"cannot load Whisper model '{self.options.model}': {exc}") from exc
        log.info("loaded faster-whisper %s from %s in %.1f s",
                 self.options.model, source, time.perf_counter() - started)
        return model

    def transcribe(self, audio: bytes, *, language: str | None = None,
                   prompt: str | None = None) -> Transcript:
        """Decode any supported format and transcribe it; bad audio raises AudioError."""
        samples = decode(audio, self.options.limits).samples
        return self.transcribe_samples(samples, language=language, prompt=prompt)

    def transcribe_samples(self, samples: np.ndarray, *, language: str | None = None,
                           prompt: str | None = None) -> Transcript:
        """Transcribe 16 kHz mono float32 samples (already decoded and checked)."""
        model = self.load()
        language = language or self.options.language
        probability = None
        if language is None and model.model.is_multilingual:
            language, probability = _detect(model, samples)
        try:
            segments, info = model.transcribe(
                samples, language=language, beam_size=self.options.beam_size,
                initial_prompt=whisper_prompt(self.options.vocabulary, prompt),
                vad_filter=self.options.vad_filter,
                without_timestamps=not self.options.timestamps,
            )
            parts = tuple(Segment(s.start, s.end, s.text.strip()) for s in segments)
        except RuntimeError as exc:
            raise ModelError(f"Whisper failed on this audio: {exc}") from exc
        finally:
            model.forget_encoding()
        return Transcript.from_segments(parts, language=info.language,
                                        duration=len(samples) / SAMPLE_RATE,
                                        language_probability=probability)


def _detect(model: Any, samples: np.ndarray) -> tuple[str, float]:
    # Trim the feature extractor's extra last frame, as transcription does, so the
    # detection window equals transcription's first window and its encoding is reused.
    features = model.feature_extractor(samples)[..., :-1]
    language, probability, _ = model.detect_language(features=features)
    return language, float(probability)


def _model_class() -> type:
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise DependencyMissing("faster-whisper", "faster-whisper") from None

    class ReusingWhisperModel(WhisperModel):
        """Encodes each 30 s window once, though language detection and decoding both ask.

        faster-whisper encodes the first window for detection, then again to decode:
        for a voice note under 30 s that doubles the cost of the whole encoder.
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._last = threading.local()  # per thread: concurrent transcriptions never share

        def encode(self, features: np.ndarray) -> Any:
            last = getattr(self._last, "pair", None)
            if last is not None and last[0].shape == features.shape and np.array_equal(last[0], features):
                return last[1]
            output = super().encode(features)
            self._last.pair = (np.array(features, copy=True), output)
            return output

        def forget_encoding(self) -> None:
            self._last.pair = None

    return ReusingWhisperModel
