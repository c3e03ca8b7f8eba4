"""Decoding voice notes: every format customers send, and each kind of bad input's code."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest
from speech_clips import clip

from assistant.errors import AudioError
from assistant.speech.audio import SAMPLE_RATE, AudioLimits, decode, loudest_dbfs, sniff
from assistant.speech.synth import FORMATS, encode, tone

DATA = Path(__file__).parent / "data"
CONTAINERS = {"wav": "wav", "flac": "flac", "ogg": "ogg", "webm": "webm", "mp3": "mp3", "m4a": "mp4"}


def code_of(data: bytes, limits: AudioLimits | None = None) -> str:
    with pytest.raises(AudioError) as caught:
        decode(data, limits or AudioLimits())
    return caught.value.code


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_decodes_to_16k_mono_of_the_same_length(fmt: str) -> None:
    reference = decode(clip("wav"))
    audio = decode(clip(fmt))
    assert audio.container == CONTAINERS[fmt]
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert abs(audio.duration - reference.duration) < 0.1  # codec padding only
    assert loudest_dbfs(audio.samples) > -30  # speech, not silence


def test_the_bytes_decide_the_format_not_a_name() -> None:
    # A browser upload named .wav that is really webm/opus still decodes.
    assert sniff(clip("webm")) == ("webm", "matroska")
    assert sniff(clip("m4a"))[0] == "mp4"


def test_jfk_flac_is_eleven_seconds_at_16k() -> None:
    audio = decode((DATA / "audio" / "jfk.flac").read_bytes())
    assert audio.container == "flac"
    assert audio.duration == pytest.approx(11.0, abs=0.05)
    assert len(audio.samples) == pytest.approx(11.0 * SAMPLE_RATE, abs=800)


def test_empty_audio_is_refused() -> None:
    assert code_of(b"") == "audio_empty"


def test_a_header_without_sound_is_empty() -> None:
    assert code_of(tone(0.02, amplitude=0.5)) == "audio_empty"


@pytest.mark.parametrize("amplitude", [0.0, 0.001])
def test_silence_and_near_silence_are_refused(amplitude: float) -> None:
    assert code_of(tone(2.0, amplitude=amplitude)) == "audio_silent"


def test_silent_webm_is_refused() -> None:
    assert code_of(encode(tone(2.0), "webm")) == "audio_silent"


def test_a_quiet_tone_is_not_silence() -> None:
    assert decode(tone(2.0, amplitude=0.05)).duration == pytest.approx(2.0, abs=0.01)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_truncated_audio_is_corrupt(fmt: str) -> None:
    data = clip(fmt)
    assert code_of(data[: len(data) // 2]) == "audio_corrupt"


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_damaged_audio_is_corrupt(fmt: str) -> None:
    data = clip(fmt)
    # A correct signature followed by garbage: sniffed as audio, undecodable.
    garbage = data[:16] + bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8))
    assert code_of(garbage) == "audio_corrupt"


def test_a_png_is_unsupported_and_named() -> None:
    with pytest.raises(AudioError) as caught:
        decode((DATA / "abcd" / "faq_screenshot.png").read_bytes())
    assert caught.value.code == "audio_unsupported"
    assert "PNG" in caught.value.message


def test_text_is_unsupported() -> None:
    assert code_of(b"hello, this is not audio at all") == "audio_unsupported"


def test_too_many_bytes_are_refused_before_decoding() -> None:
    data = clip("wav")
    assert code_of(data, AudioLimits(max_bytes=len(data) - 1)) == "audio_too_large"
    assert decode(data, AudioLimits(max_bytes=len(data))).duration > 1


@pytest.mark.parametrize("fmt", ["wav", "webm", "ogg"])
def test_too_long_audio_is_refused(fmt: str) -> None:
    data = clip(fmt)  # about 3.3 s
    assert code_of(data, AudioLimits(max_seconds=2.0)) == "audio_too_long"
    assert code_of(data, AudioLimits(max_seconds=3.0)) == "audio_too_long"
    assert decode(data, AudioLimits(max_seconds=5.0)).duration > 3


def test_a_long_tone_is_refused_without_decoding_it_all() -> None:
    assert code_of(tone(130.0, amplitude=0.3)) == "audio_too_long"


def test_stereo_is_mixed_down() -> None:
    left = np.sin(np.arange(32000) / 10).astype(np.float32)
    pcm = (np.stack([left, np.zeros_like(left)], axis=1) * 20000).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(32000)
        w.writeframes(pcm.tobytes())
    audio = decode(buf.getvalue())
    assert audio.duration == pytest.approx(1.0, abs=0.01)
    assert loudest_dbfs(audio.samples) > -20
