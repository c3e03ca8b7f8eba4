"""Does tuning the local chat model on the history pay? `assistant tune` after several time
budgets against the untuned model, answer by answer; written to benchmarks/results/tune.json
(figures) and tune_answers.jsonl (every answer).

    .venv/bin/python benchmarks/tune.py [--budgets 10 30 60] [--model-cases 20] [--data-dir DIR]

The knowledge base is the one of benchmarks/answer_quality.py (Bitext without its seeded
hold-out, plus the ABCD guidelines as internal records). `assistant tune` trains on it
(holding out its own seeded tenth), one budget after the other: each later budget resumes
the previous run's checkpoint, so "30" is the 10-minute adapter trained 20 minutes more.
Each model (untuned, then each adapter) answers a seeded sample of --model-cases messages
of (a) the Bitext hold-out, which neither the knowledge base nor the tuning saw, and (b)
benchmarks/data/realistic.jsonl; once through the grounding guard (what a customer
reads with llm.backend = "transformers") and once without it (what the model itself
writes). Figures: grounded, invented, cut_off, looping, on_topic, reference similarity
(Bitext: the answer against the held-out record's own resolution, cosine of the packaged
encoder), time to first delta, generation tokens/s; per budget, the training loss,
held-out loss and training tokens/s. The extractive default's figures on the same cases
come from answer_quality.json's answers file when present.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent))

from benchmarks.answer_quality import GUIDELINES, case_sets  # noqa: E402

ROOT = Path(__file__).parent.parent
RESULTS = Path(__file__).parent / "results" / "tune.json"
ANSWERS = Path(__file__).parent / "results" / "tune_answers.jsonl"
QUALITY_ANSWERS = Path(__file__).parent / "results" / "answer_quality_answers.jsonl"
GUARDS = {"guarded": "strict", "unguarded": "off"}


def settings_for(settings: Any, adapter: str, grounding: str) -> Any:
    return settings.model_copy(update={
        "llm": settings.llm.model_copy(update={"backend": "transformers", "adapter": adapter}),
        "dialogue": settings.dialogue.model_copy(update={"grounding": grounding})})


async def answer_all(settings: Any, sets: dict[str, list], truths: dict[str, str]) -> dict[str, Any]:
    """Every sampled case through the service's dialogue with this model; figures per set."""
    from assistant.evaluation import TopicJudge, run_case, summarize
    from assistant.guard import GroundedBackend
    from assistant.llm.local import TransformersChat
    from assistant.runtime import build_runtime

    stats: list[Any] = []
    model = TransformersChat.from_settings(settings)
    model.runner.on_finish = stats.append
    await asyncio.to_thread(model.load)
    strict = settings.dialogue.grounding == "strict"
    llm = (GroundedBackend(model, company=settings.company, floor=settings.dialogue.min_score)
           if strict else model)
    out: dict[str, Any] = {"adapter": model.adapter}
    rows: list[dict[str, Any]] = []
    async with build_runtime(settings, llm=llm) as rt:
        judge = TopicJudge(rt.knowledge)
        for name, cases in sets.items():
            await run_case(rt.dialogue, rt.store, cases[0], judge=judge)  # warm-up, not counted
            stats.clear()
            results = []
            for case in cases:
                results.append(await run_case(rt.dialogue, rt.store, case, judge=judge))
            figures = summarize(cases, results)
            done = [s for s in stats if s.new_tokens and s.seconds > s.first_token_s]
            figures["tokens_per_s"] = round(statistics.median(
                (s.new_tokens - 1) / (s.seconds - s.first_token_s) for s in done), 1) if done else None
            similarity = reference_similarity(rt.knowledge, cases, results, truths)
            if similarity is not None:
                figures["reference_similarity"] = similarity
            out[name] = figures
            rows += [{"set": name, "text": c.text, "expect": {"intent": c.expect_intent}, **r.to_json()}
                     for c, r in zip(cases, results, strict=True)]
    out["rows"] = rows
    return out


def reference_similarity(kb: Any, cases: list, results: list, truths: dict[str, str]) -> float | None:
    """Mean cosine between each answer and the case's own (held-out) resolution."""
    pairs = [(r.answer, truths[c.id]) for c, r in zip(cases, results, strict=True)
             if c.id in truths and r.answer.strip()]
    if not pairs:
        return None
    answers = kb.embed([a for a, _ in pairs])
    truth = kb.embed([t for _, t in pairs])
    return round(float((answers * truth).sum(axis=1).mean()), 4)


def tune(data: Path, minutes: float, resume: bool) -> dict[str, Any]:
    """`assistant tune` as a user runs it, in this process; its JSON summary."""
    from channels.cli import main

    args = ["--config", str(ROOT / "config.toml"), "--data-dir", str(data), "tune",
            "--max-minutes", str(minutes), *(["--resume"] if resume else [])]
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        code = main(args)
    if code != 0:
        raise SystemExit(f"assistant tune failed ({code})")
    return dict(json.loads(captured.getvalue()))


def extractive_figures(sets: dict[str, list]) -> dict[str, Any]:
    """The default (extractive) answers' figures on the same sampled cases, from answer_quality."""
    if not QUALITY_ANSWERS.exists():
        return {}
    rows = [json.loads(line) for line in QUALITY_ANSWERS.read_text().splitlines() if line.strip()]
    out: dict[str, Any] = {}
    for name, cases in sets.items():
        ids = {c.id for c in cases}
        mine = [r for r in rows if r["config"] == "extractive" and r["set"] == name and r["id"] in ids]
        scored = [r for r in mine if "on_topic" in r]
        if scored:
            on_topic = sum(r["on_topic"] for r in scored) / len(scored)
            out[name] = {"cases": len(mine), "on_topic": round(on_topic, 4)}
    return out


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from assistant.settings import load_settings
    from knowledge.base import KnowledgeBase
    from knowledge.placeholders import fill

    indexed, held_out, all_sets = case_sets()
    sets = {name: random.Random(7).sample(cases, min(args.model_cases, len(cases)))
            for name, cases in all_sets.items()}
    truths = {r.id: fill(r.resolution, {}) for r in held_out}
    data = Path(args.data_dir or tempfile.mkdtemp(prefix="bench-tune-"))
    settings = load_settings(ROOT / "config.toml", data_dir=data)
    with KnowledgeBase(settings.knowledge, data, settings.company) as kb:
        if kb.stats()["count"] == 0:
            kb.add_records(indexed)
            kb.ingest([GUIDELINES])
    out: dict[str, Any] = {"machine": platform.machine(), "model": settings.llm.model,
                           "model_cases_per_set": args.model_cases, "budgets_minutes": args.budgets,
                           "extractive_default": extractive_figures(sets), "models": {}}
    answers: list[dict[str, Any]] = []

    async def evaluate(label: str, adapter: str) -> None:
        for guard, grounding in GUARDS.items():
            started = time.perf_counter()
            figures = await answer_all(settings_for(settings, adapter, grounding), sets, truths)
            rows = figures.pop("rows")
            answers.extend({"model": label, "guard": guard, **r} for r in rows)
            out["models"].setdefault(label, {})[guard] = figures
            print(f"{label} {guard}: {time.perf_counter() - started:.0f} s "
                  f"{json.dumps({k: v for k, v in figures.items() if k != 'adapter'})}",
                  file=sys.stderr, flush=True)

    await evaluate("untuned", "none")
    for i, minutes in enumerate(args.budgets):
        summary = tune(data, minutes, resume=i > 0)
        out["models"][f"tuned_{minutes:g}min"] = {"training": summary}
        print(f"tuned {minutes} min: {json.dumps(summary)}", file=sys.stderr, flush=True)
        await evaluate(f"tuned_{minutes:g}min", summary["out"])
    ANSWERS.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in answers))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", type=float, nargs="+", default=[10, 30, 60],
                        help="training minutes in all after which an adapter is measured (ascending)")
    parser.add_argument("--model-cases", type=int, default=20, help="messages per set each model answers")
    parser.add_argument("--data-dir", default=None, help="reuse a data dir (keeps the converted model)")
    result = asyncio.run(main(parser.parse_args()))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
