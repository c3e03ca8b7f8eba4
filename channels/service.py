"""What every endpoint of one app shares: the runtime, the bus, limits, metrics, turns.

Built in the lifespan (channels.app) and kept on `app.state.service`. Every
stored event goes through `publish`: on `conv:<id>` for the sockets following the
conversation (on any worker), and a summary on `inbox:<name>` for the console.
Every agent endpoint and frame goes through `verify_agent`.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from assistant.events import Event
from assistant.store.base import ConversationInfo
from channels.errors import AccessError
from channels.handlers import AgentIdentity, Authenticator, Runtime, may_see
from channels.limits import IpBuckets, Limits
from channels.metrics import Metrics
from channels.revocation import AccountCheck
from channels.turns import TurnRunner
from channels.views import conv_topic, event_message, inbox_topic

# Deltas would flood the console list; these change what a summary shows.
_SUMMARY_TYPES = frozenset({"message", "answer", "status", "agent_message", "error"})


def summary(info: ConversationInfo) -> dict[str, Any]:
    """A conversation as the console's list shows it."""
    return {"conversation_id": info.id, "state": info.state, "inbox": info.inbox,
            "last_seq": info.last_seq, "handoff_reason": info.handoff_reason, "agent": info.agent,
            "waiting_since": info.waiting_since, "updated_at": info.updated_at}


@dataclass
class Service:
    settings: Any
    runtime: Runtime
    bus: Any
    auth: Authenticator
    metrics: Metrics
    limits: Limits
    ip_buckets: IpBuckets
    # Tokens of channels.auth name store accounts and die with them; an authenticator
    # of another kind (a test's, say) answers for its own tokens alone: None.
    accounts: AccountCheck | None = None
    turns: TurnRunner = field(init=False)
    shutting_down: bool = False

    def __post_init__(self) -> None:
        self.turns = TurnRunner(self.runtime.dialogue, self.runtime.store, self.publish, self.metrics)

    @property
    def store(self) -> Any:
        return self.runtime.store

    @property
    def dialogue(self) -> Any:
        return self.runtime.dialogue

    async def verify_agent(self, token: str) -> AgentIdentity:
        """The agent of a valid token whose account still stands, else AccessError
        (unauthorized, or token_revoked once the account is removed or reset)."""
        if self.accounts is not None:
            return await self.accounts.verify(token)
        return self.auth.verify_agent_token(token)

    async def publish(self, event: Event) -> None:
        await self.bus.publish(conv_topic(event.conversation_id), event_message(event))
        if event.type in _SUMMARY_TYPES:
            info = await self.store.get(event.conversation_id)
            await self.bus.publish(inbox_topic(info.inbox), {"kind": "conversation", **summary(info)})

    async def publish_result(self, result: Any) -> None:
        """Publish what a handler returned: an event, several, an async stream of them, or None."""
        if result is None:
            return
        if isinstance(result, Event):
            await self.publish(result)
        elif isinstance(result, AsyncIterator) or inspect.isasyncgen(result):
            async for event in result:
                if isinstance(event, Event):
                    await self.publish(event)
        else:
            for item in result:
                if isinstance(item, Event):
                    await self.publish(item)

    async def agent_conversation(self, agent: Any, conversation_id: str) -> ConversationInfo:
        """The conversation, if this agent may act on it (else AccessError forbidden)."""
        info = await self.store.get(conversation_id)
        if not may_see(agent, info.inbox):
            raise AccessError("This conversation belongs to an inbox you do not handle.", code="forbidden")
        return info

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        state = self.runtime.readiness()
        if isinstance(state, dict):
            return all(bool(v) for v in state.values()), state
        return bool(state), {"runtime": bool(state)}
