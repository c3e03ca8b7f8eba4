"""What every endpoint of one app shares: the runtime, the bus, limits, metrics, turns.

Built in the lifespan (channels.app) and kept on `app.state.service`. Every
stored event goes through `publish`: on `conv:<id>` for the sockets following the
conversation (on any worker), and (Summaries, soon after) a summary on `inbox:<name>`
for the console.
Every agent endpoint and frame goes through `verify_agent`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from assistant.events import Event
from assistant.ports import Dialogue, Runtime
from assistant.settings import Settings
from assistant.store.base import ConversationInfo, ConversationStore
from assistant.turns import Turns
from channels.accounts import AccountCheck, AgentIdentity, Authenticator, agent_conversation, verify_agent
from channels.bus import Bus
from channels.frames import ConversationSummary
from channels.limits import IpBuckets, Limits
from channels.metrics import Metrics
from channels.views import conv_topic, event_message, inbox_topic, summary_message

log = logging.getLogger(__name__)

# Deltas would flood the console list; these change what a summary shows.
_SUMMARY_TYPES = frozenset({"message", "answer", "status", "agent_message", "error"})


class Summaries:
    """Each conversation's summary on its inbox topic, published beside the turn, not in it.

    A summary needs a store read, and a turn should not wait for the console's list.
    Events that arrive while a conversation's summary is being read and sent are
    covered by one more read after it: the latest state wins, a burst costs two
    reads, and the last summary sent is never older than the last event.
    """

    def __init__(self, store: ConversationStore, bus: Bus) -> None:
        self.store = store
        self.bus = bus
        self._running: dict[str, asyncio.Task[None]] = {}
        self._stale: set[str] = set()  # changed since its running task read it

    def touch(self, conversation_id: str) -> None:
        if conversation_id in self._running:
            self._stale.add(conversation_id)
        else:
            self._running[conversation_id] = asyncio.create_task(
                self._send(conversation_id), name=f"summary:{conversation_id}")

    async def _send(self, conversation_id: str) -> None:
        try:
            while True:
                self._stale.discard(conversation_id)
                try:
                    info = await self.store.get(conversation_id)
                    message = summary_message(ConversationSummary.of(info))
                    await self.bus.publish(inbox_topic(info.inbox), message)
                except Exception:  # the console's list misses one update; the log has it all
                    log.exception("could not publish the summary of conversation %s", conversation_id)
                if conversation_id not in self._stale:
                    return
        finally:
            self._running.pop(conversation_id, None)

    async def flush(self) -> None:
        """Wait for the summaries being sent (before the bus closes)."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)


@dataclass
class Service:
    settings: Settings
    runtime: Runtime
    bus: Bus
    auth: Authenticator
    metrics: Metrics
    limits: Limits
    ip_buckets: IpBuckets
    # Tokens of channels.accounts.AgentAuth name store accounts and die with them; an authenticator
    # of another kind (a test's, say) answers for its own tokens alone: None.
    accounts: AccountCheck | None = None
    turns: Turns = field(init=False)  # customers' turns, owned by the assistant; this app publishes
    summaries: Summaries = field(init=False)
    shutting_down: bool = False

    def __post_init__(self) -> None:
        self.turns = Turns(self.runtime.dialogue, self.runtime.store, publish=self.publish,
                           observer=self.metrics)
        self.summaries = Summaries(self.runtime.store, self.bus)

    @property
    def store(self) -> ConversationStore:
        return self.runtime.store

    @property
    def dialogue(self) -> Dialogue:
        return self.runtime.dialogue

    async def verify_agent(self, token: str) -> AgentIdentity:
        """The agent of a valid token whose account still stands (channels.accounts)."""
        return await verify_agent(token, self.auth, self.accounts)

    async def publish(self, event: Event) -> None:
        await self.bus.publish(conv_topic(event.conversation_id), event_message(event))
        if event.type in _SUMMARY_TYPES:
            self.summaries.touch(event.conversation_id)

    async def publish_all(self, events: Iterable[Event]) -> None:
        """Publish the events an agent's or a customer's action stored, in order."""
        for event in events:
            await self.publish(event)

    async def publish_stream(self, events: AsyncIterator[Event]) -> None:
        """Publish each event of a stream as the dialogue stores it (a suggestion)."""
        async for event in events:
            await self.publish(event)

    async def agent_conversation(self, agent: AgentIdentity, conversation_id: str) -> ConversationInfo:
        """The conversation, if this agent may act on it (else AccessError forbidden)."""
        return await agent_conversation(self.runtime.store, agent, conversation_id)

    def readiness(self) -> tuple[bool, dict[str, str | bool]]:
        state = self.runtime.readiness()
        return all(bool(v) for v in state.values()), state
