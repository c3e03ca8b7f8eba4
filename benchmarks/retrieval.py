"""Retrieval benchmark: quality, ingest speed and query latency of the knowledge base.

    .venv/bin/python benchmarks/retrieval.py [--quick] [--large N] [--out PATH]

1. A seeded 10% hold-out of the Bitext records, stratified by intent; the other
   90% are ingested through KnowledgeBase.ingest into a fresh temp data dir.
   hit@k = one of the first k hits has the held-out request's intent.
2. Baseline in the same run: plain sentence-transformers fp32 all-MiniLM-L6-v2
   and brute-force cosine (what a straightforward implementation does), and
   the project's embedder without the intent head (rerank_depth = 0).
3. Query latency on a large collection synthesised from the real records by
   recombining training requests of the same intent (--large N, default 100,000),
   and, there and on the 4k collection, for several HNSW search breadths
   (knowledge.chroma.hnsw_ef_search) how often the index returns the nearest record there
   is for customers' own messages (benchmarks/data/realistic.jsonl; against exact search),
   and at what latency; and there, the latency of a search filtered to one intent (what
   follows a customer's choice in answer to a clarifying question).
Figures go to benchmarks/results/retrieval.json and a table on stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import re
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge.base import KnowledgeBase  # noqa: E402
from knowledge.config import KnowledgeConfig  # noqa: E402
from knowledge.records import Record  # noqa: E402

BITEXT = ROOT / "demo" / "bitext" / "records.csv"
SEED = 13


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def split(rows: list[dict[str, str]], share: float = 0.1) -> tuple[list[dict], list[dict]]:
    """Seeded hold-out of `share` of each intent's rows."""
    rng = random.Random(SEED)
    by: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by[row["intent"]].append(i)
    held: set[int] = set()
    for intent in sorted(by):
        ids = by[intent][:]
        rng.shuffle(ids)
        held.update(ids[: max(1, round(len(ids) * share))])
    return [r for i, r in enumerate(rows) if i not in held], [r for i, r in enumerate(rows) if i in held]


def percentiles(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2)}


def hit_rates(ranked: list[list[str]], truth: list[str]) -> dict[str, float]:
    return {"hit@1": round(float(np.mean([r[:1] == [t] for r, t in zip(ranked, truth, strict=True)])), 4),
            "hit@5": round(float(np.mean([t in r[:5] for r, t in zip(ranked, truth, strict=True)])), 4)}


def evaluate(kb: KnowledgeBase, queries: list[str], truth: list[str], *, by_intent: bool = False) -> dict:
    """hit@k and latency; `by_intent`: each search filtered to its query's intent, as after a
    customer chose one in answer to a clarifying question."""
    ranked, ms = [], []
    kb.search(queries[0], 5)  # first call loads the model and the intent head
    for query, intent in zip(queries, truth, strict=True):
        started = time.perf_counter()
        hits = kb.search(query, 5, filters={"intent": intent} if by_intent else None)
        ms.append((time.perf_counter() - started) * 1000)
        ranked.append([h.record.intent for h in hits])
    return {**hit_rates(ranked, truth), **percentiles(ms)}


def project(train_csv: Path, queries: list[str], truth: list[str], work: Path) -> dict:
    kb = KnowledgeBase(KnowledgeConfig(), work / "data")
    started = time.perf_counter()
    report = kb.ingest([train_csv])
    seconds = time.perf_counter() - started
    out: dict = {"ingest_records": report.added, "ingest_seconds": round(seconds, 2),
           "ingest_records_per_s": round(report.added / seconds, 1)}
    started = time.perf_counter()
    again = kb.ingest([train_csv])
    out["reingest_seconds"] = round(time.perf_counter() - started, 2)
    out["reingest_added"] = again.added
    out.update(evaluate(kb, queries, truth))
    plain = KnowledgeBase(KnowledgeConfig(rerank_depth=0), work / "data")
    out["without_intent_head"] = evaluate(plain, queries, truth)
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    kb.close()
    plain.close()
    out["ef_search"] = {ef: ef_search(work / "data", customers_messages(), ef) for ef in EF_SWEEP}
    return out


def baseline(train: list[dict], queries: list[str], truth: list[str]) -> dict:
    """sentence-transformers fp32 with its defaults, then brute-force cosine over a numpy matrix."""
    from sentence_transformers import SentenceTransformer

    from knowledge.embeddings import packaged_minilm_dir

    model = SentenceTransformer(str(packaged_minilm_dir()), device="cpu")
    texts = [r["instruction"] for r in train]
    started = time.perf_counter()
    matrix = model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    seconds = time.perf_counter() - started
    labels = [r["intent"] for r in train]
    ranked, ms = [], []
    for query in queries:
        t = time.perf_counter()
        q = model.encode([query], normalize_embeddings=True, show_progress_bar=False)[0]
        top = np.argsort(-(matrix @ q))[:5]
        ms.append((time.perf_counter() - t) * 1000)
        ranked.append([labels[i] for i in top])
    return {"embed_records_per_s": round(len(texts) / seconds, 1), **hit_rates(ranked, truth),
            **percentiles(ms), "peak_rss_mb": round(peak_rss_mb(), 1)}


def synthesise(rows: list[dict], n: int) -> list[Record]:
    """n records recombined from real ones: the start of one request of an intent + the end of another."""
    rng = random.Random(SEED)
    by: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by[row["intent"]].append(row)
    intents = sorted(by)
    out = []
    for i in range(n):
        intent = intents[i % len(intents)]
        a, b = rng.choice(by[intent]), rng.choice(by[intent])
        wa, wb = a["instruction"].split(), b["instruction"].split()
        words = wa[: rng.randint(1, max(1, len(wa) - 1))] + wb[rng.randint(0, len(wb) - 1):]
        request = re.sub(r"\d", lambda _: str(rng.randint(0, 9)), " ".join(words))  # fresh order numbers
        out.append(Record(id=f"synth:{i}", request=request, resolution=a["response"], intent=intent,
                          category=a["category"], source="synthetic"))
    return out


def large(rows: list[dict], queries: list[str], truth: list[str], n: int, work: Path) -> dict:
    records = synthesise(rows, n)
    kb = KnowledgeBase(KnowledgeConfig(), work / "large")
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 30 or done == total:
            last[0] = time.monotonic()
            print(f"  large: {done}/{total} records", file=sys.stderr, flush=True)

    started = time.perf_counter()
    kb.add_records(records, progress=progress)
    seconds = time.perf_counter() - started
    out: dict = {"records": n, "build_seconds": round(seconds, 1),
                 "build_records_per_s": round(n / seconds, 1)}
    sample = list(zip(queries, truth, strict=True))[:200]
    figures = evaluate(kb, [q for q, _ in sample], [t for _, t in sample])
    out.update({key: figures[key] for key in ("p50_ms", "p95_ms")})  # synthetic labels: no quality figure
    filtered = evaluate(kb, [q for q, _ in sample], [t for _, t in sample], by_intent=True)
    out["by_intent"] = {key: filtered[key] for key in ("p50_ms", "p95_ms")}
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    kb.close()
    out["ef_search"] = {ef: ef_search(work / "large", customers_messages(), ef) for ef in EF_SWEEP}
    return out


def customers_messages() -> list[str]:
    """Messages worded as customers word them (benchmarks/data/realistic.jsonl): further from every
    record than the history's own requests, where an approximate index misses the nearest more."""
    with (ROOT / "benchmarks" / "data" / "realistic.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


EF_SWEEP = (64, 128, 256, 512)


def ef_search(data_dir: Path, queries: list[str], ef: int) -> dict:
    """HNSW search breadth against exact search on the same stored vectors: how often the nearest
    record the index returns is the nearest there is (customer records, as a customer's search),
    and what the whole search costs."""
    config = KnowledgeConfig()
    kb = KnowledgeBase(config.model_copy(update={"chroma": config.chroma.model_copy(
        update={"hnsw_ef_search": ef})}), data_dir)
    vectors = kb.embedder.embed([kb.retriever.correct(q) for q in queries])
    stored = [kb.store.collection.get(include=["embeddings", "metadatas"], limit=5000, offset=at)
              for at in range(0, kb.store.collection.count(), 5000)]
    matrix = np.concatenate([np.asarray(page["embeddings"], dtype=np.float32) for page in stored])
    customer = np.array([(m or {}).get("audience", "customer") != "internal"
                         for page in stored for m in page["metadatas"] or []])
    exact = (matrix[customer] @ vectors.T).max(axis=0)
    nearest = [1.0 - row[0][1] for row in kb.store.query(vectors, 1, {}, customer_only=True)]
    found = sum(abs(e - n) < 1e-3 for e, n in zip(exact, nearest, strict=True)) / len(queries)
    timing = evaluate(kb, queries, [""] * len(queries))
    kb.close()
    return {"nearest_found": round(found, 4), "p50_ms": timing["p50_ms"], "p95_ms": timing["p95_ms"]}


def table(results: dict) -> str:
    p, b, w = results["project"], results["baseline"], results["project"]["without_intent_head"]
    lines = [
        f"{'':34} {'baseline (st fp32 + cosine)':>28} {'project':>12}",
        f"{'hit@1':34} {b['hit@1']:>28} {p['hit@1']:>12}",
        f"{'hit@5':34} {b['hit@5']:>28} {p['hit@5']:>12}",
        f"{'ingest / embed records/s':34} {b['embed_records_per_s']:>28} {p['ingest_records_per_s']:>12}",
        f"{'query p50 / p95 ms (4k records)':34} {b['p50_ms']:>15} / {b['p95_ms']:<10} "
        f"{p['p50_ms']:>6} / {p['p95_ms']}",
        f"project without intent head: hit@1 {w['hit@1']}, hit@5 {w['hit@5']}",
        f"re-ingest of the same file: {p['reingest_seconds']} s, added {p['reingest_added']}",
        *ef_lines(p),
    ]
    if results.get("large"):
        g = results["large"]
        lines.append(f"{g['records']:,} records: built in {g['build_seconds']} s "
                     f"({g['build_records_per_s']}/s), query p50 {g['p50_ms']} ms, "
                     f"p95 {g['p95_ms']} ms; filtered to one intent p50 {g['by_intent']['p50_ms']} ms, "
                     f"p95 {g['by_intent']['p95_ms']} ms")
        lines.extend(ef_lines(g))
    lines.append(f"peak RSS {results['peak_rss_mb']} MB")
    return "\n".join(lines)


def ef_lines(figures: dict) -> list[str]:
    return [f"  ef_search {ef}: nearest record found for {f['nearest_found']} of customers' messages, "
            f"query p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms"
            for ef, f in figures.get("ef_search", {}).items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="large collection of 5,000, not 100,000")
    parser.add_argument("--large", type=int, default=None, metavar="N",
                        help="large collection size (0 = skip)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "retrieval.json")
    args = parser.parse_args(argv)
    n_large = args.large if args.large is not None else (5_000 if args.quick else 100_000)

    with BITEXT.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    train, held = split(rows)
    queries, truth = [r["instruction"] for r in held], [r["intent"] for r in held]
    results: dict = {"machine": {"python": platform.python_version(), "cpus": _cpus(),
                                 "load_avg_start": round(os.getloadavg()[0], 2)},
                     "train_records": len(train), "held_out": len(held)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        train_csv = work / "train.csv"
        with train_csv.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(train)
        print(f"project: ingest {len(train)} records, search {len(held)}", file=sys.stderr)
        results["project"] = project(train_csv, queries, truth, work)
        print("baseline: sentence-transformers fp32 + cosine", file=sys.stderr)
        results["baseline"] = baseline(train, queries, truth)
        if n_large:
            print(f"large: {n_large:,} synthesised records", file=sys.stderr)
            results["large"] = large(train, queries, truth, n_large, work)  # held-out rows stay unseen
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    results["machine"]["load_avg_end"] = round(os.getloadavg()[0], 2)  # a busy machine skews every figure
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"written to {args.out}", file=sys.stderr)
    return 0


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)


if __name__ == "__main__":
    sys.exit(main())
