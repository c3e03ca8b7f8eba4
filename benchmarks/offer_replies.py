"""Replies to the assistant's offer of a person ("Shall I connect you with a person?"), read
through the service's dialogue: before and after they were read as the answer to that offer.

    .venv/bin/python benchmarks/offer_replies.py [--baseline TREE --baseline-label LABEL]

Each case of benchmarks/data/offer_replies.jsonl and offer_replies_2.jsonl (written for this by
other hands than the rule's, 30 of each kind in each) is a fresh conversation against the demo
history: the customer's question that the history does not answer (the assistant answers
"unsure" and offers a person), then their reply. What the reply led to:

  handoff       the conversation went to a person (and why: customer_request, low_confidence)
  acknowledged  the assistant answered `dialogue.declined_answer`
  answered      an answer from the history
  unsure        the "I don't have information" answer again
  clarified     a clarifying question ("is your question about ...?"); a question that gets one
                instead of the offer is not counted

Right, by kind:
  accept           handed over
  decline          not handed over, acknowledged
  decline_and_ask  not handed over, the new question answered from the history
  other            not read as an answer to the offer: neither acknowledged nor handed over
                   because of "accepted the offer" (a low-confidence handoff or an answer is fine)

`--baseline TREE` runs the same cases with the code and config.toml of another checkout (e.g. a
git worktree of the commit before the change), in a subprocess, against the same knowledge base. Writes
benchmarks/results/offer_replies.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent
# The first set was read to revise the rule once (its misses showed "no thnks", "forget about it",
# "no, but how do I ...?"); the second, written afterwards by another hand, is held out.
SETS = {"seen": Path(__file__).parent / "data" / "offer_replies.jsonl",
        "held_out": Path(__file__).parent / "data" / "offer_replies_2.jsonl"}
RESULTS = Path(__file__).parent / "results" / "offer_replies.json"


def outcome(events: list[Any], declined_answer: str) -> str:
    last = events[-1] if events else None
    if last is None:
        return "nothing"
    if last.type == "status" and last.state == "waiting_human":
        return f"handoff:{'offer' if last.detail.startswith('accepted the offer') else last.reason}"
    if last.type == "answer":
        if getattr(last, "options", ()):  # asked which question was meant: no offer of a person
            return "clarified"
        if last.text == declined_answer:
            return "acknowledged"
        return "answered" if last.grounded else "unsure"
    return last.type


def right(kind: str, result: str) -> bool:
    if kind == "accept":
        return result.startswith("handoff")
    if kind == "decline":
        return result == "acknowledged"
    if kind == "decline_and_ask":
        return result == "answered"
    return result not in ("acknowledged", "handoff:offer")  # other


async def run_cases(data_dir: Path, cases: list[dict]) -> list[dict]:
    """The cases through this checkout's dialogue (default configuration, the given data dir)."""
    from assistant.events import UserMessage
    from assistant.runtime import build_runtime
    from assistant.settings import load_settings

    # The checkout's own configuration (its code may not know a later key).
    settings = load_settings(Path.cwd() / "config.toml").model_copy(update={"data_dir": data_dir})
    declined = getattr(settings.dialogue, "declined_answer", "")  # the code before the change has none
    rows = []
    async with build_runtime(settings) as rt:
        for case in cases:
            cid = (await rt.dialogue.new_conversation(inbox="bench")).id
            turns = []
            for text in (case["question"], case["reply"]):
                message = UserMessage(conversation_id=cid, text=text)
                turns.append([e async for e in rt.dialogue.handle(message)])
            offered = outcome(turns[0], declined) == "unsure"
            result = outcome(turns[1], declined)
            rows.append({"id": case["id"], "set": case["set"], "kind": case["expect"], "offered": offered,
                         "outcome": result, "right": right(case["expect"], result)})
    return rows


def figures(rows: list[dict]) -> dict[str, Any]:
    offered = [r for r in rows if r["offered"]]  # the question did get the offer
    by_kind: dict[str, Any] = {}
    for kind in ("accept", "decline", "decline_and_ask", "other"):
        mine = [r for r in offered if r["kind"] == kind]
        share = sum(r["right"] for r in mine) / max(1, len(mine))
        by_kind[kind] = {"cases": len(mine), "right": round(share, 3),
                         "outcomes": dict(Counter(r["outcome"] for r in mine))}
    return {"cases": len(rows), "offered": len(offered),
            "right": round(sum(r["right"] for r in offered) / max(1, len(offered)), 3), "by_kind": by_kind}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout to run the cases with")
    parser.add_argument("--baseline-label", default="before")
    parser.add_argument("--data-dir", type=Path, default=None, help="a data dir holding the demo history")
    parser.add_argument("--only", action="store_true", help=argparse.SUPPRESS)  # run cases, print rows
    args = parser.parse_args()
    cases = [{**json.loads(line), "set": name} for name, path in SETS.items()
             for line in path.read_text().splitlines() if line.strip()]
    if args.only:
        print(json.dumps(asyncio.run(run_cases(args.data_dir, cases))))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        if args.data_dir is None:
            # here, not at the top: a baseline checkout runs this file with its own benchmarks package
            sys.path.insert(0, str(ROOT))
            from benchmarks.common import ingest_demo

            print("ingesting the demo history ...", file=sys.stderr)
            ingest_demo(data_dir)
        runs: dict[str, Any] = {}
        trees = [(args.baseline_label, args.baseline)] if args.baseline else []
        for label, tree in [*trees, ("after", ROOT)]:
            started = time.perf_counter()
            env = {**os.environ, "PYTHONPATH": str(tree)}
            out = subprocess.run([sys.executable, __file__, "--only", "--data-dir", str(data_dir)],
                                 check=True, cwd=tree, env=env, capture_output=True, text=True).stdout
            rows = json.loads(out.strip().splitlines()[-1])
            runs[label] = {**{name: figures([r for r in rows if r["set"] == name]) for name in SETS},
                           "seconds": round(time.perf_counter() - started, 1), "rows": rows}
            print(label, json.dumps({k: v for k, v in runs[label].items() if k != "rows"}), file=sys.stderr)
    RESULTS.write_text(json.dumps({"machine": platform.machine(), "cpus": os.cpu_count(),
                                   "data": {name: str(path.relative_to(ROOT)) for name, path in SETS.items()},
                                   "runs": runs}, indent=2) + "\n")
    print(json.dumps({label: {k: v for k, v in run.items() if k != "rows"} for label, run in runs.items()},
                     indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
