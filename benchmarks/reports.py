"""How long a 30-day report takes over 100,000 conversations (about 2 million events).

Synthetic conversations spread over 30 days, shaped like the dialogue writes them:

- each turn is a customer message, then an answer streamed in deltas;
- some answers are rated;
- about one conversation in seven is handed to a person, who replies;
- some are closed;
- some are "unsure" turns whose questions become knowledge gaps.

They are loaded straight into each store's tables, since the load is not what is
measured. Then three reports are timed:

- **first**: every conversation is folded into its facts, and its gap questions
  are embedded;
- **warm**: only the stored facts are read;
- **after 1% new events**: those conversations are refolded.

Usage:

    python benchmarks/reports.py [--conversations N] [--stores sqlite,postgres]

Writes benchmarks/results/reports.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.events import (  # noqa: E402
    AgentMessage,
    AnswerCompleted,
    AnswerDelta,
    AnswerStarted,
    Event,
    Feedback,
    StatusChanged,
    UserMessage,
)
from assistant.reports import report  # noqa: E402
from assistant.store import common  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "reports.json"
QUESTIONS = ["do you ship to mars", "is there a student discount", "can I pay with gold coins",
             "do you sell gift wrap", "can I collect my parcel at night"]


def synthetic(n: int, now: float, seed: int = 7) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(conversation rows, event rows) in the stores' column order."""
    rng = random.Random(seed)
    conversations, events = [], []
    for _ in range(n):
        cid = uuid.uuid4().hex
        t = now - rng.uniform(0, 30 * 86400)
        created = t
        log: list[Event] = []
        state = "bot"
        for turn in range(rng.choice((1, 1, 2, 3))):
            unsure = rng.random() < 0.08
            order = rng.randint(1, 99999)
            text = f"{rng.choice(QUESTIONS)} {turn}" if unsure else f"where is my order {order}"
            log.append(UserMessage(conversation_id=cid, message_id=uuid.uuid4().hex, text=text, at=t))
            mid = uuid.uuid4().hex
            t += rng.uniform(0.3, 3.0)
            log.append(AnswerStarted(conversation_id=cid, message_id=mid, at=t))
            log += [AnswerDelta(conversation_id=cid, message_id=mid, text="word " * 5, at=t + i * 0.05)
                    for i in range(rng.randint(4, 12))]
            log.append(AnswerCompleted(conversation_id=cid, message_id=mid, text="An answer.",
                                       grounded=not unsure, at=t + 0.5))
            t += rng.uniform(5, 120)
            if rng.random() < 0.3:
                log.append(Feedback(conversation_id=cid, message_id=mid, at=t,
                                    rating="up" if rng.random() < 0.75 else "down"))
        if rng.random() < 0.15:
            state = "waiting_human"
            reason = rng.choice(("customer_request", "customer_request", "low_confidence"))
            log.append(StatusChanged(conversation_id=cid, state="waiting_human", at=t, reason=reason))
            if rng.random() < 0.8:
                t += rng.uniform(10, 900)
                state = "human"
                log.append(StatusChanged(conversation_id=cid, state="human", reason="agent", agent="ana",
                                         at=t))
                log.append(AgentMessage(conversation_id=cid, message_id=uuid.uuid4().hex, text="Hi",
                                        agent="ana", at=t + 1))
        if rng.random() < 0.4:
            state = "closed"
            log.append(StatusChanged(conversation_id=cid, state="closed", reason="closed", at=t + 2))
        for seq, e in enumerate(log, 1):
            type_, payload = common.encode(e)
            events.append((cid, seq, type_, payload, e.at))
        conversations.append((cid, uuid.uuid4().hex, state, len(log), created, log[-1].at, "", "default",
                              "", "", 0.0))
    return conversations, events


async def load_sqlite(path: Path, conversations: list[Any], events: list[Any]) -> Any:
    from assistant.store.sqlite import SQLiteStore

    store = SQLiteStore(path, synchronous="normal")
    await store.open()
    import sqlite3

    conn = sqlite3.connect(path)
    conn.executemany(f"INSERT INTO conversations VALUES ({', '.join('?' * 11)})", conversations)
    conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", events)
    conn.commit()
    conn.close()
    return store


async def load_postgres(url: str, schema: str, conversations: list[Any], events: list[Any]) -> Any:
    import asyncpg

    from assistant.store.postgres import PostgresStore

    store = PostgresStore(url, schema=schema, pool_size=2)
    await store.open()
    conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    await conn.copy_records_to_table("conversations", records=conversations)
    await conn.copy_records_to_table("events", records=[(c, s, t, p, a) for c, s, t, p, a in events])
    await conn.close()
    return store


async def measure(store: Any, ids: list[str], embed: Any, now: float) -> dict[str, float]:
    out: dict[str, float] = {}
    t = time.perf_counter()
    first = await report(store, days=30, embed=embed, now=now)
    out["first_report_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    warm = await report(store, days=30, embed=embed, now=now)
    out["warm_report_s"] = round(time.perf_counter() - t, 3)
    assert warm["totals"] == first["totals"]
    changed = ids[:: 100]
    for cid in changed:
        info = await store.get(cid)
        await store.append(Feedback(conversation_id=cid, message_id="x", rating="up", at=info.updated_at + 1))
    t = time.perf_counter()
    again = await report(store, days=30, embed=embed, now=now)
    out["report_after_1pct_new_events_s"] = round(time.perf_counter() - t, 3)
    out["conversations_counted"] = again["totals"]["conversations"]
    out["gaps"] = len(again["gaps"])
    out["resolution_rate"] = again["totals"]["resolution_rate"]
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    from knowledge.config import EmbeddingConfig
    from knowledge.embeddings import Embedder

    embed = Embedder(EmbeddingConfig()).embed
    now = time.time()
    t = time.perf_counter()
    conversations, events = synthetic(args.conversations, now)
    print(f"generated {len(conversations)} conversations, {len(events)} events"
          f" in {time.perf_counter() - t:.0f} s", flush=True)
    ids = [c[0] for c in conversations]
    results: dict[str, Any] = {"conversations": len(conversations), "events": len(events), "days": 30,
                               "machine": "2 cores (Xeon), no GPU", "target_warm_report_s": 2.0}
    for name in args.stores.split(","):
        t = time.perf_counter()
        if name == "sqlite":
            tmp = tempfile.mkdtemp()
            store = await load_sqlite(Path(tmp) / "conversations.db", conversations, events)
        else:
            schema = f"bench_reports_{uuid.uuid4().hex[:8]}"
            try:
                store = await load_postgres(args.pg_url, schema, conversations, events)
            except OSError as exc:
                print(f"postgres: skipped ({exc})")
                continue
        load_s = round(time.perf_counter() - t, 1)
        print(f"{name}: loaded in {load_s} s", flush=True)
        figures = await measure(store, ids, embed, now)
        await store.close()
        if name == "postgres":
            import asyncpg

            conn = await asyncpg.connect(args.pg_url)
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            await conn.close()
        results[name] = {"load_s": load_s, **figures}
        print(name, json.dumps(results[name]), flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    asyncio.run(main())
