"""faster-whisper (CTranslate2, int8 on CPU): the default transcriber, offline from packaged weights."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.errors import DependencyMissing, ModelError, ModelUnavailable
from assistant.speech.audio import SAMPLE_RATE
from assistant.speech.base import Segment, Transcript
from assistant.speech.vocabulary import whisper_prompt
from assistant.speech.weights import ct2_model
from assistant.speech.whisper_base import WhisperBackend

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

TRIM_MARGIN = 200  # padding frames (10 ms each) kept after the audio when trimming the window
MIN_WINDOW = 1000  # never encode less than 10 s: 5 s windows misheard 1-2 s notes in trials
MAX_WORDS_PER_SECOND = 6  # fast speech is about 4; more means a repetition loop


class FasterWhisperTranscriber(WhisperBackend):
    name = "faster-whisper"

    def _build(self) -> Any:
        started = time.perf_counter()
        source = ct2_model(self.options.model, self.data_dir)
        model_class = _model_class()
        try:
            model = model_class(source, device="cpu", compute_type="int8",
                                cpu_threads=self.options.threads, num_workers=self.options.workers,
                                download_root=str(self.data_dir / "models" / "hub"))
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelUnavailable(f"cannot load Whisper model '{self.options.model}': {exc}") from exc
        model.trim_window = self.options.trim_window
        log.info("loaded faster-whisper %s from %s in %.1f s",
                 self.options.model, source, time.perf_counter() - started)
        return model

    def transcribe_samples(self, samples: np.ndarray, *, language: str | None = None,
                           prompt: str | None = None) -> Transcript:
        """Transcribe 16 kHz mono float32 samples (already decoded and checked)."""
        model = self.load()
        language = language or self.options.language
        probability = None
        if language is None and model.model.is_multilingual:
            language, probability = _detect(model, samples, self.options.languages)
        duration = len(samples) / SAMPLE_RATE
        prompt = whisper_prompt(self.options.vocabulary, prompt)
        parts, found = self._decode(model, samples, language, prompt)
        if model.trim_window and _runaway(parts, duration):
            # A trimmed window can send Whisper into a repetition loop; the full one rarely does.
            log.info("repetition on a trimmed %.1f s window: decoding the full 30 s window", duration)
            with model.full_window():
                parts, found = self._decode(model, samples, language, prompt)
        return Transcript.from_segments(parts, language=found, duration=duration,
                                        language_probability=probability)

    def _decode(self, model: Any, samples: np.ndarray, language: str | None,
                prompt: str | None) -> tuple[tuple[Segment, ...], str]:
        try:
            segments, info = model.transcribe(
                samples, language=language, beam_size=self.options.beam_size, initial_prompt=prompt,
                vad_filter=self.options.vad_filter, without_timestamps=not self.options.timestamps,
            )
            return tuple(Segment(s.start, s.end, s.text.strip()) for s in segments), info.language
        except RuntimeError as exc:
            raise ModelError(f"Whisper failed on this audio: {exc}") from exc
        finally:
            model.forget_encoding()


def _runaway(segments: tuple[Segment, ...], duration: float) -> bool:
    """More words than anyone says in that time: Whisper is repeating itself."""
    words = sum(len(s.text.split()) for s in segments)
    return words > MAX_WORDS_PER_SECOND * duration + 5


def _detect(model: Any, samples: np.ndarray, allowed: tuple[str, ...] = ()) -> tuple[str, float]:
    """The likeliest language, among `allowed` when given, and its probability."""
    # Trim the feature extractor's extra last frame, as transcription does, so the
    # detection window equals transcription's first window and its encoding is reused.
    features = model.feature_extractor(samples)[..., :-1]
    language, probability, everyone = model.detect_language(features=features)
    if allowed and language not in allowed:
        language, probability = max(((lang, p) for lang, p in everyone if lang in allowed),
                                    key=lambda pair: pair[1], default=(language, probability))
    return language, float(probability)


def _trimmed(features: np.ndarray) -> np.ndarray:
    """The window without its padding beyond TRIM_MARGIN frames (at least MIN_WINDOW).

    pad_or_trim pads with exact zeros; a log-mel frame of real audio is never all
    zero (even digital silence normalises to a negative floor), so trailing zero
    frames are padding.
    """
    frames = features.shape[-1]
    spoken = np.flatnonzero(np.abs(features.reshape(-1, frames)).max(axis=0))
    end = int(spoken[-1]) + 1 if len(spoken) else 0
    keep = min(frames, max(MIN_WINDOW, -(-(end + TRIM_MARGIN) // 100) * 100))  # whole seconds
    return features[..., :keep]


def _model_class() -> type:
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise DependencyMissing("faster-whisper", "faster-whisper") from None

    class FastEncodingWhisperModel(WhisperModel):
        """WhisperModel that spends less on its encoder, the bulk of the work on a voice note.

        - Each window is encoded once: faster-whisper encodes the first 30 s window
          for language detection, then again to decode it.
        - With `trim_window`, the zero padding that fills a short clip's window to
          30 s is cut to TRIM_MARGIN frames (CTranslate2 takes any length): on 3 s
          notes the benchmark ran several times faster at the same word error rate.
        """

        trim_window = False

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._last = threading.local()  # per thread: concurrent transcriptions never share

        def encode(self, features: np.ndarray) -> Any:
            last = getattr(self._last, "pair", None)
            if last is not None and last[0].shape == features.shape and np.array_equal(last[0], features):
                return last[1]
            trim = self.trim_window and not getattr(self._last, "full", False)
            output = super().encode(_trimmed(features) if trim else features)
            self._last.pair = (np.array(features, copy=True), output)
            return output

        def forget_encoding(self) -> None:
            self._last.pair = None

        @contextlib.contextmanager
        def full_window(self) -> Iterator[None]:
            """Encode whole 30 s windows in this thread for the duration."""
            self._last.full = True
            try:
                yield
            finally:
                self._last.full = False

    return FastEncodingWhisperModel
