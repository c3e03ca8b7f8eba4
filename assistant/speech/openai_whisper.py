"""openai-whisper (PyTorch) transcriber: the reference implementation, offline too.

A packaged model name loads the checkpoint that `assistant models export-whisper`
builds from the packaged weights (built here on first use if missing); a path to
a .pt loads it; any other name is an openai-whisper hub name ("small", "large-v3")
downloaded into <data_dir>/models/openai-whisper by users with internet.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.errors import DependencyMissing, ModelError, ModelUnavailable
from assistant.speech.audio import SAMPLE_RATE
from assistant.speech.base import Segment, Transcript
from assistant.speech.options import WhisperOptions
from assistant.speech.vocabulary import whisper_prompt
from assistant.speech.weights import is_packaged
from assistant.speech.whisper_base import WhisperBackend

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


class OpenAIWhisperTranscriber(WhisperBackend):
    name = "openai-whisper"

    def __init__(self, options: WhisperOptions, data_dir: Path) -> None:
        super().__init__(options, data_dir)
        # whisper installs its kv-cache hooks on the shared model for each call:
        # two decodes at once would read each other's caches.
        self._decoding = threading.Lock()

    def checkpoint(self) -> str:
        """What whisper.load_model gets: a checkpoint path (built if packaged) or a hub name."""
        model = self.options.model
        if is_packaged(model):
            from assistant.speech.export import default_checkpoint, export_whisper

            path = default_checkpoint(model, self.data_dir)
            if not path.is_file():
                log.info("no openai-whisper checkpoint for %s yet: building %s", model, path)
                export_whisper(model, self.data_dir, path)
            return str(path)
        return model  # a .pt path, or a hub name for users with internet

    def _build(self) -> Any:
        whisper, torch = _imports()
        started = time.perf_counter()
        source = self.checkpoint()
        # torch's thread count is process-wide: the LLM backend sets the same knob.
        torch.set_num_threads(self.options.threads)
        try:
            model = whisper.load_model(source, device="cpu",
                                       download_root=str(self.data_dir / "models" / "openai-whisper"))
        except (RuntimeError, OSError) as exc:
            raise ModelUnavailable(f"cannot load Whisper model '{self.options.model}': {exc}") from exc
        # whisper reads its tokenizer file without closing it (a ResourceWarning on
        # every first use); read it once here, where that warning is expected.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            whisper.tokenizer.get_tokenizer(model.is_multilingual, num_languages=model.num_languages)
        log.info("loaded openai-whisper %s from %s in %.1f s",
                 self.options.model, source, time.perf_counter() - started)
        return model

    def transcribe_samples(self, samples: np.ndarray, *, language: str | None = None,
                           prompt: str | None = None) -> Transcript:
        """Transcribe 16 kHz mono float32 samples; never via whisper.load_audio (an ffmpeg binary)."""
        whisper, _ = _imports()
        model = self.load()
        language = language or self.options.language
        if not model.is_multilingual:
            language = "en"
        elif language is None and self.options.languages:
            language = _detect(whisper, model, samples, self.options.languages)
        beam = self.options.beam_size
        try:
            with self._decoding:
                result = whisper.transcribe(
                    model, samples, language=language, fp16=False, verbose=None,
                    initial_prompt=whisper_prompt(self.options.vocabulary, prompt),
                    without_timestamps=not self.options.timestamps,
                    beam_size=beam if beam > 1 else None,
                )
        except RuntimeError as exc:
            raise ModelError(f"Whisper failed on this audio: {exc}") from exc
        segments = tuple(Segment(float(s["start"]), float(s["end"]), s["text"].strip())
                         for s in result["segments"])
        return Transcript.from_segments(segments, language=result["language"],
                                        duration=len(samples) / SAMPLE_RATE)


def _imports() -> tuple[Any, Any]:
    try:
        import torch
        import whisper
    except ImportError:
        raise DependencyMissing("openai-whisper", "openai-whisper") from None
    return whisper, torch


def _detect(whisper: Any, model: Any, samples: np.ndarray, allowed: tuple[str, ...]) -> str:
    """The likeliest of the allowed languages in the first 30 s."""
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(samples), model.dims.n_mels).to(model.device)
    _, probabilities = model.detect_language(mel)
    return max(allowed, key=lambda lang: probabilities.get(lang, 0.0))
