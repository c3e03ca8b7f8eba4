"""TurnRunner: a turn's stored events all get published, also when the turn is cut off,
and a turn that ends normally costs no store read after it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from assistant.events import AnswerCompleted, AnswerDelta, AnswerStarted, Event, UserMessage
from assistant.store.sqlite import SQLiteStore
from channels.handlers import Turn
from channels.metrics import Metrics
from channels.turns import TurnRunner


@pytest.fixture
def store(sqlite_store: SQLiteStore) -> SQLiteStore:
    return sqlite_store


class ReadCounting:
    """The real store; counts the reads of the event log."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.log_reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def events(self, *args: Any, **kwargs: Any) -> list[Event]:
        self.log_reads += 1
        return await self.store.events(*args, **kwargs)


class Dialogue:
    """Stores a message, starts an answer, says "Hel", then (if `hang`) waits forever;
    `slow_message` holds the message's write so a cancel lands inside it."""

    def __init__(self, store: SQLiteStore, *, hang: bool = False, slow_message: bool = False) -> None:
        self.store = store
        self.hang = hang
        self.slow_message = slow_message
        self.reached = asyncio.Event()

    async def handle(self, turn: Turn, *, trace: Any = None) -> Any:
        cid = turn.conversation_id
        trace.last_seq = (await self.store.get(cid)).last_seq
        write = asyncio.ensure_future(self.store.append(UserMessage(conversation_id=cid, message_id="u1",
                                                                    text=turn.text)))
        if self.slow_message:
            self.reached.set()
            await asyncio.Event().wait()  # cancelled here: the write commits, nobody yields it
        yield await write
        yield await self.store.append(AnswerStarted(conversation_id=cid, message_id="a1"))
        yield await self.store.append(AnswerDelta(conversation_id=cid, message_id="a1", text="Hel"))
        self.reached.set()
        if self.hang:
            await asyncio.Event().wait()
        yield await self.store.append(AnswerCompleted(conversation_id=cid, message_id="a1", text="Hel"))


def runner(dialogue: Dialogue, store: Any) -> tuple[TurnRunner, list[Event]]:
    published: list[Event] = []

    async def publish(event: Event) -> None:
        published.append(event)
    return TurnRunner(dialogue, store, publish, Metrics()), published


async def test_a_turn_that_ends_normally_publishes_all_and_reads_nothing_after(store) -> None:
    counting = ReadCounting(store)
    turns, published = runner(Dialogue(store), counting)
    conv = await store.create()
    turns.start(Turn(conv.id, "hi"))
    await turns.drain(5)
    assert [e.type for e in published] == ["message", "answer_started", "delta", "answer"]
    assert counting.log_reads == 0


async def test_a_cut_off_answer_is_closed_with_what_was_said_and_published(store) -> None:
    dialogue = Dialogue(store, hang=True)
    turns, published = runner(dialogue, store)
    conv = await store.create()
    await store.append(UserMessage(conversation_id=conv.id, message_id="u0", text="earlier"))
    turns.start(Turn(conv.id, "hi"))
    await asyncio.wait_for(dialogue.reached.wait(), 5)
    await turns.drain(0)  # shutdown: the turn is cancelled mid-answer
    assert [e.type for e in published] == ["message", "answer_started", "delta", "answer"]
    closing = published[-1]
    assert isinstance(closing, AnswerCompleted) and closing.interrupted and closing.text == "Hel"
    assert [e.seq for e in published] == [2, 3, 4, 5]  # nothing from before the turn again


async def test_a_message_stored_but_never_yielded_is_still_published(store) -> None:
    dialogue = Dialogue(store, slow_message=True)
    turns, published = runner(dialogue, store)
    conv = await store.create()
    turns.start(Turn(conv.id, "hi"))
    await asyncio.wait_for(dialogue.reached.wait(), 5)
    await asyncio.sleep(0.2)  # the write commits while the turn waits
    await turns.drain(0)
    assert [(e.type, e.seq) for e in published] == [("message", 1)]


# -- the console's summaries, published beside the turn ------------------------------

class Bus:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.sent.append((topic, message))


class GatedReads:
    """The real store; each `get` waits for the gate, and is counted."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.gets = 0
        self.gate = asyncio.Event()

    async def get(self, conversation_id: str) -> Any:
        self.gets += 1
        await self.gate.wait()
        return await self.store.get(conversation_id)


async def test_a_burst_of_events_costs_two_summary_reads_and_the_last_summary_is_current(store) -> None:
    from channels.service import Summaries

    gated, bus = GatedReads(store), Bus()
    summaries = Summaries(gated, bus)
    conv = await store.create(inbox="billing")
    summaries.touch(conv.id)  # the first read starts and waits
    await asyncio.sleep(0)
    for i in range(5):  # events stored while it waits
        await store.append(UserMessage(conversation_id=conv.id, message_id=f"u{i}", text="hi"))
        summaries.touch(conv.id)
    gated.gate.set()
    await summaries.flush()
    assert gated.gets == 2
    assert [topic for topic, _ in bus.sent] == ["inbox:billing", "inbox:billing"]
    assert bus.sent[-1][1]["last_seq"] == 5 and bus.sent[-1][1]["conversation_id"] == conv.id


async def test_a_summary_that_cannot_be_read_is_logged_and_touches_nothing_else(store, caplog) -> None:
    from channels.service import Summaries

    bus = Bus()
    summaries = Summaries(store, bus)
    conv = await store.create()
    summaries.touch("no-such-conversation")
    summaries.touch(conv.id)
    await summaries.flush()
    assert [m["conversation_id"] for _, m in bus.sent] == [conv.id]
    assert "no-such-conversation" in caplog.text
