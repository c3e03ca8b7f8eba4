"""The conversation-store interface. Implementations: SQLite (default), PostgreSQL.

A store appends events (assigning the next per-conversation seq atomically, also
across processes), replays them, and keeps attachments. `append` returns only
once the event is durable, so a client is never told about a write that a crash
could lose.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from assistant.events import Event, State


@dataclass(frozen=True)
class ConversationInfo:
    id: str
    resume_token: str  # secret that lets the customer's client resume this conversation
    state: State
    last_seq: int
    created_at: float
    updated_at: float
    user_id: str = ""  # verified customer identity, when there is one
    inbox: str = "default"  # tenant/inbox; agents only see their own inboxes
    handoff_reason: str = ""  # reason of the latest handoff, for the console
    agent: str = ""  # agent who has taken over, if any
    waiting_since: float = 0.0  # when the state became waiting_human (0 if not waiting)


@dataclass(frozen=True)
class Attachment:
    id: str
    conversation_id: str
    content_type: str  # sniffed from the bytes, not trusted from the client
    name: str
    data: bytes


@dataclass(frozen=True)
class AgentAccount:
    """A human agent who signs in to the console (channels.accounts hashes and checks)."""

    name: str  # login name, unique
    password_hash: str  # argon2 hash; the store never sees the password
    display_name: str = ""
    inboxes: tuple[str, ...] = ("default",)  # inboxes whose conversations this agent sees
    created_at: float = 0.0  # 0 = stamped by the store on first put


class ConversationStore(Protocol):
    async def open(self) -> None: ...  # create tables, connect

    async def close(self) -> None: ...

    async def create(self, *, user_id: str = "", inbox: str = "default") -> ConversationInfo: ...

    async def get(self, conversation_id: str) -> ConversationInfo:
        """Raises ConversationError(code="conversation_not_found")."""
        ...

    async def append(self, event: Event) -> Event:
        """Store the event with the next seq and return it with that seq (durable on return).
        Keeps ConversationInfo (state, last_seq, handoff_reason, agent, waiting_since) in step."""
        ...

    async def append_many(self, events: Sequence[Event]) -> builtins.list[Event]:
        """Append several events in one transaction (all or none, one commit): the answer's
        deltas batched, say. Same rules as append, applied in order."""
        ...

    async def heartbeat(self) -> None:
        """Renew this worker's lease on the answers it streams (assistant.store.leases)."""
        ...

    async def recover_answers(self, lease: float) -> builtins.list[Event]:
        """Close as interrupted the open answers of workers whose lease is older than `lease`
        seconds (each answer once, across workers); returns the stored closing events."""
        ...

    async def events(self, conversation_id: str, after: int = 0, limit: int | None = None) -> list[Event]:
        """Events with seq > after, in seq order."""
        ...

    async def find_client_message(self, conversation_id: str, client_msg_id: str) -> Event | None: ...

    async def events_of(self, conversation_ids: Sequence[str]) -> dict[str, builtins.list[Event]]:
        """The whole logs of many conversations at once (reports)."""
        ...

    async def facts(self, since: float, until: float,
                    inboxes: tuple[str, ...] = ()) -> builtins.list[tuple[Any, ...]]:
        """Conversations created in [since, until) with their stored report facts, as rows of
        common.FACTS_SELECT."""
        ...

    async def put_facts(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Store (conversation id, last seq folded, *FACT_COLUMNS) rows: derived data, rebuilt
        when missing."""
        ...

    async def list(self, *, states: tuple[State, ...] = (), inboxes: tuple[str, ...] = (),
                   limit: int = 200) -> list[ConversationInfo]: ...

    async def put_attachment(self, conversation_id: str, data: bytes, content_type: str,
                             name: str = "") -> Attachment: ...

    async def get_attachment(self, attachment_id: str) -> Attachment:
        """Raises ConversationError(code="attachment_not_found")."""
        ...

    async def put_agent(self, account: AgentAccount) -> None:
        """Insert or replace the account with this name."""
        ...

    async def get_agent(self, name: str) -> AgentAccount | None: ...

    async def list_agents(self) -> builtins.list[AgentAccount]: ...

    async def delete_agent(self, name: str) -> bool:
        """True if there was such an account."""
        ...
