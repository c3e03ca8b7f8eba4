"""Appends per second of the conversation stores, written to benchmarks/results/store.json.

    .venv/bin/python benchmarks/store.py [--n 400] [--pg postgresql://postgres@127.0.0.1:5432/test]

Measures one-event appends (each durable on return, as a client waits for it),
batches of 10 (append_many: an answer's deltas), 8 tasks appending to one
conversation at once, and 100 conversations appending at once (a busy worker:
the SQLite store commits the appends waiting together in one transaction).
SQLite runs with synchronous FULL and NORMAL (WAL both). PostgreSQL uses a
throw-away schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from assistant.events import AnswerDelta, Note
from assistant.store.postgres import PostgresStore
from assistant.store.sqlite import SQLiteStore

RESULTS = Path(__file__).parent / "results" / "store.json"


async def measure(store: Any, n: int) -> dict[str, float]:
    await store.open()
    try:
        conv = await store.create()
        start = time.perf_counter()
        for i in range(n):
            await store.append(Note(conversation_id=conv.id, text=f"note {i}"))
        single = n / (time.perf_counter() - start)

        start = time.perf_counter()
        for i in range(n // 10):
            await store.append_many([AnswerDelta(conversation_id=conv.id, message_id="a", text=f"t{i}.{j}")
                                     for j in range(10)])
        batched = (n // 10 * 10) / (time.perf_counter() - start)

        conv = await store.create()
        start = time.perf_counter()
        await asyncio.gather(*(_appender(store, conv.id, n // 8) for _ in range(8)))
        concurrent = (n // 8 * 8) / (time.perf_counter() - start)
        assert (await store.get(conv.id)).last_seq == n // 8 * 8

        convs = [await store.create() for _ in range(100)]
        each = max(n // 100, 10)
        start = time.perf_counter()
        await asyncio.gather(*(_appender(store, c.id, each) for c in convs))
        many = 100 * each / (time.perf_counter() - start)
    finally:
        await store.close()
    return {"appends_per_s": round(single, 1), "batched_10_events_per_s": round(batched, 1),
            "8_tasks_appends_per_s": round(concurrent, 1), "100_conversations_appends_per_s": round(many, 1)}


async def _appender(store: Any, cid: str, n: int) -> None:
    for i in range(n):
        await store.append(Note(conversation_id=cid, text=f"{i}"))


async def run(n: int, pg_url: str | None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for sync in ("full", "normal"):
            path = Path(tmp) / f"{sync}.db"
            results[f"sqlite_{sync}"] = await measure(SQLiteStore(path, synchronous=sync), n)  # type: ignore[arg-type]
            print(f"sqlite synchronous={sync}: {results[f'sqlite_{sync}']}", flush=True)
    if pg_url:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        try:
            results["postgres"] = await measure(PostgresStore(pg_url, schema=schema), n)
            print(f"postgres: {results['postgres']}", flush=True)
        finally:
            import asyncpg

            conn = await asyncpg.connect(pg_url)
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="appends per measurement")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="PostgreSQL URL ('' skips PostgreSQL)")
    args = parser.parse_args()
    results = asyncio.run(run(args.n, args.pg or None))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {"n": args.n, "machine": f"{platform.machine()} {platform.system()}",
              "at": time.strftime("%Y-%m-%d %H:%M"), "results": results}
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
