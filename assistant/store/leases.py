"""Answers whose worker died mid-stream: found by lease, closed exactly once.

A worker that is killed (`kill -9`, a lost machine) while it streams an answer
leaves that answer open in the log: AnswerStarted and some deltas, no closing
event, and nobody left to write one. So the stores keep two small tables:

- `open_answers`: appending an AnswerStarted records (conversation, answer,
  worker) in the same transaction; the answer's closing event (AnswerCompleted,
  or an ErrorEvent whose `answer_id` names it) deletes the row.
- `workers`: each store instance is one worker with a random id; the server
  renews its lease (`heartbeat`) every few seconds and drops it on a clean close.

An answer must still be open for a delta, a completion or an error to be appended to it:
a worker whose event loop stalled past its lease, and whose answers another
worker closed meanwhile, gets AnswerClosed instead of writing after the close.

Turns are leased the same way (`open_turns`): a customer's message that the
assistant is to answer (the conversation is with the bot, or closed and reopened
by it) records (conversation, message, worker); the turn's end deletes the row:
an answer starting, a handoff or an agent's reply in that conversation, or an
error naming the message. A worker killed between storing a message and
starting its answer (searching, reading an image, transcribing) leaves the row,
and the sweep closes the question with an `error` `interrupted` naming it: the
customer is told, and a resend of the same message is answered (the dialogue).

`recover_answers(lease)` on any worker finds the open answers of other workers
whose lease ran out, and appends AnswerCompleted(interrupted=True) with the text
streamed so far, in one transaction that takes the rows it closes: two workers
sweeping at once never close an answer twice. The lease should be longer than the
worst stall of a live worker's event loop: a stall past it cuts that worker's
answers short (cleanly: closed as interrupted, the late writes refused).

The SQL is written once for both engines (SQLite reads `DOUBLE PRECISION` as REAL);
only the placeholders differ, `?` for SQLite and `$n` for asyncpg.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from assistant.errors import AnswerClosed
from assistant.events import (
    AgentMessage,
    AnswerCompleted,
    AnswerDelta,
    AnswerStarted,
    ErrorEvent,
    Event,
    StatusChanged,
    UserMessage,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS open_answers (
    conversation_id TEXT NOT NULL, message_id TEXT NOT NULL, worker TEXT NOT NULL,
    started_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (conversation_id, message_id));
CREATE TABLE IF NOT EXISTS workers (id TEXT PRIMARY KEY, seen_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS open_turns (
    conversation_id TEXT NOT NULL, message_id TEXT NOT NULL, worker TEXT NOT NULL,
    started_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (conversation_id, message_id));
"""
INTERRUPTED_TURN = ("We restarted before answering this message. Please send it again; "
                    "nothing you wrote was lost.")

FORGET_WORKERS_AFTER = 7 * 24 * 3600.0  # a worker row this old with no open answer is pruned

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Renews a store's lease while it is open: every process that streams answers into
    a store holds one, the server and `assistant ask` alike, so a live answer is never
    taken for a dead one. Renewals come three times per lease."""

    def __init__(self, heartbeat: Callable[[], Awaitable[None]], lease_seconds: float) -> None:
        self.heartbeat = heartbeat
        self.interval = lease_seconds / 3
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.heartbeat()  # before any answer: a worker without a row counts as dead
        self._task = asyncio.create_task(self._renew(), name="store-lease")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.heartbeat()
            except Exception as exc:  # noqa: BLE001 - a database blip; the next renewal may work
                log.warning("could not renew this worker's lease: %s", exc)


def opened(event: Event) -> str:
    """The answer id an event opens, or ""."""
    return event.message_id if isinstance(event, AnswerStarted) else ""


def closed(event: Event) -> str:
    """The answer id an event closes, or ""."""
    if isinstance(event, AnswerCompleted):
        return event.message_id
    if isinstance(event, ErrorEvent):
        return event.answer_id
    return ""


def turn_opened(event: Event, state: str) -> str:
    """The customer message id whose turn this event opens (the assistant is to answer), or ""."""
    return event.message_id if isinstance(event, UserMessage) and state in ("bot", "closed") else ""


def turn_closed(event: Event) -> tuple[str, str] | None:
    """Which open turns of the event's conversation it ends: ("*", "") all of them (an answer
    started, a person took over), ("", message_id) one (an error naming it), None none."""
    if isinstance(event, AnswerStarted | AgentMessage):
        return ("*", "")
    if isinstance(event, StatusChanged) and event.state in ("waiting_human", "human"):
        return ("*", "")
    if isinstance(event, ErrorEvent) and event.message_id:
        return ("", event.message_id)
    return None


def interrupted_turn(conversation_id: str, message_id: str) -> ErrorEvent:
    return ErrorEvent(conversation_id=conversation_id, code="interrupted", message_id=message_id,
                      message=INTERRUPTED_TURN)


def continued(events: Sequence[Event]) -> list[tuple[str, str]]:
    """(conversation, answer) of each answer these events add to or end without opening it
    first: each must still be open when they are appended."""
    opened_here: set[tuple[str, str]] = set()
    needed: list[tuple[str, str]] = []
    for event in events:
        answer = (event.message_id if isinstance(event, AnswerDelta | AnswerCompleted)
                  else closed(event) or opened(event))
        key = (event.conversation_id, answer)
        if opened(event):
            opened_here.add(key)
        elif answer and key not in opened_here and key not in needed:
            needed.append(key)
    return needed


def answer_closed(conversation_id: str, message_id: str) -> AnswerClosed:
    return AnswerClosed(f"Answer {message_id} of conversation {conversation_id} was closed meanwhile "
                        "(this worker was taken for dead).")


def interrupted(conversation_id: str, message_id: str, payloads: list[Any]) -> AnswerCompleted:
    """The closing event of a cut-off answer: the text of its stored deltas, in order."""
    text = "".join(_delta_text(p) for p in payloads)
    return AnswerCompleted(conversation_id=conversation_id, message_id=message_id, text=text,
                           interrupted=True)


def _delta_text(payload: Any) -> str:
    data = json.loads(payload) if isinstance(payload, str) else dict(payload)
    return str(data.get("text", ""))


# -- SQLite (sqlite3, on the store's writing thread, inside its transaction) --------------

def sqlite_track(conn: Any, event: Event, worker: str, now: float, state: str = "") -> None:
    cid = event.conversation_id
    if mid := turn_opened(event, state):
        conn.execute("INSERT OR REPLACE INTO open_turns VALUES (?, ?, ?, ?)", (cid, mid, worker, now))
    elif (ends := turn_closed(event)) is not None:
        conn.execute("DELETE FROM open_turns WHERE conversation_id = ? AND (? = '*' OR message_id = ?)",
                     (cid, ends[0], ends[1]))
    if mid := opened(event):
        conn.execute("INSERT OR REPLACE INTO open_answers VALUES (?, ?, ?, ?)",
                     (event.conversation_id, mid, worker, now))
    elif mid := closed(event):
        conn.execute("DELETE FROM open_answers WHERE conversation_id = ? AND message_id = ?",
                     (event.conversation_id, mid))


def sqlite_check_open(conn: Any, events: Sequence[Event]) -> None:
    """AnswerClosed unless every answer the events continue is open (the caller holds the
    write lock: nobody closes it before the events are in)."""
    for cid, mid in continued(events):
        if conn.execute("SELECT 1 FROM open_answers WHERE conversation_id = ? AND message_id = ?",
                        (cid, mid)).fetchone() is None:
            raise answer_closed(cid, mid)


def sqlite_heartbeat(conn: Any, worker: str, now: float) -> None:
    conn.execute("INSERT OR REPLACE INTO workers VALUES (?, ?)", (worker, now))


def sqlite_leave(conn: Any, worker: str) -> None:
    conn.execute("DELETE FROM workers WHERE id = ?", (worker,))


def sqlite_orphans(conn: Any, worker: str, now: float, lease: float) -> list[Event]:
    """Closing events for the open answers and turns of workers whose lease ran out (not appended)."""
    conn.execute("DELETE FROM workers WHERE seen_at < ? AND id NOT IN (SELECT worker FROM open_answers)"
                 " AND id NOT IN (SELECT worker FROM open_turns)", (now - FORGET_WORKERS_AFTER,))
    rows = conn.execute(
        "SELECT o.conversation_id, o.message_id FROM open_answers o LEFT JOIN workers w ON w.id = o.worker"
        " WHERE o.worker <> ? AND (w.seen_at IS NULL OR w.seen_at < ?)"
        " ORDER BY o.started_at", (worker, now - lease)).fetchall()
    closes: list[Event] = []
    for cid, mid in rows:
        payloads = [p for (p,) in conn.execute(
            "SELECT payload FROM events WHERE conversation_id = ? AND type = 'delta'"
            " AND json_extract(payload, '$.message_id') = ? ORDER BY seq", (cid, mid))]
        closes.append(interrupted(cid, mid, payloads))
    turns = conn.execute(
        "SELECT o.conversation_id, o.message_id FROM open_turns o LEFT JOIN workers w ON w.id = o.worker"
        " WHERE o.worker <> ? AND (w.seen_at IS NULL OR w.seen_at < ?)"
        " ORDER BY o.started_at", (worker, now - lease)).fetchall()
    return closes + [interrupted_turn(cid, mid) for cid, mid in turns]


# -- PostgreSQL (asyncpg connection, inside the caller's transaction) ---------------------

async def pg_track(conn: Any, event: Event, worker: str, now: float, state: str = "") -> None:
    cid = event.conversation_id
    if mid := turn_opened(event, state):
        await conn.execute("INSERT INTO open_turns VALUES ($1, $2, $3, $4) ON CONFLICT"
                           " (conversation_id, message_id) DO UPDATE SET worker = $3, started_at = $4",
                           cid, mid, worker, now)
    elif (ends := turn_closed(event)) is not None:
        await conn.execute("DELETE FROM open_turns WHERE conversation_id = $1"
                           " AND ($2 = '*' OR message_id = $3)", cid, ends[0], ends[1])
    if mid := opened(event):
        await conn.execute("INSERT INTO open_answers VALUES ($1, $2, $3, $4) ON CONFLICT"
                           " (conversation_id, message_id) DO UPDATE SET worker = $3, started_at = $4",
                           event.conversation_id, mid, worker, now)
    elif mid := closed(event):
        await conn.execute("DELETE FROM open_answers WHERE conversation_id = $1 AND message_id = $2",
                           event.conversation_id, mid)


async def pg_check_open(conn: Any, events: Sequence[Event]) -> None:
    """As sqlite_check_open. FOR SHARE waits for a sweep holding the row (then finds it
    gone) and makes a sweep skip it until these events are in. Taken before the
    conversation's lock, in the sweep's order (answer row, then conversation): no deadlock."""
    for cid, mid in continued(events):
        if await conn.fetchval("SELECT 1 FROM open_answers WHERE conversation_id = $1 AND message_id = $2"
                               " FOR SHARE", cid, mid) is None:
            raise answer_closed(cid, mid)


async def pg_heartbeat(conn: Any, worker: str, now: float) -> None:
    await conn.execute("INSERT INTO workers VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET seen_at = $2",
                       worker, now)


async def pg_leave(conn: Any, worker: str) -> None:
    await conn.execute("DELETE FROM workers WHERE id = $1", worker)


async def pg_orphans(conn: Any, worker: str, now: float, lease: float) -> list[Event]:
    """As sqlite_orphans; the rows are locked (SKIP LOCKED: a worker sweeping at the same
    moment takes the others), so each answer is closed by one worker only."""
    await conn.execute("DELETE FROM workers WHERE seen_at < $1 AND id NOT IN"
                       " (SELECT worker FROM open_answers) AND id NOT IN (SELECT worker FROM open_turns)",
                       now - FORGET_WORKERS_AFTER)
    rows = await conn.fetch(
        "SELECT o.conversation_id, o.message_id FROM open_answers o LEFT JOIN workers w ON w.id = o.worker"
        " WHERE o.worker <> $1 AND (w.seen_at IS NULL OR w.seen_at < $2)"
        " ORDER BY o.started_at FOR UPDATE OF o SKIP LOCKED", worker, now - lease)
    closes: list[Event] = []
    for row in rows:
        cid, mid = row["conversation_id"], row["message_id"]
        payloads = [r["payload"] for r in await conn.fetch(
            "SELECT payload FROM events WHERE conversation_id = $1 AND type = 'delta'"
            " AND payload->>'message_id' = $2 ORDER BY seq", cid, mid)]
        closes.append(interrupted(cid, mid, payloads))
    turns = await conn.fetch(
        "SELECT o.conversation_id, o.message_id FROM open_turns o LEFT JOIN workers w ON w.id = o.worker"
        " WHERE o.worker <> $1 AND (w.seen_at IS NULL OR w.seen_at < $2)"
        " ORDER BY o.started_at FOR UPDATE OF o SKIP LOCKED", worker, now - lease)
    return closes + [interrupted_turn(r["conversation_id"], r["message_id"]) for r in turns]
