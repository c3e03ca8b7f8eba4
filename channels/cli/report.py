"""`assistant report`: outcomes, figures and knowledge gaps over the last days (docs/reports.md)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "report", parents=[common], help="resolution rate, handoffs, CSAT and knowledge gaps",
        description="Outcomes of the conversations started in the last N days (UTC days, today "
                    "included): a readable table, or one JSON object with --json (the same as "
                    "GET /api/reports). The definitions are in docs/reports.md.")
    p.add_argument("--days", type=int, default=30, metavar="N", help="days to cover (default: 30)")
    p.add_argument("--inbox", default=None, metavar="I", help="only this inbox (default: all)")
    p.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    p.add_argument("--gaps", type=int, default=10, metavar="N", help="knowledge gaps to list (default: 10)")
    p.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.errors import ConfigError
    from assistant.reports import report
    from channels.cli.agents import with_store
    from channels.cli.kb import Progress, open_kb

    if not 1 <= args.days <= 3660:
        raise ConfigError("--days must be between 1 and 3660.")
    kb = open_kb(settings)

    async def job(store: Any) -> dict[str, Any]:
        with Progress("folding conversations", "conversations") as progress:
            return await report(store, days=args.days, inbox=args.inbox, embed=kb.embed,
                                resolved_after=settings.reports.resolved_after,
                                gap_similarity=settings.reports.gap_similarity, gap_limit=args.gaps,
                                progress=progress)

    data = with_store(settings, job)
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(render(data))
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} s" if value < 90 else f"{value / 60:.0f} min"


def render(data: dict[str, Any]) -> str:
    """The report as a terminal reads it: headline figures, one line per day, the top gaps."""
    t = data["totals"]
    r = data["range"]
    csat = t["csat"]
    scope = f"inbox {r['inbox']}" if r["inbox"] else "all inboxes"
    lines = [
        f"Last {r['days']} days, {scope}: {t['conversations']} conversations",
        f"  resolved by the assistant  {_pct(t['resolution_rate'])}"
        f"   ({t['outcomes']['resolved_by_assistant']} of"
        f" {t['conversations'] - t['outcomes']['open'] - t['outcomes']['handed_off']} finished)",
        f"  handed to a person         {_pct(t['handoff_rate'])}   "
        + (", ".join(f"{k} {v}" for k, v in t["handoffs_by_reason"].items()) or "none"),
        "  outcomes                   " + ", ".join(f"{k} {v}" for k, v in t["outcomes"].items() if v)
        + (f", reopened {t['reopened']}" if t["reopened"] else ""),
        f"  CSAT                       assistant {_pct(csat['assistant']['rate'])}"
        f" ({csat['assistant']['up']} up, {csat['assistant']['down']} down),"
        f" agents {_pct(csat['agent']['rate'])} ({csat['agent']['up']} up, {csat['agent']['down']} down)",
        f"  first answer               p50 {_secs(t['first_answer_s']['p50'])},"
        f" p90 {_secs(t['first_answer_s']['p90'])}",
        f"  first agent reply          p50 {_secs(t['first_agent_reply_s']['p50'])},"
        f" p90 {_secs(t['first_agent_reply_s']['p90'])}  (after a handoff)",
        f"  unsure answers             {_pct(t['unsure_rate'])}",
        f"  voice notes / images       {_pct(t['voice_share'])} / {_pct(t['image_share'])}"
        " of customer messages",
        "",
        f"{'day':<11} {'conv':>5} {'resolved':>9} {'handoff':>8} {'csat':>6} {'unsure':>7}",
    ]
    for day in data["days"]:
        if day["conversations"]:
            lines.append(f"{day['day']:<11} {day['conversations']:>5} {_pct(day['resolution_rate']):>9}"
                         f" {_pct(day['handoff_rate']):>8} {_pct(day['csat']['assistant']['rate']):>6}"
                         f" {_pct(day['unsure_rate']):>7}")
    if not any(day["conversations"] for day in data["days"]):
        lines.append("(no conversations in this range)")
    lines += ["", "Knowledge gaps (questions the assistant could not answer well, newest first):"]
    for gap in data["gaps"]:
        why = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in gap["reasons"].items() if v)
        lines.append(f"  {gap['count']:>3} x  {gap['question'][:90]}   [{why}]")
    if not data["gaps"]:
        lines.append("  none")
    return "\n".join(lines)
