"""Concurrent turns' questions searched together (assistant.search_batch), on a real
knowledge base: a batch must give each question exactly what a lone search gives."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from kb_data import bitext_rows, write_csv

from assistant.search_batch import BatchedSearch
from knowledge.base import KnowledgeBase
from knowledge.config import KnowledgeConfig
from knowledge.errors import QueryError

QUESTIONS = ["I want to cancel my order", "where is my parcel", "how do I get a refund",
             "I forgot my password", "can I pay with paypal", "change my delivery address"]


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    header, rows = bitext_rows(every=30)
    data = tmp_path_factory.mktemp("data")
    kb = KnowledgeBase(KnowledgeConfig(), data)
    kb.ingest([write_csv(Path(data) / "b.csv", header, rows)])
    yield kb
    kb.close()


class Counting:
    """The real knowledge base, counting the calls the batcher makes."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.calls: list[int] = []

    def search(self, query: str, k: int | None = None, *, audience: str = "customer") -> list:
        self.calls.append(1)
        return self.kb.search(query, k, audience=audience)  # type: ignore[arg-type]

    def search_many(self, queries: list[str], k: int | None = None, *, audience: str = "customer") -> list:
        self.calls.append(len(queries))
        return self.kb.search_many(queries, k, audience=audience)  # type: ignore[arg-type]


class ids:  # noqa: N801 - reads as a function in the asserts
    """Hit ids in order, and their scores up to float noise (a padded batch may differ
    from a lone run in the last bits)."""

    def __init__(self, hits: list) -> None:
        self.ids = [h.id for h in hits]
        self.scores = [h.score for h in hits]

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ids) and self.ids == other.ids
                and self.scores == pytest.approx(other.scores, abs=1e-4))

    def __repr__(self) -> str:
        return f"ids({self.ids}, {self.scores})"


async def test_concurrent_questions_share_calls_and_get_what_lone_searches_get(kb: KnowledgeBase) -> None:
    alone = [ids(kb.search(q, 4)) for q in QUESTIONS]
    counting = Counting(kb)
    searcher = BatchedSearch(counting)
    together = await asyncio.gather(*(searcher.search(q, 4) for q in QUESTIONS))
    assert [ids(h) for h in together] == alone
    # all six arrived before the first call started: one call
    assert counting.calls == [6]
    assert (searcher.batches, searcher.searched) == (1, 6)
    # one question is running; the five that come meanwhile go together in the next call
    counting.calls.clear()
    first = asyncio.create_task(searcher.search(QUESTIONS[0], 4))
    while not counting.calls:
        await asyncio.sleep(0.001)
    rest = await asyncio.gather(*(searcher.search(q, 4) for q in QUESTIONS[1:]))
    assert [ids(h) for h in [await first, *rest]] == alone
    assert counting.calls == [1, 5]


async def test_a_lone_question_is_searched_at_once(kb: KnowledgeBase) -> None:
    counting = Counting(kb)
    searcher = BatchedSearch(counting)
    for q in QUESTIONS[:3]:
        assert ids(await searcher.search(q, 3)) == ids(kb.search(q, 3))
    assert counting.calls == [1, 1, 1]


async def test_questions_with_different_k_are_not_mixed(kb: KnowledgeBase) -> None:
    searcher = BatchedSearch(Counting(kb))
    got = await asyncio.gather(searcher.search(QUESTIONS[0], 2), searcher.search(QUESTIONS[1], 5),
                               searcher.search(QUESTIONS[2], 2), searcher.search(QUESTIONS[3], 5))
    assert [len(h) for h in got] == [2, 5, 2, 5]
    assert [ids(h) for h in got] == [ids(kb.search(QUESTIONS[0], 2)), ids(kb.search(QUESTIONS[1], 5)),
                                     ids(kb.search(QUESTIONS[2], 2)), ids(kb.search(QUESTIONS[3], 5))]


async def test_a_bad_question_fails_alone(kb: KnowledgeBase) -> None:
    searcher = BatchedSearch(Counting(kb))
    got = await asyncio.gather(searcher.search(QUESTIONS[0], 3), searcher.search(QUESTIONS[1], 3),
                               searcher.search("   ", 3), searcher.search(QUESTIONS[2], 3),
                               return_exceptions=True)
    assert isinstance(got[2], QueryError)
    assert [ids(h) for h in (got[0], got[1], got[3])] == [ids(kb.search(q, 3)) for q in QUESTIONS[:3]]  # type: ignore[arg-type]


async def test_a_cancelled_turn_does_not_cancel_the_others(kb: KnowledgeBase) -> None:
    searcher = BatchedSearch(Counting(kb))
    first = asyncio.create_task(searcher.search(QUESTIONS[0], 3))
    await asyncio.sleep(0)  # the first search is running; these two wait for the next call
    gone = asyncio.create_task(searcher.search(QUESTIONS[1], 3))
    stays = asyncio.create_task(searcher.search(QUESTIONS[2], 3))
    await asyncio.sleep(0)
    gone.cancel()
    assert ids(await stays) == ids(kb.search(QUESTIONS[2], 3))
    assert ids(await first) == ids(kb.search(QUESTIONS[0], 3))
    assert gone.cancelled()


async def test_a_knowledge_base_without_search_many_is_searched_one_by_one(kb: KnowledgeBase) -> None:
    class Plain:
        def __init__(self) -> None:
            self.calls = 0

        def search(self, query: str, k: int | None = None, *, audience: str = "customer") -> list:
            self.calls += 1
            return kb.search(query, k, audience=audience)  # type: ignore[arg-type]

    plain = Plain()
    got = await asyncio.gather(*(BatchedSearch(plain).search(q, 2) for q in QUESTIONS[:3]))
    assert [ids(h) for h in got] == [ids(kb.search(q, 2)) for q in QUESTIONS[:3]]
    assert plain.calls == 3


class Slow:
    """The real knowledge base, each call held 50 ms longer, recording when calls run."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.spans: list[tuple[float, float]] = []

    def search(self, query: str, k: int | None = None, *, audience: str = "customer") -> list:
        return self.search_many([query], k)[0]

    def search_many(self, queries: list[str], k: int | None = None, *, audience: str = "customer") -> list:
        import time

        start = time.monotonic()
        time.sleep(0.05)
        hits = self.kb.search_many(queries, k)
        self.spans.append((start, time.monotonic()))
        return hits


@pytest.mark.parametrize("concurrency, overlap", [(1, False), (2, True)])
async def test_a_question_coming_while_one_runs_starts_at_once_up_to_the_concurrency(
        kb: KnowledgeBase, concurrency: int, overlap: bool) -> None:
    slow = Slow(kb)
    searcher = BatchedSearch(slow, concurrency=concurrency)
    first = asyncio.create_task(searcher.search(QUESTIONS[0], 3))
    await asyncio.sleep(0.01)  # the first call is running
    second = await searcher.search(QUESTIONS[1], 3)
    assert ids(second) == ids(kb.search(QUESTIONS[1], 3))
    assert ids(await first) == ids(kb.search(QUESTIONS[0], 3))
    (a_start, a_end), (b_start, b_end) = sorted(slow.spans)
    assert (b_start < a_end) is overlap


async def test_customer_and_agent_questions_are_not_mixed(kb: KnowledgeBase) -> None:
    """A batch is searched for one audience: an agent's question must not make a customer's
    search include internal records, nor a customer's hide them from the agent."""
    asked: dict[str, str] = {}  # question -> the audience it was searched for

    class Recording(Counting):
        def search(self, query: str, k: int | None = None, *, audience: str = "customer") -> list:
            asked[query] = audience
            return super().search(query, k, audience=audience)

        def search_many(self, queries: list[str], k: int | None = None, *,
                        audience: str = "customer") -> list:
            asked.update(dict.fromkeys(queries, audience))
            return super().search_many(queries, k, audience=audience)

    searcher = BatchedSearch(Recording(kb), concurrency=1)
    await asyncio.gather(searcher.search(QUESTIONS[0], 2), searcher.search(QUESTIONS[1], 2, audience="any"),
                         searcher.search(QUESTIONS[2], 2), searcher.search(QUESTIONS[3], 2, audience="any"))
    assert asked == {QUESTIONS[0]: "customer", QUESTIONS[1]: "any", QUESTIONS[2]: "customer",
                     QUESTIONS[3]: "any"}
