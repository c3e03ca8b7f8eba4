"""Answers cut off by a dead worker are closed once, by another worker (assistant.store.leases).

Each store instance is a worker; "killing" one stops its lease renewals without the
clean close, as `kill -9` would. Both engines, real databases.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from test_store import Factory, make_store  # noqa: F401 - the fixture, both engines

from assistant.events import AnswerCompleted, AnswerDelta, AnswerStarted, ErrorEvent, UserMessage

LEASE = 0.5  # seconds: short, so a test waits for a lease to run out without sleeping long


@asynccontextmanager
async def worker(make_store: Factory) -> AsyncIterator[object]:  # noqa: F811
    store = make_store()
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def half_answer(store: object, text: str = "Your order ") -> tuple[str, str]:
    """A conversation whose answer was started and streamed in part; (conversation, answer) ids."""
    info = await store.create()  # type: ignore[attr-defined]
    cid = info.id
    await store.append(UserMessage(conversation_id=cid, message_id="u1", text="where is my order?"))  # type: ignore[attr-defined]
    await store.append(AnswerStarted(conversation_id=cid, message_id="a1"))  # type: ignore[attr-defined]
    for word in text.split(" "):
        if word:
            await store.append(AnswerDelta(conversation_id=cid, message_id="a1", text=word + " "))  # type: ignore[attr-defined]
    return cid, "a1"


async def kill(store: object) -> None:
    """Stop renewing the lease, as a killed process would; the rows stay behind."""
    await store._lease.stop()  # type: ignore[attr-defined]


async def test_a_dead_workers_answer_is_closed_once_with_its_text(make_store):  # noqa: F811
    async with worker(make_store) as a, worker(make_store) as b, worker(make_store) as c:
        cid, mid = await half_answer(a, "Your order ships today ")
        assert await b.recover_answers(LEASE) == []  # a is alive: its lease is fresh
        await kill(a)
        await asyncio.sleep(LEASE * 2)
        # two workers sweep at the same moment: the answer is closed by exactly one
        found = await asyncio.gather(b.recover_answers(LEASE), c.recover_answers(LEASE))
        closes = [e for events in found for e in events]
        assert len(closes) == 1
        close = closes[0]
        assert isinstance(close, AnswerCompleted) and close.interrupted
        assert (close.conversation_id, close.message_id) == (cid, mid)
        assert close.text == "Your order ships today "
        log = await b.events(cid)
        assert log[-1] == close and [e.seq for e in log] == list(range(1, len(log) + 1))
        assert await b.recover_answers(LEASE) == [] and await c.recover_answers(LEASE) == []


async def test_a_live_worker_keeps_its_answers(make_store):  # noqa: F811
    async with worker(make_store) as a, worker(make_store) as b:
        await a._lease.stop()
        a._lease.interval = LEASE / 5  # renews as a running server does, only faster
        await a._lease.start()
        cid, _ = await half_answer(a)
        await asyncio.sleep(LEASE * 3)
        assert await b.recover_answers(LEASE) == []
        assert await a.recover_answers(0.0) == []  # nor does a worker take its own answers
        assert (await b.events(cid))[-1].type == "delta"


async def test_closed_answers_are_not_recovered(make_store):  # noqa: F811
    async with worker(make_store) as a, worker(make_store) as b:
        done, _ = await half_answer(a)
        await a.append(AnswerCompleted(conversation_id=done, message_id="a1", text="Your order"))
        failed, _ = await half_answer(a)
        await a.append(ErrorEvent(conversation_id=failed, code="model_error", message="x", answer_id="a1"))
        await kill(a)
        await asyncio.sleep(LEASE * 2)
        assert await b.recover_answers(LEASE) == []


async def test_a_clean_close_hands_open_answers_over_at_once(make_store):  # noqa: F811
    async with worker(make_store) as b:
        async with worker(make_store) as a:
            cid, _ = await half_answer(a)
        # a left cleanly (its drain failed to close the answer, say): no lease to wait out
        closes = await b.recover_answers(3600.0)
        assert [(e.conversation_id, e.interrupted) for e in closes] == [(cid, True)]  # type: ignore[attr-defined]


async def test_a_stalled_worker_cannot_write_to_an_answer_closed_under_it(make_store):  # noqa: F811
    """A worker whose loop stalled past its lease comes back to find its answer closed:
    its late delta and completion are refused, the log ends with the one close."""
    from assistant.errors import AnswerClosed

    async with worker(make_store) as a, worker(make_store) as b:
        cid, mid = await half_answer(a, "Your order ")
        await kill(a)  # the stall: no renewal
        await asyncio.sleep(LEASE * 2)
        [close] = await b.recover_answers(LEASE)
        for late in (AnswerDelta(conversation_id=cid, message_id=mid, text="ships "),
                     AnswerCompleted(conversation_id=cid, message_id=mid, text="Your order ships"),
                     ErrorEvent(conversation_id=cid, code="model_error", message="x", answer_id=mid)):
            with pytest.raises(AnswerClosed) as refused:
                await a.append(late)
            assert refused.value.code == "answer_closed"
        log = await a.events(cid)
        assert log[-1] == close and [e.type for e in log].count("answer") == 1
        # an error about the customer's message (an unreadable attachment) names no answer
        unreadable = await a.append(ErrorEvent(conversation_id=cid, code="image_corrupt", message="x",
                                               message_id="u1"))
        assert unreadable.seq == close.seq + 1
        # a batch that opens its answer itself needs no row; one that continues a
        # never-opened answer is refused whole
        await a.append_many([AnswerStarted(conversation_id=cid, message_id="a2"),
                             AnswerDelta(conversation_id=cid, message_id="a2", text="Hi")])
        with pytest.raises(AnswerClosed):
            await a.append_many([AnswerDelta(conversation_id=cid, message_id="a2", text=" there"),
                                 AnswerDelta(conversation_id=cid, message_id="nope", text="?")])
        assert (await a.events(cid))[-1].text == "Hi"  # type: ignore[attr-defined]


async def test_a_late_delta_racing_the_sweep_lands_before_the_close_or_not_at_all(make_store):  # noqa: F811
    from assistant.errors import AnswerClosed

    async with worker(make_store) as a, worker(make_store) as b:
        answers = [await half_answer(a, "Your order ") for _ in range(8)]
        await kill(a)
        await asyncio.sleep(LEASE * 2)
        late = [a.append(AnswerDelta(conversation_id=cid, message_id=mid, text="ships"))
                for cid, mid in answers]
        outcomes = await asyncio.gather(b.recover_answers(LEASE), *late, return_exceptions=True)
        assert not isinstance(outcomes[0], BaseException), outcomes[0]  # no deadlock, no failure
        assert all(isinstance(o, AnswerClosed) or o.type == "delta" for o in outcomes[1:])  # type: ignore[union-attr]
        # PostgreSQL: a sweep skips an answer whose delta is being written; the next sweep closes it
        await b.recover_answers(LEASE)
        for cid, _ in answers:
            log = await b.events(cid)
            close = log[-1]
            assert isinstance(close, AnswerCompleted) and close.interrupted
            assert close.text == "".join(e.text for e in log if isinstance(e, AnswerDelta))


async def test_a_question_stored_by_a_dead_worker_is_closed_as_interrupted_once(make_store):  # noqa: F811
    """Killed after the customer's message was stored, before its answer started (searching,
    reading an image): the question must not stay silently unanswered."""
    async with worker(make_store) as a, worker(make_store) as b, worker(make_store) as c:
        asked = (await a.create()).id
        await a.append(UserMessage(conversation_id=asked, message_id="u1", text="where is my parcel?"))
        answered = (await a.create()).id
        await a.append(UserMessage(conversation_id=answered, message_id="u2", text="hi"))
        await a.append(AnswerStarted(conversation_id=answered, message_id="a2"))
        await a.append(AnswerCompleted(conversation_id=answered, message_id="a2", text="Hello!"))
        refused = (await a.create()).id
        await a.append(UserMessage(conversation_id=refused, message_id="u3", text=""))
        await a.append(ErrorEvent(conversation_id=refused, code="image_corrupt", message="bad",
                                  message_id="u3"))
        assert await b.recover_answers(LEASE) == []  # a is alive
        await kill(a)
        await asyncio.sleep(LEASE * 2)
        found = await asyncio.gather(b.recover_answers(LEASE), c.recover_answers(LEASE))
        closes = [e for events in found for e in events]
        assert len(closes) == 1  # only the unanswered question, and by one worker
        close = closes[0]
        assert isinstance(close, ErrorEvent) and close.code == "interrupted"
        assert (close.conversation_id, close.message_id) == (asked, "u1")
        assert (await b.events(asked))[-1] == close
        assert await b.recover_answers(LEASE) == []


async def test_a_question_a_person_is_to_answer_opens_no_turn(make_store):  # noqa: F811
    from assistant.events import StatusChanged

    async with worker(make_store) as a, worker(make_store) as b:
        cid = (await a.create()).id
        await a.append(UserMessage(conversation_id=cid, message_id="u1", text="a person please"))
        await a.append(StatusChanged(conversation_id=cid, state="waiting_human", reason="customer_request"))
        await a.append(UserMessage(conversation_id=cid, message_id="u2", text="hello? anyone?"))
        await kill(a)
        await asyncio.sleep(LEASE * 2)
        assert await b.recover_answers(LEASE) == []
