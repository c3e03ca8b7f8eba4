"""Learning customers' own words from the conversations (assistant.learning, `assistant kb learn`),
end to end, before and after in one run.

    .venv/bin/python benchmarks/learning.py
    .venv/bin/python benchmarks/learning.py --learn-from realistic --measure-on dev \
        --out learning_reverse.json

1. The demo history into a fresh knowledge base (the files `make demo-kb` ingests).
2. The realistic set (benchmarks/data/realistic.jsonl) through the service's dialogue, with
   answers, as `assistant eval` runs it: the figures before.
3. The dev set (benchmarks/data/dev.jsonl: other messages, written apart from the realistic
   ones) as conversations in a real SQLite store. Its customers answer a clarifying question
   truthfully (assistant.evaluation.run_case) and rate up a seeded share of the answers that
   are on topic (RATED; the others do not rate), through DialogueManager.feedback.
4. What `assistant kb learn` does: the confirmed messages into the knowledge base.
5. The realistic set again. Then every on-topic answer is rated, learned again (only what is
   new is added), and the realistic set is run a third time.
6. Agents take the conversations whose answer was not on topic, ask for a suggested reply and
   send it when its record has the right intent (DialogueManager.suggest, agent_reply);
   learned again, and the realistic set is run a fourth time.
7. For the conversations whose suggestion was not right, agents answer from the knowledge
   base's nearest record of the right intent, close and save the conversation naming that
   intent (AgentKnowledge.save_resolved, as the console's save dialog does); the realistic set
   is run a fifth time.
With `--wrong-ratings SHARE`, steps 5 to 7 are replaced: customers rate up every on-topic answer
and that share of the others (answers that were not about the question), it is learned and
measured, then a support lead forgets every wrong lesson (assistant.learning.forget, what the
console's "Forget" does) and it is measured again.
No realistic message is learned from: its conversations go to a throw-away store. Writes
benchmarks/results/learning.json. `--learn-from` (one set or more) and `--measure-on` choose other
sets (dev, realistic, fresh: benchmarks/data/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent))

from benchmarks.common import ingest_demo  # noqa: E402

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
RESULTS = Path(__file__).parent / "results"
RATED = (0.25, 1.0)  # shares of the on-topic answers that customers rate up, in turn
FIGURES = ("hit_at_1", "route_accuracy", "on_topic", "answers_scored", "unsure_precision", "unsure_recall",
           "handoff_precision", "handoff_recall", "invented", "clarified")


def with_store(settings: Any, path: Path) -> Any:
    store = settings.store.model_copy(update={"backend": "sqlite", "url": str(path)})
    return settings.model_copy(update={"store": store})


async def evaluate(settings: Any, cases: list, scratch: Path) -> dict[str, Any]:
    """The cases through the dialogue with answers, in a throw-away store: the summary's figures."""
    from assistant.evaluation import TopicJudge, run_case, summarize
    from assistant.runtime import build_runtime

    scratch.unlink(missing_ok=True)
    async with build_runtime(with_store(settings, scratch)) as rt:
        judge = TopicJudge(rt.knowledge)
        results = [await run_case(rt.dialogue, rt.store, c, judge=judge) for c in cases]
    summary = summarize(cases, results)
    return {k: summary[k] for k in FIGURES}


async def converse(settings: Any, cases: list, store_path: Path) -> dict[str, bool]:
    """The cases as conversations kept in the store: {case text: its answer was on topic}."""
    from assistant.evaluation import TopicJudge, run_case
    from assistant.runtime import build_runtime

    async with build_runtime(with_store(settings, store_path)) as rt:
        judge = TopicJudge(rt.knowledge)
        return {c.text: bool((await run_case(rt.dialogue, rt.store, c, judge=judge)).on_topic) for c in cases}


async def every_log(store: Any) -> dict[str, list]:
    """Every stored conversation's events, by conversation id."""
    return await store.events_of([row[0] for row in await store.facts(0.0, time.time() + 1)])


async def rate(settings: Any, store_path: Path, on_topic: dict[str, bool], share: float,
               wrong: float = 0.0) -> int:
    """Customers rate up a seeded share of the on-topic answers (the last answer of each
    conversation), and a `wrong` share of the others (customers who rate up an answer that was
    not about their question); returns how many conversations hold a rating now."""
    from assistant.events import AnswerCompleted, UserMessage
    from assistant.runtime import build_runtime

    async with build_runtime(with_store(settings, store_path), load_llm=False) as rt:
        logs = await every_log(rt.store)
        rated = 0
        for cid in sorted(logs):
            log = logs[cid]
            first = next((e.text for e in log if isinstance(e, UserMessage)), "")
            answers = [e for e in log if isinstance(e, AnswerCompleted) and e.grounded and not e.options]
            if not answers or random.Random(first).random() >= (share if on_topic.get(first) else wrong):
                continue
            await rt.dialogue.feedback(cid, answers[-1].message_id, "up")
            rated += 1
    return rated


async def agents_answer(settings: Any, store_path: Path, cases: list, on_topic: dict[str, bool],
                        *, save: bool) -> dict[str, int]:
    """An agent takes each conversation the assistant did not answer on topic (in-scope questions
    of one message) and asks for a suggested reply: sent when its record has the question's
    intent (an agent who reads it and agrees). With `save`, when it has not, the agent answers
    with the resolution of the knowledge base's nearest record of the right intent (what the
    console's search gives), closes the conversation and saves it naming that intent."""
    from assistant.events import AgentMessage, Suggestion, UserMessage
    from assistant.runtime import build_runtime

    expected = {c.text: c.expect_intent for c in cases
                if c.expect_route in ("", "answer") and c.expect_intent
                and c.expect_intent not in settings.dialogue.handoff_intents}
    counts = {"suggestions_sent": 0, "saved_with_intent": 0}
    async with build_runtime(with_store(settings, store_path)) as rt:
        logs = await every_log(rt.store)
        for cid in sorted(logs):
            said = [e.text for e in logs[cid] if isinstance(e, UserMessage)]
            answered = any(isinstance(e, AgentMessage) for e in logs[cid])  # by the pass before
            if len(said) != 1 or said[0] not in expected or on_topic.get(said[0]) or answered:
                continue
            intent = expected[said[0]]
            if (await rt.store.get(cid)).state != "human":  # the pass before may have taken it
                await rt.dialogue.request_handoff(cid, "customer_request")
                await rt.dialogue.take_over(cid, "dana")
            drafts = [e async for e in rt.dialogue.suggest(cid) if isinstance(e, Suggestion)]
            draft = drafts[0] if drafts and not drafts[0].internal and drafts[0].sources else None
            if draft is not None and draft.sources[0].intent == intent:
                await rt.dialogue.agent_reply(cid, "dana", draft.text)
                counts["suggestions_sent"] += 1
            elif save:
                found = await asyncio.to_thread(rt.knowledge.search, said[0], 1, filters={"intent": intent})
                if found:
                    await rt.dialogue.agent_reply(cid, "dana", found[0].text)
                    await rt.dialogue.close(cid, "dana")
                    await rt.agent_knowledge.save_resolved(cid, said[0], found[0].text, agent="dana",
                                                           intent=intent)
                    counts["saved_with_intent"] += 1
    return counts


async def learn(settings: Any, store_path: Path) -> dict[str, Any]:
    """What `assistant kb learn` does, on the stored conversations."""
    from assistant.learning import learned_from, learned_records
    from assistant.runtime import build_runtime
    from knowledge.redact import Redactor

    async with build_runtime(with_store(settings, store_path), load_llm=False) as rt:
        found = await learned_from(rt.store)
        records, left_out = await asyncio.to_thread(
            learned_records, found, rt.knowledge, Redactor(settings.knowledge.redact_patterns),
            exclude=settings.dialogue.handoff_intents)
        report = await asyncio.to_thread(rt.knowledge.add_records, records)
    by_signal = {s: sum(f.signal == s for f in found) for s in ("chose", "rated", "agent")}
    return {"confirmed": len(found), **by_signal, "records": len(records), "left_out": len(left_out),
            "added": report.added}


async def review(settings: Any, store_path: Path, cases: list) -> dict[str, int]:
    """A support lead reads the lessons and forgets each one whose intent is not the one its
    customer meant (`kb learn --forget ID`, the console's "Forget"): a reader who is never wrong."""
    from assistant.learning import LEARNED_SOURCE, forget, learned_from, record_id
    from assistant.runtime import build_runtime

    meant = {c.text: c.expect_intent for c in cases}
    async with build_runtime(with_store(settings, store_path), load_llm=False) as rt:
        stored = {r.id: r.intent for r in await asyncio.to_thread(rt.knowledge.records, LEARNED_SOURCE)}
        lessons = {record_id(f.message_id): f.text for f in await learned_from(rt.store)}
        wrong = [rid for rid, text in lessons.items() if rid in stored and meant.get(text) != stored[rid]]
        forgotten = await asyncio.to_thread(forget, rt.knowledge, wrong)
    return {"lessons": len(stored), "forgotten": len(forgotten)}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from assistant.evaluation import load_cases
    from assistant.settings import load_settings

    measured = load_cases(DATA / f"{args.measure_on}.jsonl")
    learned_from = [case for name in args.learn_from for case in load_cases(DATA / f"{name}.jsonl")]
    out: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpu": platform.processor()},
                           "measured_on": args.measure_on, "cases": len(measured),
                           "learned_from": args.learn_from, "conversations": len(learned_from), "runs": []}
    with tempfile.TemporaryDirectory(prefix="learning-") as tmp:
        data_dir = Path(tmp)
        ingest_demo(data_dir)
        settings = load_settings(ROOT / "config.toml", data_dir=data_dir)
        scratch, store_path = data_dir / "eval.db", data_dir / "conversations.db"
        out["runs"].append({"rated_share": 0.0, **await evaluate(settings, measured, scratch)})
        print("before:", out["runs"][-1], file=sys.stderr, flush=True)
        on_topic = await converse(settings, learned_from, store_path)
        out["conversations_on_topic"] = sum(on_topic.values())
        if args.wrong_ratings:  # every on-topic answer rated up, and a share of the others too
            rated = await rate(settings, store_path, on_topic, 1.0, wrong=args.wrong_ratings)
            learned = await learn(settings, store_path)
            out["runs"].append({"rated_share": 1.0, "wrong_share": args.wrong_ratings, "rated": rated,
                                **learned, **await evaluate(settings, measured, scratch)})
            print("after wrong ratings:", out["runs"][-1], file=sys.stderr, flush=True)
            reviewed = await review(settings, store_path, learned_from)
            out["runs"].append({"rated_share": 1.0, "wrong_share": args.wrong_ratings, "reviewed": reviewed,
                                **await evaluate(settings, measured, scratch)})
            print("after review:", out["runs"][-1], file=sys.stderr, flush=True)
            return out
        for share in RATED:
            rated = await rate(settings, store_path, on_topic, share)
            learned = await learn(settings, store_path)
            out["runs"].append({"rated_share": share, "rated": rated, **learned,
                                **await evaluate(settings, measured, scratch)})
            print(f"after {share:.0%}:", out["runs"][-1], file=sys.stderr, flush=True)
        for save in (False, True):  # agents send right suggestions; then they also save the rest
            agents = await agents_answer(settings, store_path, learned_from, on_topic, save=save)
            learned = await learn(settings, store_path)
            out["runs"].append({"rated_share": 1.0, **agents, **learned,
                                **await evaluate(settings, measured, scratch)})
            print(f"after agents (save {save}):", out["runs"][-1], file=sys.stderr, flush=True)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sets = ("dev", "realistic", "fresh")
    parser.add_argument("--learn-from", nargs="+", default=["dev"], choices=sets,
                        help="the sets whose messages become conversations")
    parser.add_argument("--measure-on", default="realistic", choices=sets)
    parser.add_argument("--out", default="learning.json", help="file name under benchmarks/results/")
    parser.add_argument("--wrong-ratings", type=float, default=0.0, metavar="SHARE",
                        help="instead of the usual passes: customers rate up every on-topic answer and this "
                             "share of the others; learned; then a support lead forgets the wrong lessons")
    arguments = parser.parse_args()
    if arguments.measure_on in arguments.learn_from:
        parser.error("learn from one set and measure on the other")
    figures = asyncio.run(main(arguments))
    (RESULTS / arguments.out).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=2))
