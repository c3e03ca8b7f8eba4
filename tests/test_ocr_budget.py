"""OCR work is bounded (assistant.ocr): an image built to keep tesseract busy is refused with
`image_too_complex` within the time limit, its tesseract processes are killed, the next
customer's screenshot is read right after, and tesseract dies with the server however it dies.
Real tesseract, real processes."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from assistant.errors import ImageError
from assistant.ocr import OCRReader

ROOT = Path(__file__).parent.parent
pytestmark = pytest.mark.skipif(not any(Path(d, "tesseract").exists() for d in os.environ["PATH"].split(":")),
                                reason="tesseract is not installed (apt-get install tesseract-ocr)")


def encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def dense_text_image(size: int = 6000) -> bytes:
    """The image of the hostile test: a line of words every 18 pixels, 6000x6000."""
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    line = "ORDER 12345 PAYMENT FAILED REFUND INVOICE " * 30
    for y in range(0, size, 18):
        draw.text((0, y), line, fill=0)
    return encode(image, "PNG")


def screenshot() -> bytes:
    image = Image.new("RGB", (600, 160), "white")
    ImageDraw.Draw(image).text((20, 60), "Error: payment declined", fill="black",
                               font=ImageFont.load_default(size=28))
    return encode(image, "PNG")


def tesseracts(parent: int) -> list[int]:
    """Pids of running tesseract processes whose parent is `parent` (or any, with parent 0)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name, ppid = stat[stat.index("(") + 1:stat.rindex(")")], int(stat[stat.rindex(")") + 2:].split()[1])
        if name == "tesseract" and (parent == 0 or ppid == parent):
            found.append(int(pid))
    return found


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return dense_text_image()


async def test_a_dense_image_is_refused_within_the_limit_and_the_next_one_is_read(bomb: bytes) -> None:
    reader = OCRReader(timeout=2.0, max_pixels=40_000_000)  # the whole image, to be sure it takes long
    started = time.monotonic()
    heavy = asyncio.create_task(reader.read(bomb))
    await asyncio.sleep(0.2)
    normal = asyncio.create_task(reader.read(screenshot()))  # another customer, right behind it
    with pytest.raises(ImageError) as refused:
        await heavy
    took = time.monotonic() - started
    assert refused.value.code == "image_too_complex" and took < 2.0 + 3.0, took
    assert "tesseract" not in refused.value.message.lower()  # no internals for the customer
    assert tesseracts(os.getpid()) == []  # both passes killed
    reading = await normal
    assert "payment declined" in reading.text.lower()
    assert time.monotonic() - started < 2.0 + 8.0


def test_big_images_are_read_scaled_down_to_the_budget() -> None:
    from assistant.ocr import _prepare

    image = Image.new("L", (6000, 6000), 255)
    assert _prepare(image, 8_000_000).size == (2828, 2828)
    assert _prepare(Image.new("L", (800, 400), 255), 8_000_000).size == (1600, 800)  # small: upscaled


CHILD = """
import sys
from assistant.ocr import OCRReader
reader = OCRReader(timeout=600, max_pixels=40_000_000)
print("reading", flush=True)
reader.read_sync(open(sys.argv[1], "rb").read())
"""


def is_tesseract(pid: int) -> bool:
    """Is this process alive and tesseract? (It may end between any two looks.)"""
    try:
        return "tesseract" in Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_tesseract_dies_with_the_process_that_started_it(bomb: bytes, tmp_path: Path, how: int) -> None:
    path = tmp_path / "dense.png"
    path.write_bytes(bomb)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not tesseracts(proc.pid):
            assert time.monotonic() < deadline and proc.poll() is None, "tesseract never started"
            time.sleep(0.1)
        children = tesseracts(proc.pid)
        os.kill(proc.pid, how)
        proc.wait(10)
        deadline = time.monotonic() + 5
        while any(is_tesseract(pid) for pid in children):
            assert time.monotonic() < deadline, f"tesseract {children} outlived its parent ({how})"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()


SLEEPER = """
import subprocess, sys, time
from assistant.ocr import _die_with_parent
child = subprocess.Popen(["sleep", "120"], preexec_fn=_die_with_parent)
print(child.pid, flush=True)
time.sleep(120)
"""


def test_a_child_started_for_ocr_is_killed_with_its_parent() -> None:
    """The guarantee itself, with a child that holds no pipe (a pipe breaking could kill it anyway)."""
    proc = subprocess.Popen([sys.executable, "-c", SLEEPER], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{child}").exists() and " Z " not in Path(f"/proc/{child}/stat").read_text():
            assert time.monotonic() < deadline, "the child outlived its parent"
            time.sleep(0.05)
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.poll() is None:
            proc.kill()
