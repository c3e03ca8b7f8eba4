"""The clarifying question's decision on a second company's history (BANKING77), whose wording
and intents nothing in assistant.clarify was chosen on.

    .venv/bin/python benchmarks/clarify_banking77.py

Ingests BANKING77's train split (10,003 customer messages, 77 intents, no resolutions), searches
each of its 3,080 test messages as the dialogue does (customer audience, `dialogue.retrieve_k`),
takes the route the dialogue would (unsure below `dialogue.min_score`), looks up the records
of an intent the intent head is sure of that no hit is of (`assistant.clarify.unfound_intent`), asks
`assistant.clarify.clarify_options` with the default configuration (labels: the intent ids).
Reported: how many turns would be asked about, how many of those offer the message's intent,
and what asking does to the answers: wrong answers turned into a question that offers the right
intent, right answers asked again, and "unsure" turns turned into a confirmation of the right
intent. Then asking before what cannot be undone (`assistant.clarify.confirm_options`), with this
history's own such intents (CONFIRM: closing the account, cancelling a transfer) and
`dialogue.confirm_sure`: of the answers those intents' records would give, how many right ones
are asked first and how many wrong ones are no longer read. The handoff classifier and the
sentence search are not run (no request for a person is
in this set; the search by sentence only rescues weak whole messages). Writes
benchmarks/results/clarify_banking77.json.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))
BANKING77 = ROOT.parent / "shared" / "datasets" / "banking77"
RESULTS = Path(__file__).parent / "results" / "clarify_banking77.json"
CONFIRM = ["terminate_account", "cancel_transfer"]  # BANKING77's steps that cannot be undone


def read(split: str) -> list[tuple[str, str]]:
    with (BANKING77 / f"{split}.csv").open(newline="", encoding="utf-8") as f:
        return [(row["text"], row["category"]) for row in csv.DictReader(f)]


def main() -> int:
    from assistant.clarify import clarify_options, confirm_options, unfound_intent
    from assistant.routing import unsure_reason
    from assistant.settings import load_settings
    from knowledge.base import KnowledgeBase
    from knowledge.records import Record

    if not BANKING77.is_dir():
        print(f"BANKING77 is not at {BANKING77}", file=sys.stderr)
        return 1
    train, test = read("train"), read("test")
    d = load_settings(ROOT / "config.toml").dialogue
    outcomes: Counter[str] = Counter()
    looked_up: Counter[str] = Counter()  # intents the head was sure of and the search missed
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(ROOT / "config.toml", data_dir=Path(tmp))
        with KnowledgeBase(settings.knowledge, Path(tmp), settings.company, d.intent_labels) as kb:
            started = time.perf_counter()
            kb.add_records([Record(id=f"b77-{n}", request=text, resolution="", intent=intent,
                                   source="banking77") for n, (text, intent) in enumerate(train)])
            ingest = time.perf_counter() - started
            texts = [text for text, _ in test]  # in batches as the service's (Chroma limits one query's size)
            found = [hits for at in range(0, len(texts), 64) for hits in kb.search_many(texts[at:at + 64],
                                                                                          d.retrieve_k)]
            for n, hits in enumerate(found):  # as the dialogue: an intent the head is sure of, looked up
                missing = ("" if unsure_reason(hits, min_score=d.min_score) not in ("", "weak_match") else
                           unfound_intent(hits, sure=d.clarify_confident, exclude=d.handoff_intents))
                if missing:
                    looked_up[missing] += 1
                    found[n] = [*hits, *kb.search(texts[n], d.retrieve_k, filters={"intent": missing})]
    confirmed: Counter[str] = Counter()
    for (_, intent), hits in zip(test, found, strict=True):
        unsure = unsure_reason(hits, min_score=d.min_score)
        options = clarify_options(hits, unsure, margin=d.clarify_margin, confident=d.clarify_confident,
                                  labels=d.intent_labels, exclude=d.handoff_intents, min_score=d.min_score,
                                  likely=d.clarify_likely, near=d.clarify_near)
        right = bool(hits) and hits[0].record.intent == intent
        offered = intent in {o.intent for o in options}
        if not options and not unsure and hits[0].record.intent in CONFIRM:
            asked = bool(confirm_options(hits, intents=CONFIRM, sure=d.confirm_sure, labels=d.intent_labels))
            confirmed[f"{'right' if right else 'wrong'} answer {'asked first' if asked else 'read'}"] += 1
        if not options:
            outcomes["unsure" if unsure else ("answered right" if right else "answered wrong")] += 1
        elif unsure:
            outcomes["unsure -> asked, right intent offered" if offered
                     else "unsure -> asked, right intent not offered"] += 1
        elif right:
            outcomes["right answer asked again"] += 1
        else:
            outcomes["wrong answer -> asked, right intent offered" if offered
                     else "wrong answer -> asked, right intent not offered"] += 1
    asked = sum(v for k, v in outcomes.items() if "->" in k or "asked again" in k)
    result = {"machine": platform.machine(), "cpus": os.cpu_count(), "train": len(train), "test": len(test),
              "ingest_seconds": round(ingest, 1),
              "settings": {"clarify_margin": d.clarify_margin, "clarify_confident": d.clarify_confident,
                           "clarify_likely": d.clarify_likely, "clarify_near": d.clarify_near,
                           "min_score": d.min_score},
              "asked": asked, "asked_share": round(asked / len(test), 3),
              "looked_up": sum(looked_up.values()),
              "outcomes": dict(outcomes.most_common()),
              "confirm": {"intents": CONFIRM, "confirm_sure": d.confirm_sure,
                          "outcomes": dict(confirmed.most_common())}}
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
