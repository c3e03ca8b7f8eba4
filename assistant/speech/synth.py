"""Spoken clips for tests and benchmarks: espeak-ng speech, re-encoded the way customers send it.

`speak("check my invoice", "webm")` gives the bytes of a webm/opus voice note,
like a browser's MediaRecorder makes. Needs Debian's espeak-ng binary and PyAV.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from typing import Any

import numpy as np

from assistant.errors import DependencyMissing

# format -> (muxer, codec, sample rate): what browsers, phones and integrations send
FORMATS: dict[str, tuple[str, str, int]] = {
    "wav": ("wav", "pcm_s16le", 22_050),
    "flac": ("flac", "flac", 22_050),
    "ogg": ("ogg", "libopus", 48_000),  # Firefox's MediaRecorder
    "webm": ("webm", "libopus", 48_000),  # Chrome's MediaRecorder
    "mp3": ("mp3", "libmp3lame", 44_100),
    "m4a": ("ipod", "aac", 44_100),  # iPhone voice memos
}


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, fmt: str = "wav", *, voice: str = "en-us", speed: int = 160) -> bytes:
    """Synthesise `text` with espeak-ng and encode it as `fmt` (a key of FORMATS)."""
    if not espeak_available():
        raise DependencyMissing("espeak-ng", "(Debian) apt-get install espeak-ng")
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
        check=True, capture_output=True, timeout=60,
    ).stdout
    return encode(wav, fmt)  # even wav: espeak's streamed header declares no length


def encode(audio: bytes, fmt: str) -> bytes:
    """Re-encode any decodable audio as `fmt` with PyAV."""
    import av

    muxer, codec, rate = FORMATS[fmt]
    out = io.BytesIO()
    with av.open(io.BytesIO(audio), mode="r") as src, av.open(out, mode="w", format=muxer) as dst:
        stream: Any = dst.add_stream(codec, rate=rate, layout="mono")
        fmt_name = stream.codec_context.codec.audio_formats[0].name
        resampler = av.AudioResampler(format=fmt_name, layout="mono", rate=rate)
        for frame in src.decode(audio=0):
            for out_frame in resampler.resample(frame):
                dst.mux(stream.encode(out_frame))
        for out_frame in resampler.resample(None):
            dst.mux(stream.encode(out_frame))
        dst.mux(stream.encode(None))
    return out.getvalue()


def tone(seconds: float, *, amplitude: float = 0.0, rate: int = 16_000) -> bytes:
    """A wav of a 440 Hz tone (amplitude 0 = digital silence), for limit and silence tests."""
    import wave

    t = np.arange(int(seconds * rate)) / rate
    pcm = (amplitude * 32767 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()
