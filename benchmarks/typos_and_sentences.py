"""Before and after, in one run: typo correction (knowledge.spelling), the sentence-by-sentence
search of weakly matching messages (DialogueManager._best_sentence) and the intent head's answer
half (knowledge.intents: learned from the resolutions' openings), each on and off.

    .venv/bin/python benchmarks/typos_and_sentences.py
    .venv/bin/python benchmarks/typos_and_sentences.py --variants both all --out answer_head.json

Every message goes through the service's dialogue, retrieve-only (`assistant eval
--retrieve-only`), with the default configuration, against:
  - the Bitext knowledge base without its seeded hold-out (benchmarks/common.py):
    benchmarks/data/dev.jsonl, benchmarks/data/realistic.jsonl, the Bitext hold-out;
  - BANKING77's train split: its test split (a second company's real wording).
Figures: intent hit@1, unsure precision and recall (out-of-scope questions caught, and
in-scope ones wrongly called unsure), and the share of in-scope messages answered
"unsure". Writes benchmarks/results/typos_and_sentences.json.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import json
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent))

from benchmarks.common import bitext_split  # noqa: E402

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
RESULTS = Path(__file__).parent / "results" / "typos_and_sentences.json"
BANKING77 = ROOT.parent / "shared" / "datasets" / "banking77"
# name: (typos, sentences, answer head); "both" is typos and sentences without the answer head
VARIANTS = {"neither": (False, False, False), "typos": (True, False, False),
            "sentences": (False, True, False), "both": (True, True, False), "all": (True, True, True)}


@contextmanager
def variant(typos: bool, sentences: bool, answers: bool = True) -> Iterator[None]:
    """Switch changes off for the duration (the code as it was before them)."""
    from assistant.dialogue import DialogueManager
    from knowledge.retriever import Retriever

    speller, best, head = Retriever.speller, DialogueManager._best_sentence, Retriever.head

    async def no_sentence(self: Any, query: str) -> None:
        return None

    def request_head(self: Any) -> Any:
        found = head(self)
        return found and dataclasses.replace(found, answer_weights=None, answer_bias=None)

    try:
        if not typos:
            Retriever.speller = lambda self: None  # type: ignore[method-assign]
        if not sentences:
            DialogueManager._best_sentence = no_sentence  # type: ignore[method-assign,assignment]
        if not answers:
            Retriever.head = request_head  # type: ignore[method-assign]
        yield
    finally:
        Retriever.speller, DialogueManager._best_sentence = speller, best  # type: ignore[method-assign]
        Retriever.head = head  # type: ignore[method-assign]


async def run(settings: Any, cases: list) -> dict[str, Any]:
    from assistant.evaluation import run_case, summarize
    from assistant.runtime import build_runtime

    async with build_runtime(settings, load_llm=False) as rt:
        results = [await run_case(rt.dialogue, rt.store, c, retrieve_only=True) for c in cases]
    s = summarize(cases, results)
    in_scope = [r for c, r in zip(cases, results, strict=True) if c.expect_route in ("", "answer")]
    return {"cases": len(cases), "hit_at_1": s["hit_at_1"], "unsure_precision": s["unsure_precision"],
            "unsure_recall": s["unsure_recall"],
            "in_scope_called_unsure": round(sum(r.route == "unsure" for r in in_scope) / len(in_scope), 4)
            if in_scope else None}


def banking77() -> tuple[list, list]:
    from assistant.evaluation import Case
    from knowledge.records import Record

    def read(split: str) -> list[tuple[str, str]]:
        with (BANKING77 / f"{split}.csv").open(newline="", encoding="utf-8") as f:
            return [(row["text"], row["category"]) for row in csv.DictReader(f)]

    # BANKING77 holds customers' messages and their intents, no answers: requests only.
    train = [Record(id=f"b77-{n}", request=text, resolution="", intent=intent)
             for n, (text, intent) in enumerate(read("train"))]
    test = [Case(id=f"t{n}", text=text, expect_intent=intent)
            for n, (text, intent) in enumerate(read("test"))]
    return train, test


async def main(variants: list[str]) -> dict[str, Any]:
    from assistant.evaluation import Case, load_cases
    from assistant.settings import load_settings
    from knowledge.base import KnowledgeBase

    indexed, held = bitext_split()
    sets = {"dev": load_cases(DATA / "dev.jsonl"), "realistic": load_cases(DATA / "realistic.jsonl"),
            "bitext": [Case(id=r.id, text=r.request, expect_intent=r.intent) for r in held]}
    train, test = banking77()
    companies = {"bitext": (indexed, sets), "banking77": (train, {"banking77": test})}
    out: dict[str, Any] = {"machine": platform.machine(), "variants": {}}
    with tempfile.TemporaryDirectory(prefix="bench-typos-") as tmp:
        for company, (records, cases) in companies.items():
            data = Path(tmp) / company
            settings = load_settings(ROOT / "config.toml", data_dir=data)
            started = time.perf_counter()
            with KnowledgeBase(settings.knowledge, data, settings.company) as kb:
                kb.add_records(records)
            out.setdefault("ingest_seconds", {})[company] = round(time.perf_counter() - started, 1)
            for name in variants:
                switches = VARIANTS[name]
                with variant(*switches):
                    for set_name, chosen in cases.items():
                        figures = await run(settings, chosen)
                        out["variants"].setdefault(name, {})[set_name] = figures
                        print(name, set_name, json.dumps(figures), file=sys.stderr, flush=True)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--out", default=RESULTS.name, help="file name under benchmarks/results/")
    args = parser.parse_args()
    result = asyncio.run(main(args.variants))
    out = RESULTS.parent / args.out
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
