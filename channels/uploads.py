"""Uploaded files: the type is sniffed from the bytes, never taken from the client.

Images may be as large as `vision.max_bytes`, voice notes `speech.max_bytes`;
a larger body is refused without reading it all into memory.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile

from assistant import filetypes
from channels.errors import UploadError

_CHUNK = 1 << 16
_ACCEPTED = frozenset({"image", "audio"})  # kinds of assistant.filetypes


def sniff(data: bytes) -> str | None:
    """The content type from the magic bytes, or None when it is not a file uploads take."""
    found = filetypes.sniff(data)
    return found.content_type if found is not None and found.kind in _ACCEPTED else None


def limit_for(content_type: str, settings: Any) -> int:
    return settings.vision.max_bytes if content_type.startswith("image/") else settings.speech.max_bytes


async def read_upload(file: UploadFile, settings: Any) -> tuple[bytes, str]:
    """(bytes, sniffed content type) of an upload, or UploadError with a stable code."""
    head = await file.read(_CHUNK)
    if not head:
        raise UploadError("The file is empty.", code="upload_empty")
    content_type = sniff(head)
    if content_type is None:
        raise UploadError("Only images (PNG, JPEG, GIF, WebP) and voice notes (Ogg, WebM, WAV, FLAC, "
                          "MP3, M4A) can be uploaded.", code="unsupported_type")
    limit = limit_for(content_type, settings)
    parts, size = [head], len(head)
    while size <= limit:
        chunk = await file.read(_CHUNK)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    if size > limit:
        raise UploadError(f"The file is larger than {limit} bytes.", code="upload_too_large")
    return b"".join(parts), content_type
