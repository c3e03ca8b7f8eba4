"""Voice notes in, 16 kHz mono float32 samples out: the one way audio enters Whisper.

PyAV decodes in-process (no ffmpeg binary). The container is sniffed from the
first bytes, never from a file name, and ffmpeg is told which demuxer to use, so
it never probes bytes into exotic demuxers (playlists, concat) that read files.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant import filetypes
from assistant.errors import AudioError, DependencyMissing

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # what Whisper expects
SILENCE_DBFS = -50.0  # loudest 20 ms window quieter than this = nothing was said
MIN_SECONDS = 0.1  # shorter than this cannot hold a word
TRUNCATED_SHARE = 0.9  # decoding less than this share of the declared length = truncated

# ffmpeg's demuxer where its name differs from the sniffed format.
_DEMUXERS = {"webm": "matroska", "mp4": "mov"}
# Files people send by mistake, named in the refusal (a WebP goes to the image reader).
_NAMED = frozenset({"png", "jpeg", "gif", "pdf", "zip"})


@dataclass(frozen=True)
class AudioLimits:
    max_bytes: int = 20_000_000  # largest accepted upload
    max_seconds: float = 120.0  # longest accepted voice note


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32, mono, SAMPLE_RATE
    container: str  # sniffed format: wav, flac, ogg, webm, mp3, mp4, aac

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def sniff(data: bytes) -> tuple[str, str]:
    """(container name, ffmpeg demuxer) from the leading bytes; audio_unsupported if not audio."""
    found = filetypes.sniff(data)
    if found is not None and found.kind == "audio":
        return found.format, _DEMUXERS.get(found.format, found.format)
    if found is not None and found.format in _NAMED:
        raise AudioError(f"this file is {found.description}, not a voice note", code="audio_unsupported")
    raise AudioError("this file is not in a supported audio format "
                     "(wav, flac, ogg, webm, mp3, m4a, aac)", code="audio_unsupported")


def decode(data: bytes, limits: AudioLimits = AudioLimits()) -> DecodedAudio:
    """Decode, downmix and resample; each kind of bad input raises AudioError with its code."""
    if not data:
        raise AudioError("the voice note is empty", code="audio_empty")
    if len(data) > limits.max_bytes:
        raise AudioError(f"the voice note is larger than {limits.max_bytes:,} bytes",
                         code="audio_too_large")
    container, demuxer = sniff(data)
    if _cut_short(container, data):
        raise AudioError(f"the {container} audio is truncated: the file ends early", code="audio_corrupt")
    av = _import_av()
    try:
        with av.open(io.BytesIO(data), mode="r", format=demuxer) as source:
            samples, declared = _read_stream(av, source, limits.max_seconds)
    except av.error.FFmpegError as exc:
        log.info("audio refused: %s", exc)  # FFmpeg's words are for the operator's log
        raise AudioError(f"The {container} audio is damaged and cannot be decoded.",
                         code="audio_corrupt") from None
    decoded = DecodedAudio(samples, container)
    _check(decoded, declared)
    return decoded


def _read_stream(av: Any, source: Any, max_seconds: float) -> tuple[np.ndarray, float | None]:
    """All samples of the first audio stream, stopping as soon as the note is too long."""
    if not source.streams.audio:
        raise AudioError("the file holds no audio track", code="audio_unsupported")
    stream = source.streams.audio[0]
    # The declared length only serves to spot truncation: a damaged header may claim
    # hours, so "too long" is decided by counting the samples actually decoded.
    declared = _declared_seconds(source, stream)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total, limit = 0, int(max_seconds * SAMPLE_RATE)
    for frame in source.decode(stream):
        for out in resampler.resample(frame):
            chunk = out.to_ndarray().reshape(-1)
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:  # stop at the limit, not at the end of a long file
            raise _too_long(max_seconds)
    for out in resampler.resample(None):  # flush what the resampler holds back
        chunks.append(out.to_ndarray().reshape(-1))
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    return samples.astype(np.float32, copy=False), declared


def _declared_seconds(source: Any, stream: Any) -> float | None:
    """The length the header promises, when it promises one."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if source.duration is not None:
        return source.duration / 1_000_000  # AV_TIME_BASE
    return None


def _cut_short(container: str, data: bytes) -> bool:
    """Truncation that decoders pass over silently: a wav shorter than its header, a torn ogg page."""
    if container == "wav":
        at = data.find(b"data", 12)
        if at < 0 or len(data) < at + 8:
            return True
        size = int.from_bytes(data[at + 4:at + 8], "little")
        # Streaming writers leave 0 or a huge placeholder: then no length was promised.
        return 0 < size < 0x7FFF0000 and at + 8 + size > len(data)
    if container == "ogg":
        at = data.rfind(b"OggS")
        if len(data) < at + 27:
            return True
        nseg = data[at + 26]
        table = data[at + 27:at + 27 + nseg]
        return len(table) < nseg or at + 27 + nseg + sum(table) > len(data)
    return False


def _check(audio: DecodedAudio, declared: float | None) -> None:
    if declared and declared > 0.5 and audio.duration < declared * TRUNCATED_SHARE:
        raise AudioError(f"the {audio.container} audio is truncated: {audio.duration:.1f} s of "
                         f"the {declared:.1f} s it declares", code="audio_corrupt")
    if audio.duration < MIN_SECONDS:
        raise AudioError("the voice note holds no sound", code="audio_empty")
    if loudest_dbfs(audio.samples) < SILENCE_DBFS:
        raise AudioError("the voice note is silent: no speech could be heard", code="audio_silent")


def loudest_dbfs(samples: np.ndarray, window: int = SAMPLE_RATE // 50) -> float:
    """Level of the loudest 20 ms window in dB full scale (-inf for digital silence)."""
    usable = len(samples) // window * window
    frames = samples[:usable].reshape(-1, window) if usable else samples.reshape(1, -1)
    rms = float(np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1)).max())
    return 20 * math.log10(rms) if rms > 0 else -math.inf


def _too_long(max_seconds: float) -> AudioError:
    return AudioError(f"the voice note is longer than {max_seconds:g} seconds", code="audio_too_long")


def _import_av() -> Any:
    try:
        import av
    except ImportError:
        raise DependencyMissing("PyAV", "av") from None
    return av
