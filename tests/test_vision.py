"""Images a customer sends: validation of untrusted bytes, and reading them (real tesseract)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from assistant.errors import ConfigError, DependencyMissing, ImageError
from assistant.images import sniff_image_type, validate_image
from assistant.llm.base import ChatRequest, Delta
from assistant.ocr import OCRReader
from assistant.vision import IMAGE_READERS, NoImageReader, VLMImageReader

DATA = Path(__file__).parent / "data" / "abcd"
LIMITS = {"max_bytes": 10_000_000, "max_pixels": 40_000_000}


def encode(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with one tiny compressed chunk: a bomb."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("fmt,content_type", [
    ("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp"),
])
def test_accepts_the_four_formats_sniffed_from_bytes(fmt: str, content_type: str) -> None:
    data = encode(Image.new("RGB", (64, 48), (200, 30, 30)), fmt)
    info = validate_image(data, **LIMITS)
    assert (info.content_type, info.width, info.height, info.size) == (content_type, 64, 48, len(data))


def test_real_screenshot_is_valid() -> None:
    info = validate_image((DATA / "faq_screenshot.png").read_bytes(), **LIMITS)
    assert (info.format, info.width, info.height) == ("png", 857, 862)


@pytest.mark.parametrize("data", [
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    b"",
    b"BM" + b"\x00" * 60,  # BMP: a real image type, but not one we accept
])
def test_other_types_are_refused(data: bytes) -> None:
    with pytest.raises(ImageError) as err:
        validate_image(data, **LIMITS)
    assert err.value.code == "image_unsupported_type"


def test_a_file_named_png_but_holding_text_is_refused() -> None:
    assert sniff_image_type(b"hello, this is not an image") is None


def test_too_many_bytes_is_refused_before_anything_else() -> None:
    data = (DATA / "faq_screenshot.png").read_bytes()
    with pytest.raises(ImageError) as err:
        validate_image(data, max_bytes=len(data) - 1, max_pixels=40_000_000)
    assert err.value.code == "image_too_large"


def test_pixel_limit_is_checked_from_the_header() -> None:
    bomb = png_header_only(30_000, 30_000)  # 900 megapixels in about a hundred bytes
    assert len(bomb) < 200
    with pytest.raises(ImageError) as err:
        validate_image(bomb, **LIMITS)
    assert err.value.code == "image_too_many_pixels"


def test_bombs_beyond_pils_own_limit_are_refused_even_with_a_huge_configured_limit() -> None:
    with pytest.raises(ImageError) as err:
        validate_image(png_header_only(20_000, 10_000), max_bytes=10_000, max_pixels=10**12)
    assert err.value.code == "image_too_many_pixels"


def test_a_well_compressed_real_image_over_the_pixel_limit_is_refused() -> None:
    data = encode(Image.new("L", (3000, 3000), 0), "PNG")  # 9 MP of black: a few kB
    assert len(data) < 100_000
    with pytest.raises(ImageError) as err:
        validate_image(data, max_bytes=10_000_000, max_pixels=4_000_000)
    assert err.value.code == "image_too_many_pixels"


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_screenshot_is_corrupt(cut: float) -> None:
    data = (DATA / "faq_screenshot.png").read_bytes()
    with pytest.raises(ImageError) as err:
        validate_image(data[: int(len(data) * cut)], **LIMITS)
    assert err.value.code == "image_corrupt"


def test_garbage_after_magic_bytes_is_corrupt() -> None:
    with pytest.raises(ImageError) as err:
        validate_image(b"\xff\xd8\xff" + bytes(range(256)) * 4, **LIMITS)
    assert err.value.code == "image_corrupt"


async def test_ocr_reads_the_real_faq_screenshot() -> None:
    reading = await OCRReader().read((DATA / "faq_screenshot.png").read_bytes())
    assert reading.method == "ocr"
    text = reading.text.lower()
    for words in ("silver level member", "benefits", "membership privileges",  # white on green
                  "how long does membership last"):
        assert words in text
    assert "| have" not in reading.text  # tesseract's "|" for "I" is cleaned up


async def test_ocr_reads_the_order_page() -> None:
    reading = await OCRReader().read((DATA / "customer_site.png").read_bytes())
    assert "6449343909" in reading.text
    assert "order statement" in reading.text.lower()


async def test_ocr_reads_white_text_on_a_dark_bar() -> None:
    image = Image.new("RGB", (640, 90), (35, 38, 48))
    ImageDraw.Draw(image).text((16, 28), "Payment declined: card expired", fill="white",
                               font=ImageFont.load_default(size=28))
    reading = await OCRReader().read(encode(image, "PNG"))
    assert "payment declined" in reading.text.lower()


async def test_an_image_without_text_reads_as_empty() -> None:
    reading = await OCRReader().read(encode(Image.new("RGB", (300, 200), (90, 160, 220)), "PNG"))
    assert reading.text == ""


async def test_missing_tesseract_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.ocr

    monkeypatch.setattr(assistant.ocr.shutil, "which", lambda name: None)
    with pytest.raises(DependencyMissing) as err:
        await OCRReader().read(encode(Image.new("RGB", (40, 40)), "PNG"))
    assert err.value.code == "dependency_missing"
    assert "apt-get install tesseract-ocr" in err.value.message


def test_registry_picks_the_configured_reader(settings) -> None:
    assert isinstance(IMAGE_READERS.create("ocr", settings), OCRReader)
    assert isinstance(IMAGE_READERS.create("none", settings), NoImageReader)
    with pytest.raises(ConfigError):
        IMAGE_READERS.create("magic", settings)


async def test_none_reader_ignores_images() -> None:
    assert (await NoImageReader().read(b"whatever")).text == ""


class FakeVisionLLM:
    """Stands in for a vision-language model: records what it was shown."""

    name = "fake-vlm"
    supports_images = True
    reads_prompt = True

    def __init__(self, reply: list[str]) -> None:
        self.reply = reply
        self.requests: list[ChatRequest] = []

    async def stream(self, request: ChatRequest):
        self.requests.append(request)
        for part in self.reply:
            yield Delta(part)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def aclose(self) -> None:
        pass


async def test_vlm_reader_shows_the_image_to_the_model(settings) -> None:
    llm = FakeVisionLLM(["Error 504: ", "checkout failed."])
    reader = VLMImageReader.from_settings(settings, backend=llm)
    image = encode(Image.new("RGB", (32, 32)), "PNG")
    reading = await reader.read(image)
    assert (reading.text, reading.method) == ("Error 504: checkout failed.", "vlm")
    (message,) = llm.requests[0].messages
    assert message.images == (image,)
    assert "text visible" in message.content
