"""`assistant kb learn`: customers' own words for the history's intents, from the conversations
(assistant.learning; docs/understanding.md, "Learning from the conversations").

Exit codes: 0 all good, 2 a fatal error.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.learning import Learned
    from assistant.settings import Settings
    from knowledge.base import KnowledgeBase
    from knowledge.records import Record

DAY = 86400.0


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "learn", parents=[common], help="learn customers' own words from the conversations",
        description="Add to the knowledge base, as records of source 'learned', the customers' messages "
                    "whose intent their conversation confirmed: they chose it when the assistant asked "
                    "which question they meant, they rated its answer up, or an agent sent the suggested "
                    "reply. Re-running adds only what is new.")
    p.add_argument("--days", type=int, default=None, metavar="N",
                   help="only conversations started in the last N days (default: all)")
    p.add_argument("--dry-run", action="store_true", help="list what would be learned; change nothing")
    p.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    p.add_argument("--forget", nargs="*", default=None, metavar="ID",
                   help="delete every learned record instead; or, given ids (as listed), only those, "
                        "and never learn them again")
    p.set_defaults(handler=cmd_learn)


def cmd_learn(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.errors import ConfigError
    from assistant.learning import LEARNED_PREFIX, LEARNED_SOURCE, learned_from, learned_records
    from channels.cli.agents import with_store
    from channels.cli.kb import Progress, open_kb
    from knowledge.redact import Redactor

    if args.days is not None and not 1 <= args.days <= 3660:
        raise ConfigError("--days must be between 1 and 3660.")
    if args.forget and (wrong := [i for i in args.forget if not i.startswith(LEARNED_PREFIX)]):
        raise ConfigError(f"--forget takes the ids of learned records ({LEARNED_PREFIX}..., as `kb learn "
                          f"--dry-run` lists them), not {', '.join(wrong)}.")
    with open_kb(settings) as kb:
        if args.forget == []:
            removed = (kb.stats()["by_source"].get(LEARNED_SOURCE, 0) if args.dry_run
                       else kb.remove_source(LEARNED_SOURCE))
            verb = "would forget" if args.dry_run else "forgot"
            print(json.dumps({"forgotten": removed, "dry_run": args.dry_run}) if args.json
                  else f"{verb} {removed} learned records")
            return 0
        if args.forget:
            _forget(kb, args.forget, dry_run=args.dry_run, as_json=args.json)
            return 0
        since = 0.0 if args.days is None else time.time() - args.days * DAY

        async def job(store: Any) -> list[Learned]:
            with Progress("reading conversations", "conversations") as progress:
                return await learned_from(store, since, progress=progress)

        found = with_store(settings, job)
        with Progress("matching", "messages") as progress:  # each with its intent's nearest record
            records, left_out = learned_records(found, kb, Redactor(settings.knowledge.redact_patterns),
                                                exclude=settings.dialogue.handoff_intents, progress=progress)
        report = None
        if records and not args.dry_run:
            with Progress("learn") as progress:
                report = kb.add_records(records, progress=progress)
    _print(found, records, left_out, report.summary() if report else "", as_json=args.json)
    return 0


def _forget(kb: KnowledgeBase, ids: list[str], *, dry_run: bool, as_json: bool) -> None:
    """Take some learned records out, and keep them out of every later `kb learn`."""
    from assistant.learning import forget

    ids = list(dict.fromkeys(ids))
    stored = kb.stored(ids) if dry_run else set(forget(kb, ids))
    if as_json:
        print(json.dumps({"forgotten": len(stored), "ids": ids, "dry_run": dry_run}))
        return
    for i in ids:
        print(f"{i}  {'stored' if i in stored else 'not stored: it will not be learned'}")
    print(f"{'would forget' if dry_run else 'forgot'} {len(stored)} learned records; "
          f"{'they would' if dry_run else 'these ids will'} not be learned again")


def _print(found: list[Learned], records: list[Record], left_out: list[Learned], summary: str, *,
           as_json: bool) -> None:
    from assistant.learning import tag

    signals = {s: sum(1 for f in found if f.signal == s) for s in ("chose", "rated", "agent")}
    if as_json:
        print(json.dumps({"confirmed": len(found), "by_signal": signals, "learned": len(records),
                          "left_out": len(left_out), "ingest": summary,
                          "records": [{"id": r.id, "request": r.request, "intent": r.intent,
                                       "signal": tag(r, "learned")} for r in records]},
                         ensure_ascii=False))
        return
    for r in records:
        print(f"{r.id}  {r.intent:<28} {r.request[:100]}")
    print(f"{len(found)} messages confirmed (chose {signals['chose']}, rated up {signals['rated']}, "
          f"agent sent the suggestion {signals['agent']}); "
          f"{len(records)} to learn, {len(left_out)} left out"
          + (f"; {summary}" if summary else " (nothing stored)"))
