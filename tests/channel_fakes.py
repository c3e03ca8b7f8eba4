"""Stand-ins for the service tests: a FakeDialogue on the REAL SQLite store.

FakeDialogue does what the dialogue manager promises the channels (store each
event, then yield it) with a scripted answer instead of a model. A `gate`
(threading.Event, set from the test thread) can hold an answer after its first
delta, to drop a socket in the middle of a stream.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import uuid
import zlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.agent_knowledge import resolved_record
from assistant.errors import InputError, ModelUnavailable
from assistant.events import (
    AgentMessage,
    AnswerCompleted,
    AnswerDelta,
    AnswerStarted,
    Event,
    Feedback,
    Source,
    StatusChanged,
    Suggestion,
    UserMessage,
)
from assistant.store.sqlite import SQLiteStore
from channels.errors import AccessError
from knowledge.records import Hit, Record
from knowledge.redact import Redactor


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


SOURCE = Source(id="bitext-1", score=0.9, intent="cancel_order", category="ORDER", title="cancel my order")


class FakeDialogue:
    def __init__(self, store: SQLiteStore, words: tuple[str, ...] = ("Hel", "lo", " there")) -> None:
        self.store = store
        self.words = words
        self.gate: threading.Event | None = None  # when set: hold each answer after its first delta
        self.crash_on = "CRASH"  # a message containing this raises (a bug in the manager)
        self.delay = 0.0  # seconds before each delta (a slow model)
        self.turns: list[UserMessage] = []

    async def new_conversation(self, user_id: str = "", inbox: str = "default") -> Any:
        return await self.store.create(user_id=user_id, inbox=inbox)

    async def handle(self, turn: UserMessage, *, trace: Any = None) -> AsyncIterator[Event]:
        self.turns.append(turn)
        cid = turn.conversation_id
        if trace is not None:
            trace.last_seq = (await self.store.get(cid)).last_seq
        yield await self.store.append(dataclasses.replace(turn, message_id=_id("u")))
        if self.crash_on in turn.text:
            raise ModelUnavailable("The model server is not reachable.")
        if (await self.store.get(cid)).state != "bot":
            return
        mid = _id("ans")
        yield await self.store.append(AnswerStarted(conversation_id=cid, message_id=mid))
        said: list[str] = []
        try:
            for i, word in enumerate(self.words):
                if i == 1 and self.gate is not None:
                    while not self.gate.is_set():
                        await asyncio.sleep(0.01)
                if self.delay:
                    await asyncio.sleep(self.delay)
                said.append(word)
                yield await self.store.append(AnswerDelta(conversation_id=cid, message_id=mid, text=word))
        except asyncio.CancelledError:
            await self.store.append(AnswerCompleted(conversation_id=cid, message_id=mid, text="".join(said),
                                                    interrupted=True))
            raise
        yield await self.store.append(AnswerCompleted(conversation_id=cid, message_id=mid,
                                                      text="".join(said), sources=(SOURCE,)))

    async def request_handoff(self, conversation_id: str, reason: str) -> list[Event]:
        return [await self.store.append(StatusChanged(conversation_id=conversation_id, state="waiting_human",
                                                     reason=reason))]

    async def take_over(self, conversation_id: str, agent: str) -> list[Event]:
        return [await self.store.append(StatusChanged(conversation_id=conversation_id, state="human",
                                                     reason="agent", agent=agent))]

    async def hand_back(self, conversation_id: str, agent: str) -> list[Event]:
        return [await self.store.append(StatusChanged(conversation_id=conversation_id, state="bot",
                                                     reason="agent"))]

    async def close(self, conversation_id: str, by: str) -> list[Event]:
        return [await self.store.append(StatusChanged(conversation_id=conversation_id, state="closed",
                                                     reason="closed"))]

    async def agent_reply(self, conversation_id: str, agent: str, text: str) -> list[Event]:
        return [await self.store.append(AgentMessage(conversation_id=conversation_id, message_id=_id("g"),
                                                    text=text, agent=agent))]

    async def resent(self, conversation_id: str, client_msg_id: str) -> bool:
        return await self.store.find_client_message(conversation_id, client_msg_id) is not None

    async def feedback(self, conversation_id: str, message_id: str, rating: str,
                       comment: str = "") -> list[Event]:
        return [await self.store.append(Feedback(conversation_id=conversation_id, message_id=message_id,
                                                 rating=rating, comment=comment))]  # type: ignore[arg-type]

    async def suggest(self, conversation_id: str) -> AsyncIterator[Event]:
        yield await self.store.append(Suggestion(conversation_id=conversation_id, message_id=_id("s"),
                                                 text="You can cancel it under Orders.", sources=(SOURCE,)))


class FakeKnowledge:
    """Agents' knowledge that finds one made-up answer and cannot take new records."""

    async def search(self, query: str, k: int) -> list[Hit]:
        record = Record(id="bitext-1", request=query, resolution=f"answer about {query}")
        return [Hit(record=record, score=0.9, text=record.resolution)][:k]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """A unit vector per distinct text: no two questions group together."""
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i, zlib.crc32(text.encode()) % 64] = 1.0
        return out

    async def intents(self) -> list[str]:
        return ["cancel_order", "track_order"]

    async def save_resolved(self, conversation_id: str, request: str, resolution: str, *,
                            agent: str, inbox: str = "", intent: str = "") -> Record:
        resolved_record(conversation_id, request, resolution, Redactor(), agent=agent)  # the real checks
        raise InputError("This server's knowledge base cannot take new records.", code="kb_read_only")

    async def learned(self) -> list[Record]:
        return []

    async def learn(self, found: Sequence[Any], *, exclude: Any = (), dry_run: bool = False) -> Any:
        raise InputError("This server's knowledge base cannot take new records.", code="kb_read_only")

    async def lesson(self, record_id: str) -> Record:
        code = "lesson_not_found" if record_id.startswith("learned-") else "not_learned"
        raise InputError(f"No learned record {record_id!r} is stored.", code=code)

    async def forget_learned(self, record_id: str) -> None:
        await self.lesson(record_id)


@dataclass
class FakeRuntime:
    store: SQLiteStore
    dialogue: FakeDialogue
    agent_knowledge: Any = field(default_factory=FakeKnowledge)  # or a real AgentKnowledge
    ready: bool = True

    def readiness(self) -> dict[str, str | bool]:
        return {"store": True, "models": self.ready}


class FakeRuntimeFactory:
    """runtime_factory for create_app; keeps the runtime so tests can reach the fake."""

    def __init__(self) -> None:
        self.runtime: FakeRuntime | None = None

    @asynccontextmanager
    async def __call__(self, settings: Any) -> AsyncIterator[FakeRuntime]:
        store = SQLiteStore(settings.path("conversations.db"))
        await store.open()
        self.runtime = FakeRuntime(store=store, dialogue=FakeDialogue(store))
        try:
            yield self.runtime
        finally:
            await store.close()


@dataclass(frozen=True)
class FakeAgent:
    name: str
    inboxes: tuple[str, ...]


class FakeAuthenticator:
    """Tokens are 'token-<name>'; dana handles inbox default, otto only inbox other, lee every inbox."""

    agents = {"token-dana": FakeAgent("dana", ("default",)), "token-otto": FakeAgent("otto", ("other",)),
              "token-lee": FakeAgent("lee", ("*",))}

    def verify_agent_token(self, token: str) -> FakeAgent:
        try:
            return self.agents[token]
        except KeyError:
            raise AccessError("The token is not valid.", code="unauthorized") from None

    def verify_customer(self, user_id: str, user_hash: str) -> bool:
        return user_hash == f"signed-{user_id}"



def with_server(settings: Any, **server: Any) -> Any:
    """These settings with some [server] keys changed."""
    return settings.model_copy(update={"server": settings.server.model_copy(update=server)})


def hello(ws: Any, **fields: Any) -> dict[str, Any]:
    ws.send_json({"type": "hello", **fields})
    ready = ws.receive_json()
    assert ready["type"] == "ready", ready
    return ready


def until(ws: Any, type_: str) -> list[dict[str, Any]]:
    """Frames up to and including the first of this type."""
    frames = []
    while True:
        frames.append(ws.receive_json())
        if frames[-1]["type"] == type_:
            return frames
        if type_ == "answer" and frames[-1].get("state") == "waiting_human":
            # no answer will come: fail now rather than wait forever
            raise AssertionError(f"handed to a person instead of answered: {frames[-1]}")


def say(ws: Any, text: str, cmid: str = "m1", **fields: Any) -> None:
    ws.send_json({"type": "message", "text": text, "client_msg_id": cmid, **fields})
