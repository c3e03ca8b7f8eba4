"""How an answer's events reach the store (assistant.answering.stream_answer), on the
real SQLite store: text the model has at once shares AnswerStarted's commit; a model
that takes its time gets AnswerStarted stored alone first, so the client knows."""

from __future__ import annotations

import pytest

from assistant.answering import stream_answer
from assistant.events import Event
from assistant.llm.base import ChatMessage, ChatRequest
from assistant.llm.fake import FakeLLM, FixedLLM
from assistant.store.sqlite import SQLiteStore

REQUEST = ChatRequest((ChatMessage("user", "where is my order?"),))


class Counting:
    """The real store, recording the events of each transaction."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.commits: list[list[str]] = []

    async def append(self, event: Event) -> Event:
        self.commits.append([event.type])
        return await self.store.append(event)

    async def append_many(self, events: list[Event]) -> list[Event]:
        self.commits.append([e.type for e in events])
        return await self.store.append_many(events)


@pytest.fixture
def store(sqlite_store: SQLiteStore) -> SQLiteStore:
    return sqlite_store


async def answer(store: SQLiteStore, llm: object, *,
                 leave_after: int | None = None) -> tuple[list[Event], Counting, str]:
    cid = (await store.create()).id
    counting = Counting(store)
    stream = stream_answer(counting, llm, REQUEST, conversation_id=cid, answer_id="a1", sources=())  # type: ignore[arg-type]
    got: list[Event] = []
    async for event in stream:
        got.append(event)
        if leave_after is not None and len(got) == leave_after:
            await stream.aclose()  # the consumer goes away
            break
    return got, counting, cid


async def test_a_first_token_at_hand_shares_the_answer_started_commit(store: SQLiteStore) -> None:
    got, counting, cid = await answer(store, FakeLLM(["Your ", "order ", "ships."]))
    assert counting.commits[0] == ["answer_started", "delta"]
    assert got[0].type == "answer_started" and got[-1].type == "answer"
    assert "".join(e.text for e in got if e.type == "delta") == "Your order ships."  # type: ignore[attr-defined]
    assert got == await store.events(cid)
    assert [e.seq for e in got] == list(range(1, len(got) + 1))


async def test_a_whole_answer_at_hand_is_one_commit(store: SQLiteStore) -> None:
    got, counting, cid = await answer(store, FixedLLM("Open Orders, then press Cancel."))
    assert counting.commits == [["answer_started", "delta", "answer"]]
    assert got[-1].text == "Open Orders, then press Cancel."  # type: ignore[attr-defined]
    assert got == await store.events(cid)


async def test_a_slow_model_gets_answer_started_stored_alone_first(store: SQLiteStore) -> None:
    got, counting, _ = await answer(store, FakeLLM(["Your ", "order."], delay=0.05))
    assert counting.commits[0] == ["answer_started"]
    assert [e.type for e in got] == ["answer_started", "delta", "delta", "answer"]


async def test_a_model_failing_at_once_ends_the_turn_in_the_same_commit(store: SQLiteStore) -> None:
    got, counting, cid = await answer(store, FakeLLM(["never"], fail_after=0))
    assert counting.commits == [["answer_started", "error"]]
    assert [e.type for e in await store.events(cid)] == ["answer_started", "error"]


async def test_leaving_after_the_first_event_of_a_closed_batch_adds_no_second_closing(
        store: SQLiteStore) -> None:
    got, _, cid = await answer(store, FixedLLM("All done here."), leave_after=1)
    assert [e.type for e in got] == ["answer_started"]
    log = await store.events(cid)
    assert [e.type for e in log] == ["answer_started", "delta", "answer"]  # stored whole, once
    assert not log[-1].interrupted  # type: ignore[attr-defined]


async def test_leaving_mid_stream_stores_what_was_said_as_interrupted(store: SQLiteStore) -> None:
    got, _, cid = await answer(store, FakeLLM(["One ", "two ", "three ", "four."], delay=0.01), leave_after=3)
    log = await store.events(cid)
    assert log[-1].type == "answer" and log[-1].interrupted  # type: ignore[attr-defined]
    deltas = "".join(e.text for e in log if e.type == "delta")  # type: ignore[attr-defined]
    assert log[-1].text == deltas and deltas.startswith("One two ")  # type: ignore[attr-defined]


async def test_an_answer_closed_meanwhile_by_another_worker_just_stops(store: SQLiteStore) -> None:
    """Another worker took this one for dead and closed the answer (recover_answers):
    the stream stops at its next write, adds nothing after the close, raises nothing."""
    from assistant.events import AnswerCompleted

    cid = (await store.create()).id
    llm = FakeLLM(["Your ", "order ", "ships ", "today."], delay=0.05)
    stream = stream_answer(store, llm, REQUEST, conversation_id=cid, answer_id="a1", sources=())
    got = [await anext(stream), await anext(stream)]  # answer_started, then the first delta
    await store.append(AnswerCompleted(conversation_id=cid, message_id="a1", text="Your ", interrupted=True))
    got += [event async for event in stream]
    log = await store.events(cid)
    assert [e.type for e in got] == ["answer_started", "delta"]
    assert [e.type for e in log] == ["answer_started", "delta", "answer"] and log[-1].interrupted  # type: ignore[attr-defined]
