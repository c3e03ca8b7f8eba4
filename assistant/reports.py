"""Outcome reports and knowledge gaps: what a support lead reads every morning.

Everything here is a fold over the event log. `fold` reads one conversation's
log into `Facts` (when it was answered, handed over and why, how answers were
rated, which questions the assistant could not answer); the store keeps them in
a derived table, refolded only for conversations that have new events since, so
a report over months of history reads one row per conversation, not every event
(`benchmarks/reports.py`). `outcome` decides, at report time, what became of a
conversation; `report` turns the facts of a time range into daily figures and
groups the unanswered questions by meaning (`gaps`). docs/reports.md defines
every figure; its words are the product's vocabulary for outcomes.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from assistant.clarify import read_choice
from assistant.events import (
    AgentMessage,
    AnswerCompleted,
    Event,
    Feedback,
    ImageText,
    Option,
    StatusChanged,
    UserMessage,
    VoiceTranscript,
)
from assistant.store.base import ConversationStore
from assistant.store.common import FACT_COLUMNS

Outcome = Literal["resolved_by_assistant", "resolved_by_agent", "handed_off", "abandoned", "unresolved",
                  "open"]
OUTCOMES: tuple[Outcome, ...] = ("resolved_by_assistant", "resolved_by_agent", "handed_off", "abandoned",
                                 "unresolved", "open")
Embed = Callable[[Sequence[str]], np.ndarray]  # texts -> unit vectors (the knowledge base's encoder)
GapReason = Literal["unsure", "rated_down", "low_confidence"]
GAP_REASONS: tuple[GapReason, ...] = ("unsure", "rated_down", "low_confidence")

DAY = 86400.0
GAP_SIMILARITY = 0.6  # cosine to a cluster's centre to join it (packaged MiniLM; docs/reports.md)
MAX_GAP_QUESTIONS = 2000  # newest questions clustered per report: bounds the embedding work
FOLD_BATCH = 500  # conversations refolded per store round trip


@dataclass
class Facts:
    """What one conversation's log says, independent of when the report is read. The fields are
    the store's report columns (assistant.store.common.FACT_COLUMNS), in the same order."""

    customer_messages: int = 0
    voice_notes: int = 0
    images: int = 0
    first_message_at: float = 0.0
    first_answer_at: float = 0.0  # the assistant's first answer after the first customer message
    answers: int = 0  # the assistant's answers
    unsure: int = 0  # of which "I don't have information on that" (route unsure)
    handoff_at: float = 0.0  # the first move to a person (waiting_human or human)
    handoff_reason: str = ""  # customer_request | low_confidence | trigger | agent | …
    agent_reply_at: float = 0.0  # the first agent message after the handoff
    assistant_up: int = 0  # the assistant's answers rated up (a message's last rating counts)
    assistant_down: int = 0
    agent_up: int = 0  # agents' replies rated up
    agent_down: int = 0
    last_answer_down: bool = False  # the assistant's last answer was rated down
    last_answer_unsure: bool = False  # … or said it had no information (route unsure)
    state: str = "bot"
    closed_at: float = 0.0
    reopened: bool = False  # the customer came back after it was closed
    last_at: float = 0.0  # the last event
    gaps: list[dict[str, Any]] = field(default_factory=list)  # {text, why, at}: questions not answered well

    def row(self) -> tuple[Any, ...]:
        """The values as the store keeps them (booleans as 0/1, gaps as JSON or "")."""
        values = [getattr(self, name) for name, _ in FACT_COLUMNS[:-1]]
        return (*(int(v) if isinstance(v, bool) else v for v in values),
                json.dumps(self.gaps, ensure_ascii=False) if self.gaps else "")


assert [f.name for f in dataclasses.fields(Facts)] == [name for name, _ in FACT_COLUMNS]


def fold(events: Iterable[Event]) -> Facts:
    """A conversation's facts from its log."""
    f = Facts()
    kind: dict[str, str] = {}  # answer id -> "assistant" | "agent"
    rating: dict[str, tuple[str, float]] = {}  # answer id -> the last rating given, and when
    question_of: dict[str, str] = {}  # assistant answer id -> the customer's words it answered
    question = ""
    clarified: tuple[str, tuple[Option, ...]] | None = None  # a clarifying question's question, options
    last_answer = ""
    for e in events:
        f.last_at = max(f.last_at, e.at)
        if isinstance(e, UserMessage):
            f.customer_messages += 1
            f.first_message_at = f.first_message_at or e.at
            question = e.text.strip()
            f.reopened = f.reopened or f.state == "closed"  # the customer came back
        elif isinstance(e, VoiceTranscript):
            f.voice_notes += 1
            question = f"{question} {e.text}".strip()
        elif isinstance(e, ImageText):
            f.images += 1
        elif isinstance(e, AnswerCompleted):
            if e.interrupted and not e.text:
                continue
            if f.first_message_at and not f.first_answer_at:
                f.first_answer_at = e.at
            if e.options:  # a clarifying question, not an answer: the reply to it decides
                clarified = (question, e.options)
                continue
            if clarified is not None and _answers_clarified(e, question, clarified[1]):
                question = clarified[0]
            clarified = None
            kind[e.message_id] = "assistant"
            question_of[e.message_id] = question
            last_answer = e.message_id
            f.last_answer_unsure = not e.grounded
            f.answers += 1
            if not e.grounded:
                f.unsure += 1
                _gap(f, question, "unsure", e.at)
        elif isinstance(e, AgentMessage):
            kind[e.message_id] = "agent"
            if f.handoff_at and not f.agent_reply_at:
                f.agent_reply_at = e.at
        elif isinstance(e, StatusChanged):
            if e.state in ("waiting_human", "human") and not f.handoff_at:
                f.handoff_at = e.at
                f.handoff_reason = reason_name(e.reason)
                if f.handoff_reason == "low_confidence":
                    _gap(f, question, "low_confidence", e.at)
            if e.state == "closed":
                f.closed_at = e.at
            elif f.state == "closed":
                f.reopened = True
            f.state = e.state
        elif isinstance(e, Feedback):
            rating[e.message_id] = (e.rating, e.at)
    for answer, (given, at) in rating.items():
        if answer in kind:
            name = f"{kind[answer]}_{given}"  # assistant_up, agent_down, …
            setattr(f, name, getattr(f, name) + 1)
            if kind[answer] == "assistant" and given == "down":
                _gap(f, question_of.get(answer, ""), "rated_down", at)
    f.last_answer_down = rating.get(last_answer, ("", 0.0))[0] == "down"
    return f


def reason_name(reason: str) -> str:
    """"trigger:refund now" -> "trigger": one bar per kind of reason, not per pattern."""
    return reason.split(":", 1)[0] or "unknown"


def _answers_clarified(answer: AnswerCompleted, reply: str, options: Sequence[Option]) -> bool:
    """The answer after a clarifying question answers the question it was about: the reply chose
    one of its options (the answer's record is of it) or said neither ("no": the unsure answer),
    rather than asking something else."""
    if answer.grounded:
        return bool(answer.sources) and answer.sources[0].intent in {o.intent for o in options}
    return read_choice(reply, options)[0] == "none"


def _gap(f: Facts, text: str, why: GapReason, at: float) -> None:
    if text and not any(g["text"] == text and g["why"] == why for g in f.gaps):
        f.gaps.append({"text": text[:500], "why": why, "at": at})


def outcome(f: Facts, now: float, resolved_after: float) -> Outcome:
    """What became of a conversation, as of `now` (docs/reports.md defines each): the rules of
    Table.outcomes, for one conversation."""
    return OUTCOMES[int(Table([("", 0.0, "", *f.row())]).outcomes(now, resolved_after)[0])]


# -- keeping the facts current -----------------------------------------------------------------


async def current_facts(store: ConversationStore, since: float, until: float,
                        inboxes: tuple[str, ...] = (),
                        progress: Callable[[int, int], None] | None = None,
                        embed: Embed | None = None) -> list[tuple[Any, ...]]:
    """(id, created_at, inbox, *Facts.row()) of every conversation created in the range.

    Conversations with events newer than their stored facts (or none stored) are refolded and
    stored first, their unanswered questions embedded with `embed` (if given) so that later
    reports need not embed them again."""
    rows = await store.facts(since, until, inboxes)
    current = [(r[0], r[1], r[2], *r[5:]) for r in rows if r[4] is not None and r[4] >= r[3]]
    stale = [r for r in rows if r[4] is None or r[4] < r[3]]
    for start in range(0, len(stale), FOLD_BATCH):
        batch = stale[start:start + FOLD_BATCH]
        logs = await store.events_of([r[0] for r in batch])
        folded = await asyncio.to_thread(_fold_all, [r[0] for r in batch], logs, embed)
        await store.put_facts(folded)
        current += [(r[0], r[1], r[2], *values[2:]) for r, values in zip(batch, folded, strict=True)]
        if progress:
            progress(min(start + FOLD_BATCH, len(stale)), len(stale))
    return current


def _fold_all(ids: Sequence[str], logs: dict[str, list[Event]], embed: Embed | None) -> list[tuple[Any, ...]]:
    folded = []
    for cid in ids:
        log = logs.get(cid, [])
        folded.append((cid, log[-1].seq if log else 0, fold(log)))
    questions = [g for _, _, facts in folded for g in facts.gaps]
    if embed is not None and questions:
        for g, v in zip(questions, embed([g["text"] for g in questions]), strict=True):
            g["vector"] = _pack(v)
    return [(cid, seq, *facts.row()) for cid, seq, facts in folded]


def _pack(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f2").tobytes()).decode()


def _unpack(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f2").astype(np.float32)


# -- figures -----------------------------------------------------------------------------------


def _rate(part: float, whole: float) -> float | None:
    return round(float(part) / float(whole), 4) if whole else None


def _percentiles(values: np.ndarray) -> dict[str, Any]:
    if not len(values):
        return {"p50": None, "p90": None, "n": 0}
    p50, p90 = np.percentile(values, [50, 90])
    return {"p50": round(float(p50), 2), "p90": round(float(p90), 2), "n": len(values)}


class Table:
    """The facts of many conversations as columns (numpy arrays), for figures over any subset."""

    def __init__(self, rows: Sequence[tuple[Any, ...]]) -> None:
        names = ["id", "created_at", "inbox", *(name for name, _ in FACT_COLUMNS)]
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        kinds = {"id": "TEXT", "created_at": "REAL", "inbox": "TEXT", **dict(FACT_COLUMNS)}
        self.c: dict[str, np.ndarray] = {
            name: np.asarray(col, dtype=object if kinds[name] == "TEXT" else np.float64)
            for name, col in zip(names, columns, strict=True)}

    def __len__(self) -> int:
        return len(self.c["id"])

    def select(self, keep: np.ndarray) -> Table:
        out = Table([])
        out.c = {name: col[keep] for name, col in self.c.items()}
        return out

    def outcomes(self, now: float, resolved_after: float) -> np.ndarray:
        """Index into OUTCOMES of each conversation: `outcome` for all of them at once."""
        c = self.c
        done = (c["state"] == "closed") | (now - c["last_at"] >= resolved_after)
        handed = c["handoff_at"] > 0
        resolved = (c["answers"] > 0) & (c["last_answer_down"] == 0) & (c["last_answer_unsure"] == 0)
        code = {o: i for i, o in enumerate(OUTCOMES)}
        after_handoff = np.where(c["agent_reply_at"] > 0, code["resolved_by_agent"], code["abandoned"])
        return np.where(handed, np.where(done, after_handoff, code["handed_off"]),
                        np.where(done, np.where(resolved, code["resolved_by_assistant"], code["unresolved"]),
                                 code["open"]))


def figures(t: Table, outcomes: np.ndarray) -> dict[str, Any]:
    """The figures of a set of conversations (a day, or the whole range)."""
    c = t.c
    counts = np.bincount(outcomes.astype(np.int64), minlength=len(OUTCOMES))
    by = {o: int(n) for o, n in zip(OUTCOMES, counts, strict=True)}
    finished = len(t) - by["open"] - by["handed_off"]  # still going: not counted yet
    handed = c["handoff_at"] > 0
    answered = (c["first_answer_at"] > 0) & (c["first_message_at"] > 0)
    replied = handed & (c["agent_reply_at"] > 0)
    messages = c["customer_messages"].sum()

    def csat(who: str) -> dict[str, Any]:
        up, down = int(c[f"{who}_up"].sum()), int(c[f"{who}_down"].sum())
        return {"up": up, "down": down, "rate": _rate(up, up + down)}

    return {
        "conversations": len(t),
        "outcomes": by,
        "reopened": int(c["reopened"].sum()),
        "resolution_rate": _rate(by["resolved_by_assistant"], finished),
        "handoff_rate": _rate(int(handed.sum()), len(t)),
        "handoffs_by_reason": dict(Counter(c["handoff_reason"][handed].tolist()).most_common()),
        "csat": {"assistant": csat("assistant"), "agent": csat("agent")},
        "first_answer_s": _percentiles((c["first_answer_at"] - c["first_message_at"])[answered]),
        "first_agent_reply_s": _percentiles((c["agent_reply_at"] - c["handoff_at"])[replied]),
        "voice_share": _rate(c["voice_notes"].sum(), messages),
        "image_share": _rate(c["images"].sum(), messages),
        "unsure_rate": _rate(c["unsure"].sum(), c["answers"].sum()),
    }


# -- knowledge gaps ------------------------------------------------------------------------------


def gaps(questions: Sequence[dict[str, Any]], embed: Embed,
         *, similarity: float = GAP_SIMILARITY, limit: int = 20) -> list[dict[str, Any]]:
    """Questions the assistant could not answer well, grouped by meaning, newest group first.

    Each question is {text, why, at, conversation_id}. Greedy clustering, newest first: a question
    joins the nearest group whose centre is at least `similarity` alike, or starts one."""
    newest = sorted(questions, key=lambda q: -q["at"])[:MAX_GAP_QUESTIONS]
    if not newest:
        return []
    vectors = _vectors(newest, embed)
    newest = [{k: v for k, v in q.items() if k != "vector"} for q in newest]
    sums: list[np.ndarray] = []
    members: list[list[int]] = []
    for i, v in enumerate(vectors):
        if sums:
            centres = np.stack(sums)
            centres /= np.linalg.norm(centres, axis=1, keepdims=True)
            scores = centres @ v
            best = int(scores.argmax())
            if scores[best] >= similarity:
                sums[best] = sums[best] + v
                members[best].append(i)
                continue
        sums.append(v.copy())
        members.append([i])
    out = []
    for total, group in zip(sums, members, strict=True):
        centre = total / (np.linalg.norm(total) or 1.0)
        representative = newest[max(group, key=lambda i: float(vectors[i] @ centre))]
        reasons = Counter(newest[i]["why"] for i in group)
        out.append({"question": representative["text"], "count": len(group),
                    "reasons": {r: reasons[r] for r in GAP_REASONS},
                    "newest_at": newest[group[0]]["at"],
                    "examples": [newest[i] for i in group[:5]]})
    out.sort(key=lambda g: (-g["newest_at"], -g["count"]))
    return out[:limit]


def _vectors(questions: Sequence[dict[str, Any]], embed: Embed) -> np.ndarray:
    """Unit vectors of the questions: stored with their facts when folded, else embedded now. Stored
    vectors of another size than today's (the encoder changed) are embedded again."""
    stored = [_unpack(q["vector"]) if "vector" in q else None for q in questions]

    def embed_again(indices: list[int]) -> None:
        for i, v in zip(indices, embed([questions[i]["text"] for i in indices]), strict=True):
            stored[i] = np.asarray(v, dtype=np.float32)
    embed_again([i for i, v in enumerate(stored) if v is None])
    sizes = Counter(len(v) for v in stored if v is not None)
    if len(sizes) > 1:  # which size is today's: one fresh embedding says
        today = len(np.asarray(embed([questions[0]["text"]]))[0])
        embed_again([i for i, v in enumerate(stored) if v is not None and len(v) != today])
    vectors = np.stack([v for v in stored if v is not None]).astype(np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


# -- the report --------------------------------------------------------------------------------


async def report(store: ConversationStore, *, days: int = 30, inboxes: tuple[str, ...] = (),
                 inbox: str | None = None, resolved_after: float = 1800.0,
                 embed: Embed | None = None, now: float | None = None,
                 gap_similarity: float = GAP_SIMILARITY, gap_limit: int = 20,
                 progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """The figures for the last `days` days (UTC, today included), per day and in total, and the
    top knowledge gaps (when `embed` is given). `inboxes` limits what the caller may see."""
    if days < 1 or days > 3660:
        raise ValueError("days must be between 1 and 3660")
    now = time.time() if now is None else now
    first_day = dt.datetime.fromtimestamp(now, dt.UTC).date() - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(first_day, dt.time(), dt.UTC).timestamp()
    scope = (inbox,) if inbox else inboxes
    rows = await current_facts(store, since, now + 1, scope, progress, embed)
    # Figures over many conversations and the gaps' embeddings are CPU work: off the event loop.
    return await asyncio.to_thread(_summarise, rows, days=days, first_day=first_day, since=since, now=now,
                                   inbox=inbox, resolved_after=resolved_after, embed=embed,
                                   gap_similarity=gap_similarity, gap_limit=gap_limit)


def _summarise(rows: list[tuple[Any, ...]], *, days: int, first_day: dt.date, since: float, now: float,
               inbox: str | None, resolved_after: float, embed: Embed | None, gap_similarity: float,
               gap_limit: int) -> dict[str, Any]:
    table = Table(rows)
    table = table.select(table.c["customer_messages"] > 0)  # a widget opened and never used: not counted
    outcomes = table.outcomes(now, resolved_after)
    day = np.clip(((table.c["created_at"] - since) // DAY).astype(np.int64), 0, days - 1)
    questions = [{**g, "conversation_id": cid}
                 for cid, text in zip(table.c["id"], table.c["gaps"], strict=True) if text
                 for g in json.loads(text)]
    return {
        "range": {"days": days, "since": since, "until": now, "inbox": inbox,
                  "resolved_after_s": resolved_after},
        "totals": figures(table, outcomes),
        "days": [{"day": (first_day + dt.timedelta(days=i)).isoformat(),
                  **figures(table.select(day == i), outcomes[day == i])} for i in range(days)],
        "gaps": [] if embed is None else gaps(questions, embed, similarity=gap_similarity, limit=gap_limit),
    }
