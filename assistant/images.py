"""Check an uploaded image before anything decodes it for real.

The type comes from the file's magic bytes (never from the client), the size and
the pixel count are checked from the header before the pixels are decoded, so a
decompression bomb is refused without allocating it.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass

from assistant.errors import ImageError
from assistant.filetypes import sniff

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageInfo:
    format: str  # png | jpeg | gif | webp
    content_type: str  # image/png, …
    width: int
    height: int
    size: int  # bytes


def sniff_image_type(data: bytes) -> tuple[str, str] | None:
    """(format, content type) from the magic bytes, or None for anything but an image."""
    found = sniff(data)
    if found is None or found.kind != "image":
        return None
    return found.format, found.content_type


def validate_image(data: bytes, *, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Refuse what is not a usable image; raises ImageError with a stable code."""
    if len(data) > max_bytes:
        raise ImageError(f"The image is {len(data):,} bytes; the limit is {max_bytes:,}.",
                         code="image_too_large")
    kind = sniff_image_type(data)
    if kind is None:
        raise ImageError("This file is not a PNG, JPEG, GIF or WebP image.",
                         code="image_unsupported_type")
    fmt, content_type = kind
    width, height = _header_size(data)
    if width * height > max_pixels:
        raise ImageError(f"The image is {width}x{height} pixels; the limit is {max_pixels:,} pixels.",
                         code="image_too_many_pixels")
    _decode(data)
    return ImageInfo(format=fmt, content_type=content_type, width=width, height=height, size=len(data))


def open_image(data: bytes):  # -> PIL.Image.Image
    """Decode validated bytes into a PIL image (first frame of an animation)."""
    from PIL import Image

    with _bombs_refused():
        image = Image.open(io.BytesIO(data))
        image.load()
    return image


def _header_size(data: bytes) -> tuple[int, int]:
    # Image.open only parses the header; pixels are decoded by load().
    from PIL import Image, UnidentifiedImageError

    try:
        with _bombs_refused():
            image = Image.open(io.BytesIO(data))
            return image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("The image has far too many pixels to be decoded safely.",
                         code="image_too_many_pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        log.info("image refused: %s", exc)  # the details are for the operator, not the customer
        raise ImageError("The image cannot be read: the file is damaged or not an image.",
                         code="image_corrupt") from None


def _decode(data: bytes) -> None:
    from PIL import Image

    try:
        open_image(data)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("The image has far too many pixels to be decoded safely.",
                         code="image_too_many_pixels") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        log.info("image refused: %s", exc)
        raise ImageError("The image is corrupt or cut short.", code="image_corrupt") from None


class _bombs_refused(warnings.catch_warnings):
    """PIL only *warns* between MAX_IMAGE_PIXELS and twice that; make it an error here
    so a big-but-not-huge bomb is refused too, without touching PIL's global limit."""

    def __enter__(self):  # type: ignore[no-untyped-def]
        from PIL import Image

        result = super().__enter__()
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return result
