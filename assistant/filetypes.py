"""What a file is, from its first bytes: the one table of the file types the product knows.

Uploads, the image check, the voice-note decoder and the model server's data URLs
all ask `sniff`, never a file name or a declared content type. Each caller decides
which kinds it takes: uploads take images and audio, the speech decoder only audio.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileType:
    kind: str  # image | audio | document | archive
    format: str  # png jpeg gif webp | wav flac ogg webm mp3 aac mp4 | pdf | zip
    content_type: str  # what it is stored and served as
    name: str  # what people call it: "PNG", "M4A"

    @property
    def description(self) -> str:
        """"a PNG image", "a PDF document": how a refusal names it."""
        return f"a {self.name} {self.kind}"


@dataclass(frozen=True)
class _Magic:
    """`value` at `offset`; where there is a `mask`, only its bits count."""

    offset: int
    value: bytes
    mask: bytes | None = None

    def found_in(self, data: bytes) -> bool:
        seen = data[self.offset:self.offset + len(self.value)]
        if len(seen) < len(self.value):
            return False
        if self.mask is None:
            return seen == self.value
        return all(b & m == v for b, m, v in zip(seen, self.mask, self.value, strict=True))


# First match wins. The signatures at offset 0 exclude each other; ISO BMFF opens with
# a box size instead of a constant, so its "ftyp" at offset 4 comes after the accepted
# types' signatures.
_TABLE: tuple[tuple[tuple[_Magic, ...], FileType], ...] = (
    ((_Magic(0, b"\x89PNG\r\n\x1a\n"),), FileType("image", "png", "image/png", "PNG")),
    ((_Magic(0, b"\xff\xd8\xff"),), FileType("image", "jpeg", "image/jpeg", "JPEG")),
    ((_Magic(0, b"GIF87a"),), FileType("image", "gif", "image/gif", "GIF")),
    ((_Magic(0, b"GIF89a"),), FileType("image", "gif", "image/gif", "GIF")),
    ((_Magic(0, b"RIFF"), _Magic(8, b"WEBP")), FileType("image", "webp", "image/webp", "WebP")),
    ((_Magic(0, b"RIFF"), _Magic(8, b"WAVE")), FileType("audio", "wav", "audio/wav", "WAV")),
    ((_Magic(0, b"fLaC"),), FileType("audio", "flac", "audio/flac", "FLAC")),
    ((_Magic(0, b"OggS"),), FileType("audio", "ogg", "audio/ogg", "Ogg")),
    # EBML: webm and every other matroska file.
    ((_Magic(0, b"\x1a\x45\xdf\xa3"),), FileType("audio", "webm", "audio/webm", "WebM")),
    ((_Magic(0, b"ID3"),), FileType("audio", "mp3", "audio/mpeg", "MP3")),
    # An MPEG frame sync (11 bits set). Layer bits 00 are ADTS (raw AAC), stored as
    # audio/mpeg like MP3, as uploads always have; any other layer is MPEG audio.
    ((_Magic(0, b"\xff\xe0", mask=b"\xff\xe6"),), FileType("audio", "aac", "audio/mpeg", "AAC")),
    ((_Magic(0, b"\xff\xe0", mask=b"\xff\xe0"),), FileType("audio", "mp3", "audio/mpeg", "MP3")),
    # ISO BMFF: m4a, mp4, 3gp.
    ((_Magic(4, b"ftyp"),), FileType("audio", "mp4", "audio/mp4", "M4A")),
    # Not accepted anywhere, but people send them by mistake and are told what they sent.
    ((_Magic(0, b"%PDF"),), FileType("document", "pdf", "application/pdf", "PDF")),
    ((_Magic(0, b"PK\x03\x04"),), FileType("archive", "zip", "application/zip", "ZIP")),
)


def sniff(data: bytes) -> FileType | None:
    """The type the leading bytes announce, or None for a file type the product does not know."""
    for magic, file_type in _TABLE:
        if all(m.found_in(data) for m in magic):
            return file_type
    return None
