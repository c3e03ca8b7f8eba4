"""`assistant tune`: teach the local models this company's own history.

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
    from assistant.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("tune", parents=[common],
                              help="fine-tune local models on this company's history",
                              description="Fine-tune local models on this company's own history.")
    p.add_argument("--handoff", action="store_true",
                   help="the classifier that decides whether a customer asks for a person")
    p.add_argument("--epochs", type=int, default=3, help="passes over the examples (default: 3)")
    p.add_argument("--builtin-only", action="store_true",
                   help="train on the built-in examples alone (what the project ships)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="where to write it (default: <data_dir>/models/handoff)")
    p.set_defaults(handler=cmd_tune)


def cmd_tune(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.cli.kb import Progress, open_kb
    from assistant.handoff_model import kb_examples, train, training_set

    if not args.handoff:
        raise InputError("choose what to tune: --handoff", code="nothing_to_tune")
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
