"""`assistant tune`: teach the local models this company's own history.

Without a flag, the chat model: LoRA adapters (peft) trained on the knowledge base's
own records, each laid out like a live prompt (assistant.llm.tuning). Progress shows
tokens/s and the time left; a checkpoint is saved every `tune.checkpoint_minutes` and
on Ctrl-C, and `--resume` continues it. The finished adapter is written whole under
<data_dir>/models/chat-adapters/ and the local backend loads the newest one at its
next start; `--base` returns to the untuned model.

`--handoff` fine-tunes the "asks for a person" classifier (assistant.handoff_model)
on the built-in examples plus this knowledge base's records (its
`dialogue.handoff_intents` records as requests, a sample of the others as not), and
writes it to <data_dir>/models/handoff/, which the assistant then uses instead of
the shipped one (from its next start). About a minute and a half on two cores for
the demo history. The folder is swapped in whole, never half-written.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import InputError

if TYPE_CHECKING:
    from assistant.llm.tuning import Progress
    from assistant.settings import Settings
    from knowledge.base import KnowledgeBase


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("tune", parents=[common],
                              help="fine-tune local models on this company's history",
                              description="Fine-tune the local chat model (default) or the handoff "
                                          "classifier on this company's own history.")
    p.add_argument("--steps", type=int, default=None, metavar="N",
                   help="optimizer steps in all (default: as many as the time budget allows)")
    p.add_argument("--max-minutes", type=float, default=None, metavar="M",
                   help="training time in all, resumed runs included (default: tune.max_minutes, 30)")
    p.add_argument("--resume", action="store_true",
                   help="continue the checkpoint of an interrupted (or finished) run")
    p.add_argument("--out", type=Path, default=None, metavar="PATH",
                   help="where to write it (default: <data_dir>/models/chat-adapters/<time>, "
                        "or <data_dir>/models/handoff with --handoff)")
    p.add_argument("--base", action="store_true",
                   help="go back to the untuned chat model (from the assistant's next start)")
    p.add_argument("--handoff", action="store_true",
                   help="the classifier that decides whether a customer asks for a person")
    p.add_argument("--epochs", type=int, default=3, help="--handoff: passes over the examples (default: 3)")
    p.add_argument("--builtin-only", action="store_true",
                   help="--handoff: train on the built-in examples alone (what the project ships)")
    p.set_defaults(handler=cmd_tune)


def cmd_tune(args: argparse.Namespace, settings: Settings) -> int:
    if args.handoff:
        return tune_handoff(args, settings)
    if args.base:
        from assistant.llm.adapters import use_base

        use_base(settings.data_dir, True)
        print("the assistant runs the untuned chat model from its next start "
              "(a new 'assistant tune' run, or llm.adapter, chooses an adapter again)", file=sys.stderr)
        return 0
    return tune_chat(args, settings)


def tune_chat(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.llm.tuning import Interrupted, unfinished_checkpoint
    from channels.cli.kb import open_kb

    if args.steps is not None and args.steps < 1:
        raise InputError("--steps must be at least 1", code="bad_argument")
    if args.max_minutes is not None and args.max_minutes <= 0:
        raise InputError("--max-minutes must be above 0", code="bad_argument")
    waiting = unfinished_checkpoint(settings.data_dir)
    if waiting is not None and not args.resume:
        raise InputError(f"an interrupted run's checkpoint is waiting (step {waiting.step}, "
                         f"{waiting.seconds / 60:.1f} min): continue it with --resume, or delete "
                         f"{settings.data_dir / 'models' / 'chat-adapters' / '.checkpoint'} to start over",
                         code="checkpoint_exists")
    with open_kb(settings) as kb:
        try:
            summary = run_chat_tuning(settings, kb, args)
        except Interrupted as stop:
            print(f"\ninterrupted at step {stop.state.step} ({stop.state.seconds / 60:.1f} min trained); "
                  f"checkpoint kept in {stop.where}: continue with 'assistant tune --resume'",
                  file=sys.stderr)
            return 130
    print(json.dumps(summary, indent=2))
    print(f"the assistant uses it from its next start ({summary['out']})", file=sys.stderr)
    return 0


def run_chat_tuning(settings: Settings, kb: KnowledgeBase, args: argparse.Namespace) -> dict[str, object]:
    """Load the model, build the examples, train, publish: the summary written with the adapter."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from assistant.llm.adapters import adapters_dir
    from assistant.llm.local import cpu_has_bf16
    from assistant.llm.tune_examples import prepare, trainable
    from assistant.llm.tuning import Trainer, TuneOptions, activate, default_out, summary_of
    from assistant.llm.weights import resolve_model

    t = settings.tune
    options = TuneOptions(steps=args.steps, max_minutes=args.max_minutes or t.max_minutes,
                          batch_size=t.batch_size, learning_rate=t.learning_rate, lora_rank=t.lora_rank,
                          checkpoint_minutes=t.checkpoint_minutes, max_tokens=t.max_tokens, seed=t.seed,
                          bf16=t.dtype == "bfloat16" or (t.dtype == "auto" and cpu_has_bf16()),
                          threads=settings.llm.threads)
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    records = kb.records()
    if not any(trainable(r) for r in records):  # before minutes of model loading
        raise InputError("the knowledge base holds no customer record to learn from: "
                         "ingest the history first (assistant kb ingest)", code="no_examples")
    source = resolve_model(settings.llm.model, settings.data_dir, progress=say)
    say(f"loading {settings.llm.model}")
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    say("building examples: each record's neighbours from the knowledge base, as a live prompt")
    started = time.perf_counter()
    data = prepare(settings, kb, tokenizer, options, t.holdout, records=records)
    say(f"{len(data.train)} examples to train on, {len(data.held)} held out, {data.skipped} too long "
        f"({time.perf_counter() - started:.0f} s); {'bfloat16' if options.bf16 else 'float32'}, "
        f"budget {options.max_minutes:g} min" + (f" or {options.steps} steps" if options.steps else ""))
    trainer = Trainer(model, data.train, data.held, options, root=adapters_dir(settings.data_dir),
                      base_model=settings.llm.model, resume=args.resume)
    state = trainer.run(progress=ProgressLine())
    say("")
    held = trainer.held_out_loss()
    summary = summary_of(state, options, examples=len(data.train), held_out=len(data.held),
                         skipped=data.skipped, held_out_loss=held)
    out = trainer.publish(args.out or default_out(settings.data_dir), summary)
    activate(out, settings.data_dir)
    return {**summary, "out": str(out)}


class ProgressLine:
    """One line that updates in place on a terminal, a plain line every 30 s otherwise."""

    def __init__(self, every: float = 30.0) -> None:
        self.every, self.last = every, 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if not self.tty and now - self.last < self.every and p.step != 1:
            return
        self.last = now
        steps = f"{p.step}/{p.steps}" if p.steps else str(p.step)
        line = (f"tune chat: step {steps}, loss {p.loss:.3f}, {p.tokens_per_s:.0f} tokens/s, "
                f"{p.seconds / 60:.1f} of {p.budget / 60:g} min, ETA {p.eta / 60:.1f} min")
        print(f"\r{line}" if self.tty else line, end="" if self.tty else "\n", file=sys.stderr, flush=True)


def tune_handoff(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.handoff_model import kb_examples, train, training_set
    from channels.cli.kb import Progress, open_kb

    if args.epochs < 1:
        raise InputError("--epochs must be at least 1", code="bad_argument")
    requests: list[tuple[str, str]] = []
    if not args.builtin_only:
        with open_kb(settings) as kb:
            requests = kb.labelled_requests()
        own = kb_examples(requests, settings.dialogue.handoff_intents)
        asks = sum(e.person for e in own)
        intents = ", ".join(settings.dialogue.handoff_intents)
        print(f"knowledge base: {asks} requests for a person ({intents}) "
              f"and {len(own) - asks} other records", file=sys.stderr)
    examples = training_set(requests, settings.dialogue.handoff_intents)
    out = args.out or settings.data_dir / "models" / "handoff"
    started = time.perf_counter()
    with Progress(desc="tune handoff", unit="steps") as progress:
        summary = train(examples, out, epochs=args.epochs, progress=progress)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["out"] = str(out)
    print(json.dumps(summary, indent=2))
    print(f"the assistant uses it from its next start ({out})", file=sys.stderr)
    return 0
