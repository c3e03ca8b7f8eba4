"""What the SQLite and PostgreSQL stores share: event encoding and the append rules.

The SQL differs between the two; everything that decides *what* gets written
(the next seq, whether a status change is allowed, how ConversationInfo follows
a StatusChanged) lives here, once.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import uuid
from typing import Any

from assistant.errors import ConversationError
from assistant.events import TRANSITIONS, Event, StatusChanged, UserMessage, event_from_dict
from assistant.store.base import AgentAccount, ConversationInfo

# Waiting conversations first (longest wait on top), then the most recently active.
LIST_ORDER = "ORDER BY (state = 'waiting_human') DESC, waiting_since ASC, updated_at DESC, id"

# Columns of the conversations table, in ConversationInfo field order.
INFO_COLUMNS = ("id, resume_token, state, last_seq, created_at, updated_at, user_id, inbox, "
                "handoff_reason, agent, waiting_since")


BULK = 500  # conversations per query when reading many logs at once

# What reports know of a conversation (assistant.reports.Facts, field for field, in this order),
# folded from its log: derived data in a table of its own, rebuilt whenever it is missing or
# behind the log. A change of columns is a new table name (report_facts_v2, …).
FACTS_TABLE = "report_facts_v1"
FACT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("customer_messages", "INTEGER"), ("voice_notes", "INTEGER"), ("images", "INTEGER"),
    ("first_message_at", "REAL"), ("first_answer_at", "REAL"), ("answers", "INTEGER"), ("unsure", "INTEGER"),
    ("handoff_at", "REAL"), ("handoff_reason", "TEXT"), ("agent_reply_at", "REAL"),
    ("assistant_up", "INTEGER"), ("assistant_down", "INTEGER"), ("agent_up", "INTEGER"),
    ("agent_down", "INTEGER"), ("last_answer_down", "INTEGER"), ("last_answer_unsure", "INTEGER"),
    ("state", "TEXT"), ("closed_at", "REAL"), ("reopened", "INTEGER"), ("last_at", "REAL"),
    ("gaps", "TEXT"),  # JSON list of the questions not answered well; "" for none
)
# A facts query's row: the conversation's id, created_at, inbox and last_seq, then the seq the
# facts were folded up to and the FACT_COLUMNS (all None when the conversation was never folded).
FACTS_SELECT = ("c.id, c.created_at, c.inbox, c.last_seq, f.seq, "
                + ", ".join(f"f.{name}" for name, _ in FACT_COLUMNS))


def facts_schema(real: str = "REAL") -> str:
    columns = ", ".join(f"{name} {real if kind == 'REAL' else kind} NOT NULL" for name, kind in FACT_COLUMNS)
    return (f"CREATE TABLE IF NOT EXISTS {FACTS_TABLE} (conversation_id TEXT PRIMARY KEY"
            f" REFERENCES conversations (id) ON DELETE CASCADE, seq BIGINT NOT NULL, {columns});")


def new_id() -> str:
    return uuid.uuid4().hex


def new_resume_token() -> str:
    return secrets.token_urlsafe(24)


def not_found(conversation_id: str) -> ConversationError:
    return ConversationError(f"There is no conversation {conversation_id!r}.",
                             code="conversation_not_found")


def attachment_not_found(attachment_id: str) -> ConversationError:
    return ConversationError(f"There is no attachment {attachment_id!r}.", code="attachment_not_found")


def encode(event: Event) -> tuple[str, str]:
    """(type, JSON payload) of an event; seq, at and the conversation id have columns of their own."""
    wire = event.to_wire()
    for key in ("type", "seq", "at"):
        wire.pop(key)
    return event.type, json.dumps(wire, ensure_ascii=False, separators=(",", ":"))


def decode(conversation_id: str, type_: str, seq: int, at: float, payload: str | dict[str, Any]) -> Event:
    data = json.loads(payload) if isinstance(payload, str) else dict(payload)
    return event_from_dict(conversation_id, {**data, "type": type_, "seq": seq, "at": at})


def client_msg_id(event: Event) -> str:
    """The client's id of a customer message ("" when the event has none): resends are deduplicated."""
    return event.client_msg_id if isinstance(event, UserMessage) else ""


def advance(info: ConversationInfo, event: Event, now: float) -> tuple[ConversationInfo, Event]:
    """The conversation after appending `event`, and the event stamped with its seq.

    Raises ConversationError(bad_transition) for a status change TRANSITIONS does not allow.
    """
    seq = info.last_seq + 1
    stamped = dataclasses.replace(event, seq=seq)
    changes: dict[str, Any] = {"last_seq": seq, "updated_at": now}
    if isinstance(event, StatusChanged):
        changes.update(_status_changes(info, event))
    return dataclasses.replace(info, **changes), stamped


def _status_changes(info: ConversationInfo, event: StatusChanged) -> dict[str, Any]:
    if event.state not in TRANSITIONS.get(info.state, frozenset()):
        raise ConversationError(
            f"A conversation cannot go from {info.state} to {event.state}.", code="bad_transition")
    changes: dict[str, Any] = {"state": event.state}
    # waiting_since orders the console's queue; it only means something while waiting.
    changes["waiting_since"] = event.at if event.state == "waiting_human" else 0.0
    if event.state in ("waiting_human", "human") and event.reason:
        changes["handoff_reason"] = event.reason
    if event.state == "human":
        changes["agent"] = event.agent
    elif event.state in ("bot", "waiting_human"):
        changes["agent"] = ""
    # closed keeps the agent: the console shows who handled the conversation last.
    return changes


def info_from_row(row: Any) -> ConversationInfo:
    """A ConversationInfo from a row selected with INFO_COLUMNS (sqlite3.Row or asyncpg.Record)."""
    return ConversationInfo(*tuple(row))


def info_values(info: ConversationInfo) -> tuple[Any, ...]:
    return dataclasses.astuple(info)


def agent_values(account: AgentAccount, created_at: float) -> tuple[str, str, str, str, float]:
    return (account.name, account.password_hash, account.display_name,
            json.dumps(list(account.inboxes)), created_at)


def agent_from_row(row: Any) -> AgentAccount:
    name, password_hash, display_name, inboxes, created_at = tuple(row)
    return AgentAccount(name=name, password_hash=password_hash, display_name=display_name,
                        inboxes=tuple(json.loads(inboxes)), created_at=created_at)
