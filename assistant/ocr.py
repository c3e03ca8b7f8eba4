"""Reading the text of a screenshot with tesseract (Debian `tesseract-ocr` + pytesseract).

Screenshots are small and full of coloured buttons; tesseract reads them much
better at about twice the size, in grayscale. A second, inverted pass reads
dark-mode screenshots and light text on coloured bars (buttons, headers) that the
first pass skips; the two tesseract processes run side by side.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from assistant.errors import DependencyMissing
from assistant.images import open_image
from assistant.vision import ImageReading

if TYPE_CHECKING:
    from PIL.Image import Image

    from assistant.settings import Settings

TARGET_WIDTH = 1600  # upscale narrower screenshots towards this width …
MAX_SCALE = 3.0  # … but never more than this factor
MAX_UPSCALED_PIXELS = 12_000_000  # keep big photos at their size


class TesseractMissing(DependencyMissing):
    """The tesseract program is a Debian package, not a pip one."""

    def __init__(self) -> None:
        Exception.__init__(self)
        self.message = ("the tesseract OCR program is not installed: "
                        "apt-get install tesseract-ocr tesseract-ocr-eng")
        self.args = (self.message,)


class OCRReader:
    name = "ocr"

    def __init__(self, *, lang: str = "eng", concurrency: int = 1) -> None:
        self.lang = lang
        self._slots = asyncio.Semaphore(concurrency)

    @classmethod
    def from_settings(cls, settings: Settings, **_: object) -> OCRReader:
        return cls(lang=settings.vision.ocr_lang)

    async def read(self, data: bytes) -> ImageReading:
        async with self._slots:
            text = await asyncio.to_thread(self.read_sync, data)
        return ImageReading(text=text, method="ocr")

    def read_sync(self, data: bytes) -> str:
        """The cleaned text of a validated image ("" when it holds none)."""
        from PIL import ImageOps

        gray = _prepare(open_image(data))
        with ThreadPoolExecutor(2) as pool:  # tesseract is a process: two passes use two cores
            normal, inverted = pool.map(self._tesseract, (gray, ImageOps.invert(gray)))
        first, second = _clean(normal), _clean(inverted)
        if _is_dark(gray):  # dark mode: the inverted pass is the main reading
            first, second = second, first
        return "\n".join(_merge(first, second))

    def _tesseract(self, image: Image) -> str:
        try:
            import pytesseract
        except ImportError:
            raise DependencyMissing("pytesseract", "pytesseract==0.3.13") from None
        try:
            return pytesseract.image_to_string(image, lang=self.lang)
        except pytesseract.TesseractNotFoundError:
            raise TesseractMissing() from None


def _prepare(image: Image) -> Image:
    from PIL import Image as PILImage

    # Alpha is dropped, not composited on white: on the test screenshots a white
    # composite made tesseract skip every white-on-green button.
    gray = image.convert("L")
    # Whole factors: tesseract read the test screenshots worse at 1.9x than at 2x.
    scale = min(MAX_SCALE, round(TARGET_WIDTH / max(gray.width, 1)))
    if scale > 1 and gray.width * gray.height * scale * scale <= MAX_UPSCALED_PIXELS:
        size = (round(gray.width * scale), round(gray.height * scale))
        gray = gray.resize(size, PILImage.Resampling.LANCZOS)
    return gray


def _is_dark(gray: Image) -> bool:
    from PIL import ImageStat

    return ImageStat.Stat(gray).mean[0] < 110


_PIPE_AS_I = re.compile(r"(?<![^\s(])\|(?=\s|')")  # "| have" -> "I have", "|'m" -> "I'm"
_EDGE_JUNK = re.compile(r"^[\s|{}\[\]_~`'\"‘’“”«»,.;:=-]+|[\s|{}\[\]_~`‘’“”«»=-]+$")


def _clean(raw: str) -> list[str]:
    """OCR lines with tesseract's usual noise removed: stray bars, lone symbols."""
    lines: list[str] = []
    for line in raw.splitlines():
        line = _PIPE_AS_I.sub("I", line)
        line = _EDGE_JUNK.sub("", re.sub(r"\s+", " ", line))
        if sum(ch.isalnum() for ch in line) < 2:
            continue
        if line not in lines:
            lines.append(line)
    return lines


def _merge(first: list[str], second: list[str]) -> list[str]:
    """First-pass lines, plus the second pass's lines that are mostly words the first
    did not read (a one-letter misreading of a line already there is not new)."""
    seen = {w.lower() for line in first for w in re.findall(r"\w+", line)}
    extra = []
    for line in second:
        words = [w.lower() for w in re.findall(r"\w{2,}", line)]
        if words and sum(w not in seen for w in words) * 2 > len(words):
            extra.append(line)
            seen.update(words)
    return first + extra
