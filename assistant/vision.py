"""Understanding an image a customer sent: one interface, backends picked by `[vision] backend`.

`ocr` reads the text of screenshots (error messages, order pages) with tesseract;
`transformers` asks a vision-language model to describe the image; `none` ignores
images. Every reader returns an ImageReading whose text joins the retrieval query
and the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from assistant.registry import Registry

if TYPE_CHECKING:
    from assistant.llm.base import LLMBackend
    from assistant.settings import Settings

# config vision.backend -> implementation
IMAGE_READERS = Registry("vision backend", {
    "ocr": "assistant.ocr:OCRReader.from_settings",
    "transformers": "assistant.vision:VLMImageReader.from_settings",
    "none": "assistant.vision:NoImageReader.from_settings",
})

# What the vision-language model is asked; the answer must help retrieval, so it
# asks for the visible text first and then for the problem the image shows.
DESCRIBE_PROMPT = (
    "This image was sent to customer support. Write out any text visible in it "
    "(error messages, order numbers, button labels), then describe in one sentence "
    "what problem or page it shows."
)


@dataclass(frozen=True)
class ImageReading:
    text: str  # what the image says or shows ("" when nothing was understood)
    method: str  # ocr | vlm | none


class ImageReader(Protocol):
    """Reads one validated image. Runs heavy work off the event loop."""

    name: str

    async def read(self, data: bytes) -> ImageReading: ...


class NoImageReader:
    """Images are stored and shown to agents but not interpreted."""

    name = "none"

    @classmethod
    def from_settings(cls, settings: Settings, **_: object) -> NoImageReader:
        return cls()

    async def read(self, data: bytes) -> ImageReading:
        return ImageReading(text="", method="none")


class VLMImageReader:
    """Describes the image with a vision-capable chat backend (a local VLM or a server)."""

    name = "transformers"

    def __init__(self, backend: LLMBackend, *, max_new_tokens: int = 160) -> None:
        self.backend = backend
        self.max_new_tokens = max_new_tokens

    @classmethod
    def from_settings(cls, settings: Settings, *, backend: LLMBackend | None = None) -> VLMImageReader:
        """Reuses the chat backend when it already sees images, else loads `[vision] model`."""
        if backend is None or not getattr(backend, "supports_images", False):
            from assistant.llm.vlm import TransformersVLM

            model = settings.vision.model or settings.llm.model
            llm = settings.llm.model_copy(update={"model": model})
            backend = TransformersVLM.from_settings(settings.model_copy(update={"llm": llm}))
        return cls(backend)

    async def read(self, data: bytes) -> ImageReading:
        from assistant.llm.base import ChatMessage, ChatRequest

        request = ChatRequest(
            messages=(ChatMessage(role="user", content=DESCRIBE_PROMPT, images=(data,)),),
            max_new_tokens=self.max_new_tokens, temperature=0.0,
        )
        parts = [delta.text async for delta in self.backend.stream(request)]
        return ImageReading(text="".join(parts).strip(), method="vlm")

