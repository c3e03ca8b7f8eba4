"""`assistant kb`: ingest support records, search them, learn from the conversations (channels.cli.learn),
show stats, delete the collection.

Exit codes: 0 all good, 1 some rows skipped (ingest), 2 a fatal error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.settings import Settings
    from knowledge.base import KnowledgeBase
    from knowledge.config import ColumnMapping
    from knowledge.records import Hit

STDIN_BATCH = 32  # queries embedded together when reading them from stdin


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    kb = subparsers.add_parser("kb", parents=[common], help="the knowledge base of resolved support records",
                               description="Import, search and inspect the knowledge base.")
    sub = kb.add_subparsers(dest="kb_command", metavar="COMMAND", required=True)

    p = sub.add_parser("ingest", parents=[common], help="import support records from files",
                       description="Import records; unchanged records are skipped, so re-running is cheap.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="CSV, JSONL, JSON, Markdown … files")
    from knowledge.importers.sniff import FORMATS  # a tuple of names: cheap to import

    p.add_argument("--format", metavar="F", default=None, choices=FORMATS,
                   help=f"one of {', '.join(FORMATS)} (default: sniffed per file)")
    p.add_argument("--prune", action="store_true",
                   help="delete stored records of these sources that the files no longer contain")
    p.add_argument("--map", action="extend", nargs="+", default=[], metavar="FIELD=COLUMN",
                   help="column of a record field for csv/jsonl, e.g. --map request=question id=ticket_id")
    p.add_argument("--audience", default=None, choices=("customer", "internal"),
                   help="who may read these records: internal ones (procedures, guidelines) serve agents "
                        "only, never quoted to a customer (default: what the file says, else customer)")
    p.set_defaults(handler=cmd_ingest)

    p = sub.add_parser("search", parents=[common], help="find the records nearest to a query",
                       description="Search by meaning. QUERY '-' reads one query per line from stdin.")
    p.add_argument("query", metavar="QUERY", help="what a customer might ask, or - for stdin")
    p.add_argument("-k", type=int, default=None, metavar="N", help="hits per query (default: default_k)")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a readable list")
    for key in ("category", "product", "source", "intent", "kind", "audience"):
        p.add_argument(f"--{key}", default=None, metavar=key[0].upper(), help=f"only records of this {key}")
    p.set_defaults(handler=cmd_search)

    from channels.cli.learn import add_parser

    add_parser(sub, common)

    p = sub.add_parser("stats", parents=[common], help="count records by source, category and kind")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=cmd_stats)

    p = sub.add_parser("delete", parents=[common], help="drop the whole collection")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=cmd_delete)


def open_kb(settings: Settings) -> KnowledgeBase:
    from knowledge.base import KnowledgeBase

    return KnowledgeBase(settings.knowledge, settings.data_dir, settings.company,
                         settings.dialogue.intent_labels, settings.dialogue.intent_examples)


def parse_mapping(pairs: list[str], base: ColumnMapping) -> ColumnMapping:
    from knowledge.errors import RecordError

    fields = type(base).model_fields
    updates: dict[str, str] = {}
    for pair in pairs:
        name, sep, column = pair.partition("=")
        if not sep or name not in fields:
            raise RecordError(f"--map {pair!r}: expected FIELD=COLUMN with FIELD one of {', '.join(fields)}")
        updates[name] = column
    return base.model_copy(update=updates)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    mapping = parse_mapping(args.map, settings.knowledge.mapping)
    with open_kb(settings) as kb, Progress() as progress:
        report = kb.ingest(args.paths, format=args.format, mapping=mapping, prune=args.prune,
                           audience=args.audience, progress=progress)
    for problem in report.problems:
        print(problem, file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{report.summary()} ({report.seconds:.1f} s)")
    return 1 if report.skipped else 0


class Progress:
    """A tqdm bar on a terminal; otherwise a plain line at most every few seconds."""

    def __init__(self, desc: str = "ingest", unit: str = "records", every: float = 5.0) -> None:
        self.desc, self.unit = desc, unit
        self.every = every
        self.bar: Any = None
        self.last = 0.0

    def __enter__(self) -> Callable[[int, int], None]:
        return self.update

    def update(self, done: int, total: int) -> None:
        if sys.stderr.isatty():
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit=self.unit, desc=self.desc, file=sys.stderr)
            self.bar.update(done - self.bar.n)
            return
        now = time.monotonic()
        if done in (0, total) or now - self.last >= self.every:
            self.last = now
            print(f"{self.desc}: {done}/{total} {self.unit}", file=sys.stderr, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    filters = {key: getattr(args, key) for key in ("category", "product", "source", "intent", "kind",
                                                   "audience")}
    with open_kb(settings) as kb:  # an operator's search: internal records too (--audience to narrow)
        if args.query != "-":
            hits = kb.search(args.query, args.k, filters=filters, audience="any")
            _print_hits(hits, args.json)
            return 0
        for batch in _batches(line.strip() for line in sys.stdin):
            found = kb.search_many(batch, args.k, filters, audience="any")
            for query, hits in zip(batch, found, strict=True):
                if args.json:
                    print(json.dumps({"query": query, "hits": [h.to_json() for h in hits]},
                                     ensure_ascii=False), flush=True)
                else:
                    print(f"> {query}")
                    _print_hits(hits, False)
    return 0


def _batches(lines: Iterator[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for line in lines:
        if line:
            batch.append(line)
        if len(batch) >= STDIN_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _print_hits(hits: list[Hit], as_json: bool) -> None:
    if not hits and not as_json:
        print("no matching records", file=sys.stderr)
    for hit in hits:
        if as_json:
            print(json.dumps(hit.to_json(), ensure_ascii=False))
            continue
        first = hit.text.strip().splitlines()[0] if hit.text.strip() else ""
        label = hit.record.intent or hit.record.kind
        internal = " (internal)" if hit.record.audience == "internal" else ""
        print(f"{hit.score:.3f}  {hit.id}  [{label}]{internal}  {first[:100]}")
    sys.stdout.flush()


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    with open_kb(settings) as kb:
        stats = kb.stats()
    if args.json:
        print(json.dumps(stats, ensure_ascii=False))
        return 0
    print(f"records: {stats['count']}")
    print(f"embedding model: {stats['embedding_model']}")
    chroma = stats["chroma"]
    print(f"chroma: {chroma['mode']} {chroma['location']} (collection {chroma['collection']})")
    for key in ("by_source", "by_category", "by_kind", "by_audience"):
        if stats[key]:
            print(f"{key.replace('_', ' ')}:")
            for name, count in stats[key].items():
                print(f"  {count:>8}  {name or '(none)'}")
    return 0


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    name = settings.knowledge.chroma.collection
    if not args.yes:
        if not sys.stdin.isatty():
            print("error: refusing to delete without --yes (stdin is not a terminal)", file=sys.stderr)
            return 2
        answer = input(f"Delete every record in collection '{name}'? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 0
    with open_kb(settings) as kb:
        count = kb.delete()
    print(f"deleted {count} records from collection '{name}'")
    return 0
