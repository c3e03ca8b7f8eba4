"""assistant.filetypes: real files of every accepted type, and the callers reading one table."""

from __future__ import annotations

import functools
import io

import pytest
from PIL import Image

from assistant.errors import AudioError
from assistant.filetypes import sniff
from assistant.images import sniff_image_type
from assistant.llm.openai_http import data_url
from assistant.speech import audio
from assistant.speech.synth import encode, tone
from channels import uploads


def image(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 30)).save(buf, format=fmt)
    return buf.getvalue()


@functools.cache
def samples() -> dict[str, tuple[bytes, tuple[str, str, str]]]:
    """name -> (bytes, (kind, format, content type)); real files where the type is accepted."""
    return {
        **{fmt: (image(fmt.upper()), ("image", fmt, f"image/{fmt}"))
           for fmt in ("png", "jpeg", "gif", "webp")},
        "wav": (tone(0.2, amplitude=0.3), ("audio", "wav", "audio/wav")),
        **{fmt: (encode(tone(0.2, amplitude=0.3), fmt), ("audio", name, content_type))
           for fmt, name, content_type in (("flac", "flac", "audio/flac"), ("ogg", "ogg", "audio/ogg"),
                                           ("webm", "webm", "audio/webm"), ("mp3", "mp3", "audio/mpeg"),
                                           ("m4a", "mp4", "audio/mp4"))},
        "adts": (b"\xff\xf1\x50\x80" + bytes(60), ("audio", "aac", "audio/mpeg")),
        "mpeg frames": (b"\xff\xfb\x90\x64" + bytes(60), ("audio", "mp3", "audio/mpeg")),
        "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", ("document", "pdf", "application/pdf")),
        "zip": (b"PK\x03\x04\x14\x00\x00\x00", ("archive", "zip", "application/zip")),
    }


NAMES = ("adts", "flac", "gif", "jpeg", "m4a", "mp3", "mpeg frames", "ogg", "pdf", "png", "wav", "webm",
         "webp", "zip")


@pytest.mark.parametrize("name", NAMES)
def test_every_known_file_is_told_from_its_bytes(name: str) -> None:
    data, expected = samples()[name]
    found = sniff(data)
    assert found is not None and (found.kind, found.format, found.content_type) == expected


@pytest.mark.parametrize("data", [b"", b"hello, this is not a file", b"BM" + bytes(60), b"\x89PN",
                                  b"RIFF\x00\x00\x00\x00AVI LIST", b"<svg xmlns='http://www.w3.org/2000/svg'>"])
def test_anything_else_is_unknown(data: bytes) -> None:
    assert sniff(data) is None


@pytest.mark.parametrize("name", NAMES)
def test_uploads_take_what_the_image_check_or_the_voice_decoder_takes(name: str) -> None:
    data, (kind, fmt, content_type) = samples()[name]
    as_image = sniff_image_type(data)
    try:
        as_audio: tuple[str, str] | None = audio.sniff(data)
    except AudioError as exc:
        assert exc.code == "audio_unsupported"
        as_audio = None
    assert (as_image is not None, as_audio is not None) == (kind == "image", kind == "audio")
    assert uploads.sniff(data) == (content_type if kind in ("image", "audio") else None)
    if as_image is not None:
        assert as_image == (fmt, content_type)
        assert data_url(data).startswith(f"data:{content_type};base64,")


def test_a_file_sent_as_a_voice_note_by_mistake_is_named() -> None:
    for name, what in (("png", "a PNG image"), ("jpeg", "a JPEG image"), ("gif", "a GIF image"),
                       ("pdf", "a PDF document"), ("zip", "a ZIP archive")):
        with pytest.raises(AudioError, match=f"this file is {what}, not a voice note"):
            audio.sniff(samples()[name][0])
