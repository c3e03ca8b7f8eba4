"""Reading the text of a screenshot with tesseract (Debian `tesseract-ocr`).

Screenshots are small and full of coloured buttons; tesseract reads them much
better at about twice the size, in grayscale. A second, inverted pass reads
dark-mode screenshots and light text on coloured bars (buttons, headers) that the
first pass skips; the two tesseract processes run side by side.

An image is work a customer can make as large as they like (6000x6000 pixels of
dense text kept tesseract busy for over ten minutes), so the work is bounded:
larger images are read at `vision.ocr_max_pixels`, `vision.ocr_concurrency` images
are read at once (the others wait their turn, first come first served), and each
has `vision.ocr_timeout` seconds; past that its tesseract processes are killed and
the turn ends with `image_too_complex`. Tesseract is a child process that dies
with the server, also on `kill -9` (PR_SET_PDEATHSIG), and `close()` kills any
still running when the service stops.
"""

from __future__ import annotations

import asyncio
import ctypes
import io
import logging
import re
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from assistant.errors import DependencyMissing, ImageError
from assistant.images import open_image
from assistant.vision import ImageReading

if TYPE_CHECKING:
    from PIL.Image import Image

    from assistant.settings import Settings

TARGET_WIDTH = 1600  # upscale narrower screenshots towards this width …
MAX_SCALE = 3.0  # … but never more than this factor
MAX_UPSCALED_PIXELS = 12_000_000  # keep big photos at their size
PR_SET_PDEATHSIG = 1

log = logging.getLogger(__name__)


class TesseractMissing(DependencyMissing):
    """The tesseract program is a Debian package, not a pip one."""

    def __init__(self) -> None:
        Exception.__init__(self)
        self.message = ("the tesseract OCR program is not installed: "
                        "apt-get install tesseract-ocr tesseract-ocr-eng")
        self.args = (self.message,)


class OCRReader:
    name = "ocr"

    def __init__(self, *, lang: str = "eng", concurrency: int = 1, timeout: float = 20.0,
                 max_pixels: int = 8_000_000) -> None:
        self.lang = lang
        self.timeout = timeout
        self.max_pixels = max_pixels
        self._slots = asyncio.Semaphore(concurrency)  # FIFO: images are read in the order they came
        self._children: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings, **_: object) -> OCRReader:
        v = settings.vision
        return cls(lang=v.ocr_lang, concurrency=v.ocr_concurrency, timeout=v.ocr_timeout,
                   max_pixels=v.ocr_max_pixels)

    async def read(self, data: bytes) -> ImageReading:
        async with self._slots:
            text = await asyncio.to_thread(self.read_sync, data)
        return ImageReading(text=text, method="ocr")

    def read_sync(self, data: bytes) -> str:
        """The cleaned text of a validated image ("" when it holds none); ImageError
        `image_too_complex` when tesseract needs longer than the time limit."""
        from PIL import ImageOps

        deadline = time.monotonic() + self.timeout
        gray = _prepare(open_image(data), self.max_pixels)
        with ThreadPoolExecutor(2) as pool:  # tesseract is a process: two passes use two cores
            normal, inverted = pool.map(lambda image: self._tesseract(image, deadline),
                                        (gray, ImageOps.invert(gray)))
        first, second = _clean(normal), _clean(inverted)
        if _is_dark(gray):  # dark mode: the inverted pass is the main reading
            first, second = second, first
        return "\n".join(_merge(first, second))

    def _tesseract(self, image: Image, deadline: float) -> str:
        program = shutil.which("tesseract")
        if program is None:
            raise TesseractMissing()
        png = io.BytesIO()
        image.save(png, "PNG", compress_level=1)
        proc = subprocess.Popen([program, "stdin", "stdout", "-l", self.lang], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
        with self._lock:
            if self._closed:
                proc.kill()
            self._children.add(proc)
        try:
            out, err = proc.communicate(png.getvalue(), timeout=max(0.05, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            log.warning("OCR gave up on a %dx%d image after %.0f s", image.width, image.height, self.timeout)
            raise ImageError("This image holds too much to read in time. Send a screenshot of just the part "
                             "that matters, or type the question.", code="image_too_complex") from None
        finally:
            with self._lock:
                self._children.discard(proc)
        if proc.returncode != 0:
            log.warning("tesseract failed (%s): %s", proc.returncode, err.decode(errors="replace")[-500:])
            raise ImageError("The text of this image could not be read.", code="image_unreadable")
        return out.decode("utf-8", errors="replace")

    def close(self) -> None:
        """Kill the tesseract processes still running (the service is stopping)."""
        with self._lock:
            self._closed = True
            for proc in self._children:
                proc.kill()


def _libc() -> Any:
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:  # not glibc Linux: children are still killed by close() and the time limit
        return None


_LIBC = _libc()  # loaded before any fork: the child only calls into it


def _die_with_parent() -> None:
    """In the tesseract child, before exec: die when the server process dies, however it dies."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _prepare(image: Image, max_pixels: int = 8_000_000) -> Image:
    from PIL import Image as PILImage

    # Alpha is dropped, not composited on white: on the test screenshots a white
    # composite made tesseract skip every white-on-green button.
    gray = image.convert("L")
    if gray.width * gray.height > max_pixels:  # the work tesseract does grows with the pixels
        shrink = (max_pixels / (gray.width * gray.height)) ** 0.5
        size = (max(1, int(gray.width * shrink)), max(1, int(gray.height * shrink)))
        return gray.resize(size, PILImage.Resampling.LANCZOS)
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
