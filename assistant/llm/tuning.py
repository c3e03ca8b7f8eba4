"""`assistant tune`: fine-tune the local chat model on this company's resolved cases
(the examples: assistant.llm.tune_examples).

Training is LoRA (peft) on the CPU: one example at a time, gradients accumulated over
`tune.batch_size`, bfloat16 autocast where the CPU has AMX. Checkpoints every
`tune.checkpoint_minutes` (and on Ctrl-C) let `--resume` continue; the time budget
and step count are totals over resumed runs. The adapter is published whole
(assistant.llm.adapters), and the local backend loads the newest at its next start.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.errors import InputError
from assistant.folders import write_whole
from assistant.llm.adapters import adapters_dir, publish, use_base

log = logging.getLogger(__name__)

CHECKPOINT = ".checkpoint"  # under the adapters folder: the run in progress (or the last one)
STATE = "state.pt"  # optimizer, schedule, counters: written last in a checkpoint
HELD_OUT_LOSS_EXAMPLES = 32  # held-out examples the loss is measured on
WARMUP_STEPS = 10


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


# -- training ------------------------------------------------------------------------------

def _torch() -> Any:
    import torch

    return torch


def lora_model(model: Any, rank: int) -> Any:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.05, target_modules="all-linear",
                        task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def device() -> str:
    """Where training runs: the GPU torch finds (CUDA_VISIBLE_DEVICES picks it), else the CPU."""
    return "cuda" if _torch().cuda.is_available() else "cpu"


def loss_of(model: Any, ids: list[int], labels: list[int], bf16: bool) -> Any:
    """The model's loss on one example, on the model's device, under bfloat16 autocast if asked."""
    torch = _torch()
    where = next(model.parameters()).device
    with torch.autocast(where.type, dtype=torch.bfloat16, enabled=bf16):
        return model(input_ids=torch.tensor([ids], device=where),
                     labels=torch.tensor([labels], device=where)).loss


def mean_loss(model: Any, encoded: Sequence[tuple[list[int], list[int]]], bf16: bool) -> float | None:
    """The model's mean loss over examples (no training)."""
    if not encoded:
        return None
    torch = _torch()
    model.eval()
    total = 0.0
    with torch.inference_mode():
        for ids, labels in encoded:
            total += float(loss_of(model, ids, labels, bf16))
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
        model = model.to(device())
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
            loss = loss_of(self.model, ids, labels, self.options.bf16)
            (loss / len(batch)).backward()
            total += loss.detach().item()
            tokens += len(ids)
        torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], 1.0)
        self.optimizer.step()
        self.schedule.step()
        self.optimizer.zero_grad(set_to_none=True)
        return total / len(batch), tokens

    def save_checkpoint(self) -> None:
        """The adapter and the training state (written last), swapped in whole."""
        def write(staging: Path) -> None:
            self.model.save_pretrained(staging)
            _torch().save({"state": asdict(self.state), "optimizer": self.optimizer.state_dict(),
                           "schedule": self.schedule.state_dict()}, staging / STATE)

        write_whole(self.checkpoint, write)

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
