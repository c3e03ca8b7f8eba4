"""The seams between the service and the rest: what channels call, never import.

`create_app` gets a runtime factory from its caller (the CLI passes
assistant.runtime.build_runtime); the runtime's `dialogue` satisfies
ChatHandlers, its `knowledge` KnowledgeSearch. Agent and customer identities are
checked by an Authenticator (channels.accounts). Nothing here imports the dialogue
manager or torch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from assistant.events import Event, UserMessage
from assistant.store.base import ConversationInfo, ConversationStore


@dataclass(frozen=True)
class Turn:
    """One customer message for the dialogue manager (assistant.dialogue uses this same class)."""

    conversation_id: str
    text: str = ""
    attachments: tuple[str, ...] = ()  # upload ids
    client_msg_id: str = ""
    user_id: str = ""  # verified identity, when there is one


class ChatHandlers(Protocol):
    """What the dialogue manager offers the service. Every method stores the events it
    makes (with their seq) before yielding or returning them; the service publishes them."""

    def handle(self, turn: Turn, *, trace: Any = None) -> AsyncIterator[Event]:
        """The turn's stored events. `trace` (an assistant.dialogue.TurnTrace) gets
        `last_seq`, the log's last seq before the turn stored anything, once it is known."""
        ...

    async def new_conversation(self, user_id: str = "", inbox: str = "default") -> ConversationInfo: ...

    async def interrupted(self, conversation_id: str, message: UserMessage) -> bool:
        """A restart cut this stored message's turn off (error `interrupted`), and nothing answered
        it since: its resend is answered rather than dropped as a duplicate."""
        ...

    async def request_handoff(self, conversation_id: str, reason: str) -> Any: ...

    async def take_over(self, conversation_id: str, agent: str) -> Any: ...

    async def hand_back(self, conversation_id: str, agent: str) -> Any: ...

    async def close(self, conversation_id: str, by: str) -> Any: ...

    async def agent_reply(self, conversation_id: str, agent: str, text: str) -> Any: ...

    async def feedback(self, conversation_id: str, message_id: str, rating: str,
                       comment: str = "") -> Any: ...

    def suggest(self, conversation_id: str) -> AsyncIterator[Event]: ...


class KnowledgeSearch(Protocol):
    """The part of the knowledge base agents use; search may be sync or async.

    Agents pass audience="any": internal records (guidelines) are theirs to read."""

    def search(self, query: str, k: int | None = None, *, audience: str = "customer") -> Any: ...


class Runtime(Protocol):
    # Read-only properties, so a frozen or richer implementation still fits.
    @property
    def store(self) -> ConversationStore: ...

    @property
    def dialogue(self) -> ChatHandlers: ...

    @property
    def knowledge(self) -> KnowledgeSearch: ...

    def readiness(self) -> Any: ...  # bool, or {component: bool}


class RuntimeFactory(Protocol):
    def __call__(self, settings: Any) -> AbstractAsyncContextManager[Runtime]: ...
