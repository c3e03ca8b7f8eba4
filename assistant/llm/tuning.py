"""`assistant tune`: fine-tune the local chat model on this company's resolved cases.

Each knowledge-base record becomes one supervised example laid out exactly like a
live prompt (assistant.prompt): the system prompt with the record's retrieved
neighbours as references (never the record itself), then the customer's request;
the target is the record's resolution with its placeholders as stored ("{{Order
Number}}", which the grounding guard fills for the customer reading it), its own
customer's numbers put back as placeholders, cut to whole sentences that fit
`llm.max_new_tokens`. Internal-audience records are never targets. A seeded share
of the records (`tune.holdout`) is held out: never trained on, used for the held-out loss.

Training is LoRA (peft) on the CPU: one example at a time, gradients accumulated over
`tune.batch_size`, bfloat16 autocast where the CPU has AMX. Checkpoints every
`tune.checkpoint_minutes` (and on Ctrl-C) let `--resume` continue; the time budget
and step count are totals over resumed runs. The adapter is published whole
(assistant.llm.adapters), and the local backend loads the newest at its next start.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import InputError
from assistant.grounding import split_sentences
from assistant.llm.adapters import adapters_dir, publish, use_base
from assistant.llm.base import ChatMessage
from assistant.prompt import PromptBuilder
from knowledge.placeholders import unpersonalise
from knowledge.records import Hit, Record

if TYPE_CHECKING:
    from assistant.settings import Settings
    from knowledge.base import KnowledgeBase

log = logging.getLogger(__name__)

CHECKPOINT = ".checkpoint"  # under the adapters folder: the run in progress (or the last one)
STATE = "state.pt"  # optimizer, schedule, counters: written last in a checkpoint
HELD_OUT_LOSS_EXAMPLES = 32  # held-out examples the loss is measured on
WARMUP_STEPS = 10
SEARCH_BATCH = 128  # requests searched at once while building examples


@dataclass(frozen=True)
class Example:
    record_id: str
    messages: tuple[ChatMessage, ...]  # the live prompt: system (instructions + references), request
    target: str  # what the model should answer


@dataclass(frozen=True)
class TuneOptions:
    steps: int | None = None  # optimizer steps in all; None: until the time budget
    max_minutes: float = 30.0  # training time in all (resumed runs count their earlier time)
    batch_size: int = 4  # examples per optimizer step (accumulated one by one: no padding)
    learning_rate: float = 2e-4
    lora_rank: int = 16
    checkpoint_minutes: float = 5.0
    max_tokens: int = 1024  # longer examples are skipped
    seed: int = 13
    bf16: bool = False  # bfloat16 autocast for the forward and backward passes
    threads: int = 2


@dataclass
class Progress:
    step: int
    steps: int | None
    seconds: float  # trained so far, over all runs
    budget: float  # seconds
    tokens_per_s: float
    loss: float

    @property
    def eta(self) -> float:
        """Seconds left: the time budget, or the steps left at this pace if sooner."""
        left = self.budget - self.seconds
        if self.steps and self.step:
            left = min(left, (self.steps - self.step) * self.seconds / self.step)
        return max(left, 0.0)


@dataclass
class State:
    """What a checkpoint keeps besides the adapter weights."""

    base_model: str
    seed: int
    step: int = 0
    seconds: float = 0.0
    tokens: int = 0
    losses: list[float] = field(default_factory=list)
    held_out_loss_before: float | None = None
    finished: bool = False


class Interrupted(Exception):
    """Ctrl-C during training: the checkpoint of the last step is saved."""

    def __init__(self, state: State, where: Path) -> None:
        super().__init__(f"interrupted at step {state.step}")
        self.state, self.where = state, where


# -- examples ------------------------------------------------------------------------------

def is_held_out(record_id: str, *, seed: int, share: float) -> bool:
    """A seeded, order-independent choice: the same record is held out on every run."""
    digest = hashlib.sha256(f"{seed}:{record_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def trainable(record: Record) -> bool:
    """Customer-facing question-and-answer records: never internal ones, never policy chunks."""
    return (record.audience == "customer" and record.kind != "policy"
            and bool(record.request.strip()) and bool(record.resolution.strip()))


def split(records: Sequence[Record], *, seed: int, share: float) -> tuple[list[Record], list[Record]]:
    """(train, held_out) among the trainable records."""
    usable = sorted((r for r in records if trainable(r)), key=lambda r: r.id)
    held = [r for r in usable if is_held_out(r.id, seed=seed, share=share)]
    chosen = {r.id for r in held}
    return [r for r in usable if r.id not in chosen], held


def fit_target(text: str, count_tokens: Callable[[str], int], max_tokens: int) -> str:
    """Whole sentences of the text that fit the live answer length (a model taught longer
    answers would be cut off at the limit)."""
    kept = ""
    for sentence in split_sentences(text):
        if count_tokens(kept + sentence) > max_tokens:
            break
        kept += sentence
    return kept.strip()


def build_examples(records: Sequence[Record], neighbours: Callable[[Sequence[str]], list[list[Hit]]],
                   builder: PromptBuilder, *, count_tokens: Callable[[str], int], max_new_tokens: int,
                   references: int) -> list[Example]:
    """Each record as a live prompt over its neighbours (never itself) and its resolution."""
    examples: list[Example] = []
    found = neighbours([r.request for r in records])
    for record, hits in zip(records, found, strict=True):
        own = record.request.strip().lower()
        refs = [h for h in hits if h.id != record.id and h.record.request.strip().lower() != own]
        prompt = builder.build((), ChatMessage(role="user", content=record.request), refs[:references])
        target = fit_target(unpersonalise(record.resolution, record.request), count_tokens, max_new_tokens)
        if target:
            examples.append(Example(record.id, prompt.request.messages, target))
    return examples


def encode(tokenizer: Any, example: Example, max_tokens: int) -> tuple[list[int], list[int]] | None:
    """(input ids, labels): the prompt as the live backend renders it, then the answer and the
    chat template's end of turn; only the answer is learned. None when it is too long."""
    messages = [{"role": m.role, "content": m.content} for m in example.messages]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": example.target}],
                                         tokenize=False)
    answer = full[len(prompt):] if full.startswith(prompt) else example.target + tokenizer.eos_token
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    if len(prompt_ids) + len(answer_ids) > max_tokens:
        return None
    return prompt_ids + answer_ids, [-100] * len(prompt_ids) + answer_ids


# -- training ------------------------------------------------------------------------------

def _torch() -> Any:
    import torch

    return torch


def lora_model(model: Any, rank: int) -> Any:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.05, target_modules="all-linear",
                        task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def mean_loss(model: Any, encoded: Sequence[tuple[list[int], list[int]]], bf16: bool) -> float | None:
    """The model's mean loss over examples (no training)."""
    if not encoded:
        return None
    torch = _torch()
    model.eval()
    total = 0.0
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for ids, labels in encoded:
            total += float(model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss)
    model.train()
    return round(total / len(encoded), 4)


def _order(n: int, seed: int) -> Iterator[int]:
    """Example indexes, epoch after epoch, each epoch in a seeded order."""
    epoch = 0
    while True:
        order = list(range(n))
        random.Random(f"{seed}:{epoch}").shuffle(order)
        yield from order
        epoch += 1


class Trainer:
    """One tuning run: fresh or resumed from the checkpoint under `root`."""

    def __init__(self, model: Any, train: Sequence[tuple[list[int], list[int]]],
                 held: Sequence[tuple[list[int], list[int]]], options: TuneOptions, *,
                 root: Path, base_model: str, resume: bool) -> None:
        torch = _torch()
        torch.manual_seed(options.seed)
        torch.set_num_threads(options.threads)
        self.options, self.train_set, self.held = options, list(train), list(held)
        self.root = root
        self.checkpoint = root / CHECKPOINT
        self.state = State(base_model=base_model, seed=options.seed)
        saved = self._saved_state() if resume else None
        self.model = self._load_adapter(model) if saved else lora_model(model, options.lora_rank)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=options.learning_rate, weight_decay=0.0)
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: min(1.0, (s + 1) / WARMUP_STEPS))
        if saved:
            self.state = State(**saved["state"])
            self.optimizer.load_state_dict(saved["optimizer"])
            self.schedule.load_state_dict(saved["schedule"])

    def _saved_state(self) -> dict[str, Any]:
        path = self.checkpoint / STATE
        if not path.is_file():
            raise InputError(f"no checkpoint to resume from in {self.checkpoint}", code="no_checkpoint")
        saved: dict[str, Any] = _torch().load(path, weights_only=False)
        theirs = saved["state"]
        if theirs["base_model"] != self.state.base_model or theirs["seed"] != self.state.seed:
            raise InputError(f"the checkpoint was tuned from {theirs['base_model']} with seed "
                             f"{theirs['seed']}, not {self.state.base_model} with seed {self.state.seed}",
                             code="checkpoint_mismatch")
        return saved

    def _load_adapter(self, model: Any) -> Any:
        from peft import PeftModel

        return PeftModel.from_pretrained(model, self.checkpoint, is_trainable=True)

    def run(self, progress: Callable[[Progress], None] | None = None) -> State:
        """Train until the step count or the time budget; checkpoint on the way and on Ctrl-C."""
        if not self.train_set:
            raise InputError("no record to train on (every record is internal, held out or too long)",
                             code="no_examples")
        torch = _torch()
        o, s = self.options, self.state
        if s.held_out_loss_before is None:
            s.held_out_loss_before = mean_loss(self.model, self.held[:HELD_OUT_LOSS_EXAMPLES], o.bf16)
        s.finished = False
        budget = o.max_minutes * 60
        order = _order(len(self.train_set), o.seed)
        for _ in range(s.step * o.batch_size):  # the examples earlier runs trained on
            next(order)
        self.model.train()
        saved_at = time.monotonic()
        try:
            while s.seconds < budget and (o.steps is None or s.step < o.steps):
                started = time.perf_counter()
                loss, tokens = self._step(torch, [self.train_set[next(order)] for _ in range(o.batch_size)])
                s.step += 1
                s.seconds += time.perf_counter() - started
                s.tokens += tokens
                s.losses.append(round(loss, 4))
                if progress is not None:
                    progress(Progress(s.step, o.steps, s.seconds, budget, s.tokens / s.seconds, loss))
                if time.monotonic() - saved_at >= o.checkpoint_minutes * 60:
                    self.save_checkpoint()
                    saved_at = time.monotonic()
        except KeyboardInterrupt:
            self.save_checkpoint()
            raise Interrupted(s, self.checkpoint) from None
        s.finished = True
        self.save_checkpoint()
        return s

    def _step(self, torch: Any, batch: Sequence[tuple[list[int], list[int]]]) -> tuple[float, int]:
        """One optimizer step over the batch, example by example: (mean loss, tokens)."""
        total, tokens = 0.0, 0
        for ids, labels in batch:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.options.bf16):
                loss = self.model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss
            (loss / len(batch)).backward()
            total += loss.detach().item()
            tokens += len(ids)
        torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], 1.0)
        self.optimizer.step()
        self.schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        return total / len(batch), tokens

    def save_checkpoint(self) -> None:
        """The adapter and the training state, swapped in whole (the old one goes last)."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f"{CHECKPOINT}.new"
        shutil.rmtree(tmp, ignore_errors=True)
        self.model.save_pretrained(tmp)
        _torch().save({"state": asdict(self.state), "optimizer": self.optimizer.state_dict(),
                       "schedule": self.schedule.state_dict()}, tmp / STATE)
        old = self.root / f"{CHECKPOINT}.old"
        shutil.rmtree(old, ignore_errors=True)
        if self.checkpoint.exists():
            os.rename(self.checkpoint, old)
        os.rename(tmp, self.checkpoint)
        shutil.rmtree(old, ignore_errors=True)

    def held_out_loss(self) -> float | None:
        return mean_loss(self.model, self.held[:HELD_OUT_LOSS_EXAMPLES], self.options.bf16)

    def publish(self, out: Path, summary: dict[str, Any]) -> Path:
        """The adapter, written whole to `out` with its marker (assistant.llm.adapters)."""
        def write(tmp: Path) -> dict[str, Any]:
            self.model.save_pretrained(tmp)
            return summary

        return publish(out, write)


def unfinished_checkpoint(data_dir: Path) -> State | None:
    """The state of an interrupted run's checkpoint, if one is waiting for --resume."""
    path = adapters_dir(data_dir) / CHECKPOINT / STATE
    if not path.is_file():
        return None
    state = State(**_torch().load(path, weights_only=False)["state"])
    return None if state.finished else state


def default_out(data_dir: Path) -> Path:
    return adapters_dir(data_dir) / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def summary_of(state: State, options: TuneOptions, *, examples: int, held_out: int, skipped: int,
               held_out_loss: float | None) -> dict[str, Any]:
    """What the adapter's marker records: enough to compare two runs."""
    first, recent = state.losses[:20], state.losses[-20:]
    return {
        "base_model": state.base_model, "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "steps": state.step, "minutes": round(state.seconds / 60, 1), "tokens": state.tokens,
        "tokens_per_s": round(state.tokens / state.seconds, 1) if state.seconds else None,
        "train_loss_first": round(sum(first) / len(first), 4) if first else None,
        "train_loss_last": round(sum(recent) / len(recent), 4) if recent else None,
        "held_out_loss_before": state.held_out_loss_before, "held_out_loss_after": held_out_loss,
        "examples": examples, "held_out": held_out, "skipped_too_long": skipped,
        "options": asdict(options),
    }


def activate(out: Path, data_dir: Path) -> None:
    """A new adapter under the adapters folder is the one "auto" loads: unpin the base model."""
    if out.parent.resolve() == adapters_dir(data_dir).resolve():
        use_base(data_dir, False)


# -- one whole run -------------------------------------------------------------------------

@dataclass(frozen=True)
class Prepared:
    train: list[tuple[list[int], list[int]]]
    held: list[tuple[list[int], list[int]]]
    held_ids: frozenset[str]  # records never trained on
    train_ids: frozenset[str]
    skipped: int  # examples longer than tune.max_tokens


def prepare(settings: Settings, kb: KnowledgeBase, tokenizer: Any, options: TuneOptions,
            holdout: float) -> Prepared:
    """The encoded training and held-out examples of the knowledge base's records."""
    d = settings.dialogue

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    builder = PromptBuilder(system_prompt=d.system_prompt, company=settings.company, count_tokens=count,
                            context_tokens=settings.llm.context_tokens,
                            max_new_tokens=settings.llm.max_new_tokens, reference_tokens=d.reference_tokens)
    train_records, held_records = split(kb.records(), seed=options.seed, share=holdout)

    def neighbours(queries: Sequence[str]) -> list[list[Hit]]:
        found: list[list[Hit]] = []
        for s in range(0, len(queries), SEARCH_BATCH):  # one more: the record itself drops out
            found += kb.search_many(queries[s:s + SEARCH_BATCH], d.retrieve_k + 1)
        return found

    encoded: dict[str, list[tuple[list[int], list[int]]]] = {}
    skipped = 0
    for name, records in (("train", train_records), ("held", held_records)):
        examples = build_examples(records, neighbours, builder, count_tokens=count,
                                  max_new_tokens=settings.llm.max_new_tokens, references=d.retrieve_k)
        rows = [encode(tokenizer, e, options.max_tokens) for e in examples]
        skipped += sum(r is None for r in rows)
        encoded[name] = [r for r in rows if r is not None]
    return Prepared(encoded["train"], encoded["held"], frozenset(r.id for r in held_records),
                    frozenset(r.id for r in train_records), skipped)
