"""What the assistant offers the layer above it (channels): the ports, exactly typed.

Channels hold a `Runtime` and call these; they never import the dialogue manager,
the models or torch. Every method that changes a conversation stores the events
it makes (with their seq) before it returns or yields them; the caller's only job
is to publish them. Channels do not call `Dialogue.handle` themselves: they give a
customer's message to `assistant.turns.Turns`, which owns the turn from message to
closing event.

    channels ──> assistant.ports (these Protocols) <── assistant.runtime (the real ones)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from assistant.events import Event, Option, UserMessage
from assistant.learning import Learned
from assistant.routing import NO_HANDOFF, HandoffDecision
from assistant.settings import Settings
from assistant.store.base import ConversationInfo, ConversationStore
from knowledge.records import Hit, Record


@dataclass
class TurnTrace:
    """Filled by `Dialogue.handle` for callers that want to see inside a turn: the turn
    runner (where the turn's events start in the log), eval and benchmarks (what was
    searched, found and decided)."""

    last_seq: int | None = None  # the log's last seq when the turn read it (None: not read yet)
    query: str = ""  # what the knowledge base was searched with
    hits: list[Hit] = field(default_factory=list)
    decision: HandoffDecision = NO_HANDOFF
    unsure: str = ""  # why the history holds no answer (routing.unsure_reason), "" when it does
    options: tuple[Option, ...] = ()  # what a clarifying question offered (assistant.clarify)
    chosen: str = ""  # the intent the customer chose in reply to one ("none": neither)


class Dialogue(Protocol):
    """The dialogue manager as channels and the turn runner see it (assistant.dialogue)."""

    def handle(self, message: UserMessage, *, trace: TurnTrace | None = None) -> AsyncIterator[Event]:
        """The stored events of a customer's message (not stored yet: seq 0, no message_id).
        `trace.last_seq` gets the log's last seq before the turn stored anything."""
        ...

    async def new_conversation(self, user_id: str = "", inbox: str = "default") -> ConversationInfo: ...

    async def resent(self, conversation_id: str, client_msg_id: str) -> bool:
        """A message with this client id is stored and its turn is over: a resend, not a question."""
        ...

    async def request_handoff(self, conversation_id: str, reason: str) -> list[Event]: ...

    async def take_over(self, conversation_id: str, agent: str) -> list[Event]: ...

    async def hand_back(self, conversation_id: str, agent: str) -> list[Event]: ...

    async def close(self, conversation_id: str, by: str) -> list[Event]: ...

    async def agent_reply(self, conversation_id: str, agent: str, text: str) -> list[Event]: ...

    async def feedback(self, conversation_id: str, message_id: str, rating: str,
                       comment: str = "") -> list[Event]: ...

    def suggest(self, conversation_id: str) -> AsyncIterator[Event]: ...


class AgentKnowledge(Protocol):
    """The knowledge base as agents use it (assistant.agent_knowledge): search with internal
    records included, a conversation an agent resolved saved as a new record (of one of the
    history's intents, if the agent names it), the lessons learned from the conversations (listed,
    and taken out one by one), and the embedding model (blocking) that groups unanswered
    questions in reports."""

    async def search(self, query: str, k: int) -> list[Hit]: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    async def intents(self) -> list[str]: ...

    async def save_resolved(self, conversation_id: str, request: str, resolution: str, *,
                            agent: str, inbox: str = "", intent: str = "") -> Record: ...

    async def learned(self) -> list[Record]: ...

    async def learn(self, found: Sequence[Learned], *, exclude: Collection[str] = (),
                    dry_run: bool = False) -> tuple[list[Record], list[Learned], int]: ...

    async def lesson(self, record_id: str) -> Record: ...

    async def forget_learned(self, record_id: str) -> None: ...


class TurnObserver(Protocol):
    """What the turn runner reports while it runs turns (channels.metrics implements it)."""

    def first_delta(self, seconds: float) -> None: ...

    def transcribed(self, seconds: float) -> None: ...

    def error(self, code: str) -> None: ...

    def turn_ended(self, outcome: str) -> None:
        """ok | error | interrupted"""
        ...


class Runtime(Protocol):
    """Everything a running assistant holds, as the channels use it (assistant.runtime)."""

    @property
    def store(self) -> ConversationStore: ...

    @property
    def dialogue(self) -> Dialogue: ...

    @property
    def agent_knowledge(self) -> AgentKnowledge: ...

    def readiness(self) -> dict[str, str | bool]:
        """Each component and what runs it (truthy once built)."""
        ...


class RuntimeFactory(Protocol):
    def __call__(self, settings: Settings) -> AbstractAsyncContextManager[Runtime]: ...
