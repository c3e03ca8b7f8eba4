"""Turns (assistant.turns): a turn's stored events all get published, also when the turn is
cut off or fails, and a turn that ends normally costs no store read after it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from assistant.answering import stream_answer
from assistant.events import AnswerCompleted, ErrorEvent, Event, UserMessage
from assistant.llm.base import ChatMessage, ChatRequest
from assistant.llm.fake import FakeLLM
from assistant.store.sqlite import SQLiteStore
from assistant.turns import Turns
from channels.metrics import Metrics


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


class HangingLLM(FakeLLM):
    """Says "Hel", then waits forever (a model cut off by a shutdown)."""

    async def stream(self, request: ChatRequest) -> Any:
        async for delta in super().stream(request):
            yield delta
        await asyncio.Event().wait()


class Dialogue:
    """Stores a message, then answers "Hel" with the real answer stream (which closes its answer
    on every exit); `hang` makes the model wait forever after "Hel", `fail` makes it fail, and
    `slow_message` holds the message's write so a cancel lands inside it."""

    def __init__(self, store: SQLiteStore, *, hang: bool = False, slow_message: bool = False,
                 fail: bool = False) -> None:
        self.store = store
        self.llm = (HangingLLM(["Hel"]) if hang else
                    FakeLLM(["Hel", "lo"], fail_after=1) if fail else FakeLLM(["Hel"]))
        self.hang = hang
        self.slow_message = slow_message
        self.reached = asyncio.Event()

    async def resent(self, conversation_id: str, client_msg_id: str) -> bool:
        return False

    async def handle(self, turn: UserMessage, *, trace: Any = None) -> Any:
        cid = turn.conversation_id
        trace.last_seq = (await self.store.get(cid)).last_seq
        write = asyncio.ensure_future(self.store.append(UserMessage(conversation_id=cid, message_id="u1",
                                                                    text=turn.text)))
        if self.slow_message:
            self.reached.set()
            await asyncio.Event().wait()  # cancelled here: the write commits, nobody yields it
        yield await write
        request = ChatRequest(messages=(ChatMessage(role="user", content=turn.text),))
        async for event in stream_answer(self.store, self.llm, request, conversation_id=cid, answer_id="a1",
                                         sources=(), question_id="u1"):
            yield event
            if event.type == "delta":
                self.reached.set()


def runner(dialogue: Dialogue, store: Any) -> tuple[Turns, list[Event]]:
    published: list[Event] = []

    async def publish(event: Event) -> None:
        published.append(event)
    return Turns(dialogue, store, publish=publish, observer=Metrics()), published  # type: ignore[arg-type]


def said(cid: str, text: str) -> UserMessage:
    return UserMessage(conversation_id=cid, text=text)


async def test_a_turn_that_ends_normally_publishes_all_and_reads_nothing_after(store) -> None:
    counting = ReadCounting(store)
    turns, published = runner(Dialogue(store), counting)
    conv = await store.create()
    turns.start(said(conv.id, "hi"))
    await turns.drain(5)
    assert [e.type for e in published] == ["message", "answer_started", "delta", "answer"]
    assert counting.log_reads == 0


async def test_a_cut_off_answer_is_closed_with_what_was_said_and_published(store) -> None:
    dialogue = Dialogue(store, hang=True)
    turns, published = runner(dialogue, store)
    conv = await store.create()
    await store.append(UserMessage(conversation_id=conv.id, message_id="u0", text="earlier"))
    turns.start(said(conv.id, "hi"))
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
    turns.start(said(conv.id, "hi"))
    await asyncio.wait_for(dialogue.reached.wait(), 5)
    await asyncio.sleep(0.2)  # the write commits while the turn waits
    await turns.drain(0)
    assert [(e.type, e.seq) for e in published] == [("message", 1)]


async def test_a_failed_model_ends_the_answer_with_an_error_naming_answer_and_question(store) -> None:
    turns, published = runner(Dialogue(store, fail=True), store)
    conv = await store.create()
    turns.start(said(conv.id, "hi"))
    await turns.drain(5)
    error = published[-1]
    assert isinstance(error, ErrorEvent) and error.code == "model_error"
    assert (error.message_id, error.answer_id) == ("u1", "a1")
    assert [e.type for e in await store.events(conv.id)] == [e.type for e in published]


async def test_a_turn_that_crashes_stores_an_error_naming_the_question(store) -> None:
    class Crashing(Dialogue):
        async def handle(self, turn: UserMessage, *, trace: Any = None) -> Any:
            trace.last_seq = 0
            yield await self.store.append(UserMessage(conversation_id=turn.conversation_id, message_id="u1",
                                                      text=turn.text))
            raise RuntimeError("a bug")

    turns, published = runner(Crashing(store), store)
    conv = await store.create()
    turns.start(said(conv.id, "hi"))
    await turns.drain(5)
    error = published[-1]
    assert isinstance(error, ErrorEvent) and (error.code, error.message_id) == ("internal", "u1")
    assert "went wrong" in error.message and "a bug" not in error.message


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
