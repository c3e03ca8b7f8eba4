"""Does this customer want a person now? A small fine-tuned classifier over the message.

The packaged all-MiniLM-L6-v2 with a LoRA adapter (peft) and a linear head, trained on

- a built-in, company-independent set (`assistant/data/handoff_examples.jsonl`):
  requests for a person in many wordings, and look-alikes that mention agents,
  managers, calls or the bot without asking for one, negations, ordinary requests;
- with `assistant tune --handoff`, the knowledge base's own records too: those of a
  handoff intent (`dialogue.handoff_intents`, Bitext's `contact_human_agent`) as
  requests, a sample of every other intent's as not. A history without handoff
  records still gets the built-in set.

The project ships an adapter trained on the built-in set alone (`assistant/data/handoff/`);
`assistant tune --handoff` writes one for this company under `<data_dir>/models/handoff/`,
which is used instead when present. Frozen sentence embeddings with a linear head
could not tell "get me someone from your team" from "the agent told me yesterday…"
(held-out precision/recall about 0.87/0.91); adapting the encoder did (docs/understanding.md).

Probabilities are calibrated (Platt scaling on a held-out tenth of the training
examples), so `dialogue.handoff_threshold` means what it says. The service runs the
classifier in onnxruntime from an export made once per adapter (PersonClassifier's
`cache`): it reads every customer message, and PyTorch spent 2.4 times the CPU on it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import DependencyMissing, InputError
from assistant.folders import write_whole
from assistant.routing import sentences

log = logging.getLogger(__name__)

BUILTIN_EXAMPLES = Path(__file__).parent / "data" / "handoff_examples.jsonl"
SHIPPED = Path(__file__).parent / "data" / "handoff"  # adapter trained on the built-in set alone
HEAD_FILE = "head.json"
POSITIVES_FROM_KB = 300  # at most this many of the knowledge base's handoff records
NEGATIVES_PER_INTENT = 20  # records of each other intent, as "not a request"
MAX_TOKENS = 96
_SCALE = 10.0  # unit vectors: a temperature before the linear head


@dataclass(frozen=True)
class Example:
    text: str
    person: bool
    kind: str = ""


def builtin_examples(path: Path = BUILTIN_EXAMPLES) -> list[Example]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Example(r["text"], r["label"] == "person", r.get("kind", "")) for r in rows]


def with_fragments(examples: Sequence[Example]) -> list[Example]:
    """The examples, and each sentence of a several-sentence non-request as a non-request too
    (a sentence that asks nothing, "Which ones?", must not look like a request)."""
    out = list(examples)
    for e in examples:
        parts = sentences(e.text)
        if not e.person and len(parts) > 1:
            out += [Example(p, False, "fragment") for p in parts]
    return out


def kb_examples(requests: Iterable[tuple[str, str]], handoff_intents: Iterable[str], *,
                seed: int = 0) -> list[Example]:
    """(request, intent) pairs of a knowledge base as examples: its handoff intents' records
    ask for a person (at most POSITIVES_FROM_KB), a seeded sample of each other intent's do not."""
    handoff = set(handoff_intents)
    by: dict[str, list[str]] = {}
    for text, intent in requests:
        if intent and text.strip():
            by.setdefault(intent, []).append(text)
    rng = random.Random(seed)
    out: list[Example] = []
    for intent, texts in sorted(by.items()):
        limit = POSITIVES_FROM_KB if intent in handoff else NEGATIVES_PER_INTENT
        out += [Example(t, intent in handoff, "knowledge_base")
                for t in (texts if len(texts) <= limit else rng.sample(texts, limit))]
    return out


def training_set(requests: Iterable[tuple[str, str]] = (),
                 handoff_intents: Iterable[str] = ()) -> list[Example]:
    """What `assistant tune --handoff` trains on: the built-in examples (and their sentence
    fragments) plus a history's (request, intent) pairs as kb_examples makes them."""
    return with_fragments(builtin_examples()) + kb_examples(requests, handoff_intents)


def _torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - a core dependency
        raise DependencyMissing("torch", "pip install torch==2.13.0") from None
    return torch


def _encoder(adapter: Path | None, *, trainable: bool, threads: int) -> tuple[Any, Any]:
    """The packaged MiniLM (tokenizer, model), with the adapter merged in (or a fresh one to train)."""
    torch = _torch()
    from transformers import AutoModel, AutoTokenizer

    from knowledge.embeddings import packaged_minilm_dir

    if threads:
        torch.set_num_threads(threads)
    base = packaged_minilm_dir()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModel.from_pretrained(base)
    try:
        from peft import LoraConfig, PeftModel, get_peft_model
    except ImportError:
        raise DependencyMissing("peft", "pip install peft") from None
    if trainable:
        config = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.1,
                            target_modules=["query", "key", "value", "dense"])
        return tokenizer, get_peft_model(model, config)
    assert adapter is not None
    return tokenizer, PeftModel.from_pretrained(model, adapter).merge_and_unload().eval()


def _pool(model: Any, tokenizer: Any, texts: Sequence[str]) -> Any:
    batch = tokenizer(list(texts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    return _mean_pool(model(**batch).last_hidden_state, batch["attention_mask"])


def _mean_pool(hidden: Any, attention_mask: Any) -> Any:
    """The mean of the real tokens' states, as a unit vector times _SCALE (what the head reads)."""
    torch = _torch()
    mask = attention_mask.unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1) * _SCALE


Logits = Callable[[Sequence[str]], np.ndarray]  # texts -> the head's logit for each


class PersonClassifier:
    """Calibrated p(the text asks for a person now), from an adapter folder (blocking, thread-safe).

    With `cache` (the runtime gives `<data_dir>/models/onnx`), the merged encoder and head
    are exported to ONNX once per adapter and run by onnxruntime, like the embedder: 7 ms
    of CPU a message against 17 ms in PyTorch, logits equal within 1e-5. Without it, or
    when the export fails, they run in PyTorch."""

    def __init__(self, folder: Path = SHIPPED, *, threads: int = 0, cache: Path | None = None) -> None:
        self.folder = Path(folder)
        self.threads = threads
        self.cache = cache
        self._loaded: tuple[Logits, float, float] | None = None
        self._lock = threading.Lock()
        self.runs_on = ""  # "onnxruntime" or "torch", once loaded

    def _load(self) -> tuple[Logits, float, float]:
        with self._lock:
            if self._loaded is None:
                started = time.perf_counter()
                head = json.loads((self.folder / HEAD_FILE).read_text(encoding="utf-8"))
                logits = self._onnx(head) if self.cache is not None else None
                if logits is None:
                    logits, self.runs_on = _torch_logits(self.folder, head, self.threads), "torch"
                self._loaded = logits, float(head["scale"]), float(head["shift"])
                log.info("handoff classifier %s loaded (%s) in %.1f s", self.folder, self.runs_on,
                         time.perf_counter() - started)
            return self._loaded

    def _onnx(self, head: dict[str, Any]) -> Logits | None:
        assert self.cache is not None
        try:
            path = self.cache / f"handoff-{_fingerprint(self.folder)}.onnx"
            if not path.is_file():
                _export(self.folder, head, path)
            logits = _onnx_logits(path, self.threads)
        except Exception as exc:  # noqa: BLE001 - PyTorch runs the same classifier, only slower
            log.warning("handoff classifier: no ONNX export (%s); running it in PyTorch", exc)
            return None
        self.runs_on = "onnxruntime"
        return logits

    def probabilities(self, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        logits, scale, shift = self._load()
        return [float(p) for p in _sigmoid(scale * logits(texts) + shift)]

    def load(self) -> None:
        self._load()


def _head(head: dict[str, Any]) -> Any:
    torch = _torch()
    linear = torch.nn.Linear(len(head["weights"]), 1)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([head["weights"]]))
        linear.bias.fill_(head["bias"])
    return linear


def _torch_logits(folder: Path, head: dict[str, Any], threads: int) -> Logits:
    torch = _torch()
    tokenizer, model = _encoder(folder, trainable=False, threads=threads)
    linear = _head(head)

    def logits(texts: Sequence[str]) -> np.ndarray:
        with torch.inference_mode():
            return linear(_pool(model, tokenizer, texts)).squeeze(1).numpy()  # type: ignore[no-any-return]
    return logits


def _fingerprint(folder: Path) -> str:
    """Of the adapter's files: a re-tuned classifier gets an export of its own."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _export(folder: Path, head: dict[str, Any], path: Path) -> None:
    """The merged encoder, mean pooling and head as one ONNX graph (fp32), written whole."""
    torch = _torch()
    tokenizer, model = _encoder(folder, trainable=False, threads=0)
    linear = _head(head)

    class Scorer(torch.nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.encoder, self.head = model, linear  # submodules: their weights go in the graph

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            return self.head(_mean_pool(hidden, attention_mask)).squeeze(1)

    sample = tokenizer(["get me a person", "where is my parcel please"], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    started = time.perf_counter()
    with warnings.catch_warnings():  # the tracer's notes about shapes: expected, and noisy
        warnings.simplefilter("ignore")
        torch.onnx.export(Scorer().eval(), tuple(sample[n] for n in names), str(partial), input_names=names,
                          output_names=["logit"], dynamic_axes={**axes, "logit": {0: "batch"}},
                          opset_version=17, dynamo=False)
    os.replace(partial, path)  # workers exporting at once: the last whole file wins
    log.info("handoff classifier exported to %s in %.1f s", path, time.perf_counter() - started)
    for older in path.parent.glob("handoff-*.onnx"):  # an earlier adapter's (90 MB each)
        if older != path:
            older.unlink(missing_ok=True)  # a server still using it holds it in memory


def _onnx_logits(path: Path, threads: int) -> Logits:
    import onnxruntime as ort
    from transformers import AutoTokenizer

    from knowledge.embeddings import packaged_minilm_dir

    options = ort.SessionOptions()
    # One thread a call by default: the turns' batcher runs two calls at once, and threads
    # that spin waiting for the next call burn the CPU that the other turns need.
    options.intra_op_num_threads = threads or 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    tokenizer = AutoTokenizer.from_pretrained(packaged_minilm_dir())

    def logits(texts: Sequence[str]) -> np.ndarray:
        batch = tokenizer(list(texts), padding=True, truncation=True, max_length=MAX_TOKENS,
                          return_tensors="np")
        feed = {n: batch[n].astype(np.int64) for n in ("input_ids", "attention_mask", "token_type_ids")}
        return session.run(None, feed)[0]  # type: ignore[no-any-return]
    return logits


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def platt(logits: np.ndarray, y: np.ndarray, steps: int = 2000) -> tuple[float, float]:
    """(scale, shift) with sigmoid(scale * logit + shift) calibrated on held-out logits."""
    a, c = 1.0, 0.0
    for _ in range(steps):
        p = _sigmoid(a * logits + c)
        a -= 0.1 * float(np.mean((p - y) * logits))
        c -= 0.1 * float(np.mean(p - y))
    return a, c


def train(examples: Sequence[Example], out: Path, *, epochs: int = 3, lr: float = 1e-3, batch_size: int = 32,
          threads: int = 0, seed: int = 0,
          progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Fine-tune an adapter and head on the examples; write them to `out`; return what was learned from.

    A seeded tenth of the examples is held out of training to calibrate the probabilities."""
    torch = _torch()
    torch.manual_seed(seed)
    rng = random.Random(seed)
    rows = list(examples)
    rng.shuffle(rows)
    held = rows[: max(len(rows) // 10, 1)]
    kept = rows[len(held):]
    if not any(e.person for e in kept) or all(e.person for e in kept):
        raise InputError("training needs requests for a person and other messages", code="no_examples")
    tokenizer, model = _encoder(None, trainable=True, threads=threads)
    linear = torch.nn.Linear(384, 1)
    params = [p for p in model.parameters() if p.requires_grad] + list(linear.parameters())
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    steps = epochs * max(len(kept) // batch_size, 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, 1 - s / steps))
    positives = sum(e.person for e in kept)
    weight = torch.tensor((len(kept) - positives) / positives)  # balance the classes
    labels = torch.tensor([float(e.person) for e in kept])
    model.train()
    step = 0
    for epoch in range(epochs):
        order = list(range(len(kept)))
        random.Random(seed + epoch).shuffle(order)
        for start in range(0, max(len(order) - batch_size + 1, 1), batch_size):
            idx = order[start : start + batch_size]
            logits = linear(_pool(model, tokenizer, [kept[i].text for i in idx])).squeeze(1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels[idx],
                                                                        pos_weight=weight)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            step += 1
            if progress:
                progress(step, steps)
    model.eval()
    with torch.inference_mode():
        held_logits = np.concatenate([
            linear(_pool(model, tokenizer, [e.text for e in held[i : i + 64]])).squeeze(1).numpy()
            for i in range(0, len(held), 64)])
    truth = np.array([e.person for e in held], dtype=np.float32)
    scale, shift = platt(held_logits, truth)
    summary = {"examples": len(kept), "calibration_examples": len(held),
               "by_kind": {k: sum(e.kind == k for e in rows) for k in sorted({e.kind for e in rows})},
               "epochs": epochs, "held_out_accuracy": round(float(((held_logits > 0) == truth).mean()), 4)}
    head = {"weights": linear.weight.detach().numpy()[0].tolist(), "bias": float(linear.bias.detach()[0]),
            "scale": scale, "shift": shift, "base": "packaged:minilm", "trained": summary}

    def save(staging: Path) -> None:
        model.save_pretrained(staging)
        (staging / "README.md").unlink(missing_ok=True)  # peft's empty model card
        config_file = staging / "adapter_config.json"  # name the base model, not this machine's path to it
        config = json.loads(config_file.read_text(encoding="utf-8"))
        config["base_model_name_or_path"] = "sentence-transformers/all-MiniLM-L6-v2"
        config_file.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (staging / HEAD_FILE).write_text(json.dumps(head) + "\n", encoding="utf-8")

    write_whole(out, save)  # a reader never sees a half-written classifier
    return summary


def classifier_folder(data_dir: Path) -> Path:
    """This company's tuned classifier when `assistant tune --handoff` made one, else the shipped one."""
    tuned = data_dir / "models" / "handoff"
    return tuned if (tuned / HEAD_FILE).is_file() else SHIPPED
