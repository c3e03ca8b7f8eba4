"""The dialogue manager on held-out Bitext requests, written to benchmarks/results/answers.json.

    .venv/bin/python benchmarks/answers.py [--turns 5] [--data-dir DIR] [--skip-model]

1. Routing: every held-out request (the seeded 10% of benchmarks/common.py, never
   indexed) goes through DialogueManager.handle up to routing and retrieval, exactly
   as `assistant eval --retrieve-only` does. A handoff is right for
   `contact_human_agent`, an answer for everything else: precision and recall of
   handoff, and the share of answered requests whose first source has their intent.
2. Answers: a few full text turns per local backend (extractive, the default; the
   packaged transformers model): time to first token as the customer sees it (retrieval,
   routing and prompt included), tokens per second after it, peak memory (the
   process's high-water mark, so it only grows from one backend to the next). The
   packaged model is measured with the default reference cap and without it.
   Answer quality itself: benchmarks/answer_quality.py.
Figures depend on what else the machine runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent))

from benchmarks.common import bitext_split  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "answers.json"
HUMAN = "contact_human_agent"
TARGETS = {"handoff_precision": 0.97, "handoff_recall": 0.97, "ttft_s": 1.5}


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def routing(rt: Any, held_out: list) -> dict[str, Any]:
    from assistant.evaluation import Case, run_case, summarize

    cases = [Case(id=r.id, text=r.request, expect_intent=r.intent,
                  expect_route="handoff" if r.intent == HUMAN else "answer") for r in held_out]
    results, misrouted = [], []
    start = time.perf_counter()
    for i, case in enumerate(cases, 1):
        result = await run_case(rt.dialogue, rt.store, case, retrieve_only=True)
        results.append(result)
        if result.route != case.expect_route:
            misrouted.append({"text": case.text, "intent": case.expect_intent, "route": result.route})
        if i % 100 == 0:
            print(f"  routed {i}/{len(cases)}", file=sys.stderr)
    summary = summarize(cases, results)
    answered = [(c, r) for c, r in zip(cases, results, strict=True) if r.route == "answer"]
    return {
        "requests": len(cases),
        "handoff_expected": sum(c.expect_route == "handoff" for c in cases),
        "route_accuracy": summary["route_accuracy"],
        "handoff_precision": summary["handoff_precision"],
        "handoff_recall": summary["handoff_recall"],
        # The knowledge base's intent vote alone (top hit's intent), without the phrase rules:
        # an estimate of how the router does on phrasings its patterns were not written for.
        "vote_only": _vote_only(cases, results),
        "answers_first_source_intent": round(sum(c.expect_intent == r.top_intent for c, r in answered)
                                             / max(len(answered), 1), 4),
        "ms_per_request": round((time.perf_counter() - start) * 1000 / len(cases), 1),
        "misrouted": misrouted[:20],
    }


def _vote_only(cases: list, results: list) -> dict[str, float | None]:
    pairs = list(zip(cases, results, strict=True))
    tp = sum(c.expect_route == "handoff" and r.top_intent == HUMAN for c, r in pairs)
    predicted = sum(r.top_intent == HUMAN for r in results)
    actual = sum(c.expect_route == "handoff" for c in cases)
    return {"handoff_precision": round(tp / predicted, 4) if predicted else None,
            "handoff_recall": round(tp / actual, 4) if actual else None}


async def answer_turns(rt: Any, texts: list[str]) -> dict[str, Any]:
    """Full turns in fresh conversations: TTFT from handle() to the first delta, then tokens/s."""
    from assistant.events import AnswerCompleted, AnswerDelta, UserMessage

    ttfts, rates, refs = [], [], []
    for text in texts:
        conv = await rt.dialogue.new_conversation(inbox="bench")
        start, first, answer = time.perf_counter(), None, None
        async for event in rt.dialogue.handle(UserMessage(conversation_id=conv.id, text=text)):
            if isinstance(event, AnswerDelta) and first is None:
                first = time.perf_counter()
            elif isinstance(event, AnswerCompleted):
                answer = event
        end = time.perf_counter()
        if first is None or answer is None:
            continue
        ttfts.append(first - start)
        refs.append(len(answer.sources))
        tokens = rt.llm.count_tokens(answer.text)
        if end > first and tokens > 1:
            rates.append((tokens - 1) / (end - first))
    return {"turns": len(ttfts), "ttft_p50_s": round(statistics.median(ttfts), 3) if ttfts else None,
            "ttft_max_s": round(max(ttfts), 3) if ttfts else None,
            "tokens_per_s": round(statistics.median(rates), 1) if rates else None,
            "references_in_prompt": statistics.median(refs) if refs else None,
            "peak_rss_mb": peak_rss_mb()}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from assistant.runtime import build_runtime
    from assistant.settings import load_settings
    from knowledge.base import KnowledgeBase

    indexed, held_out = bitext_split()
    data = Path(args.data_dir or tempfile.mkdtemp(prefix="bench-answers-"))
    settings = load_settings(Path(__file__).parent.parent / "config.toml", data_dir=data)
    kb = KnowledgeBase(settings.knowledge, data, settings.company)
    start = time.perf_counter()
    kb.add_records(indexed)
    kb.close()
    print(f"indexed {len(indexed)} records in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    out: dict[str, Any] = {"machine": platform.machine(), "held_out": len(held_out), "indexed": len(indexed)}

    from assistant.llm.extractive import ExtractiveBackend

    async with build_runtime(settings, llm=ExtractiveBackend.from_settings(settings)) as rt:
        out["routing"] = await routing(rt, held_out)
        texts = [r.request for r in held_out if r.intent != HUMAN][:: max(1, len(held_out) // args.turns)]
        out["extractive"] = await answer_turns(rt, texts[: args.turns])
    if not args.skip_model:
        for cap in args.reference_tokens:
            tuned = settings.model_copy(update={
                "dialogue": settings.dialogue.model_copy(update={"reference_tokens": cap}),
                # the packaged model, whatever config.toml's default backend (now extractive)
                "llm": settings.llm.model_copy(update={"backend": "transformers",
                                                       "max_new_tokens": args.max_new_tokens})})
            async with build_runtime(tuned) as rt:
                await answer_turns(rt, texts[:1])  # warm-up: first-call costs are not a customer's
                out[f"transformers_refs{cap}"] = {"model": settings.llm.model, "reference_tokens": cap,
                                                  **await answer_turns(rt, texts[: args.turns])}
    ttft = out.get(f"transformers_refs{settings.dialogue.reference_tokens}", {}).get("ttft_p50_s")
    out["targets"] = {**TARGETS, "met": {
        "handoff_precision": (out["routing"]["handoff_precision"] or 0) >= TARGETS["handoff_precision"],
        "handoff_recall": (out["routing"]["handoff_recall"] or 0) >= TARGETS["handoff_recall"],
        "ttft_default_model": None if ttft is None else ttft < TARGETS["ttft_s"]}}
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=5, help="full answer turns per backend")
    parser.add_argument("--data-dir", default=None, help="reuse a data dir (keeps the converted model)")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="answer length for the model turns")
    parser.add_argument("--skip-model", action="store_true", help="no transformers turns")
    parser.add_argument("--reference-tokens", type=int, nargs="+", default=[300, 0],
                        help="[dialogue] reference_tokens values to measure the default model with "
                             "(300 = the default, 0 = every retrieved record)")
    result = asyncio.run(main(parser.parse_args()))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
