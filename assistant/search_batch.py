"""Knowledge-base searches of concurrent turns, run together.

Embedding one question and querying Chroma for it costs ~11 ms of CPU; the same
work for eight questions in one call costs ~5 ms each, because the ONNX model and
Chroma's query have a large fixed cost per call. On a busy server many customers
ask at once, so:

    searcher = BatchedSearch(knowledge)
    hits = await searcher.search("where is my parcel?", k=4)

At most `concurrency` (2) searches run at a time, each in a worker thread.
Questions that arrive while they run wait and go together in the next call (at
most `max_batch`). A lone question is searched at once, so a quiet server answers
as fast as before; a busy one does less work per question and does not pile up
parallel ONNX runs on two cores. benchmarks/load.py measures the difference.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from knowledge.records import Audience, Hit

log = logging.getLogger(__name__)

MAX_BATCH = 16  # past this, a batch's latency grows faster than the work per question shrinks
# Two calls at once: a question that comes while one runs need not wait for it (on the
# load benchmark's 2 cores, p99 time to first delta 49-53 ms against 68-72 ms with one).
CONCURRENCY = 2


class Searchable(Protocol):
    """What the batcher needs of knowledge.base.KnowledgeBase (blocking: run off the loop)."""

    def search(self, query: str, k: int | None = None, *, audience: Audience = "customer") -> list[Hit]: ...


@dataclass(eq=False)  # each request is itself: batches are taken out by identity
class _Request:
    query: str
    k: int
    audience: Audience
    done: asyncio.Future[list[Hit]] = field(repr=False)


class BatchedSearch:
    def __init__(self, knowledge: Searchable, *, max_batch: int = MAX_BATCH,
                 concurrency: int = CONCURRENCY) -> None:
        self.knowledge = knowledge
        self.max_batch = max_batch
        self.concurrency = concurrency  # searches (batches) running at once
        self._waiting: list[_Request] = []
        self._runners: set[asyncio.Task[None]] = set()
        self.batches = 0  # calls made, for tests and benchmarks
        self.searched = 0  # questions answered

    async def search(self, query: str, k: int, *, audience: Audience = "customer") -> list[Hit]:
        """The k best hits for the query, as knowledge.search(query, k, audience=…) gives them."""
        request = _Request(query, k, audience, asyncio.get_running_loop().create_future())
        self._waiting.append(request)
        # A finished runner stays in the set until its done-callback runs: count live ones.
        if sum(not r.done() for r in self._runners) < self.concurrency:
            runner = asyncio.create_task(self._run())
            self._runners.add(runner)
            runner.add_done_callback(self._runners.discard)
        # A turn cancelled while it waits cancels only its own future: the batch goes on
        # for the others and its result for this one is dropped.
        return await request.done

    async def _run(self) -> None:
        batch: list[_Request] = []
        try:
            while self._waiting:
                # one call per k and audience: a batch must give what a lone search gives
                k, audience = self._waiting[0].k, self._waiting[0].audience
                batch = [r for r in self._waiting if (r.k, r.audience) == (k, audience)][: self.max_batch]
                self._waiting = [r for r in self._waiting if r not in batch]
                await self._search(batch, k)
        finally:  # cancelled (the server is stopping): nobody may wait for ever
            others = [r for r in self._runners if r is not asyncio.current_task() and not r.done()]
            for request in batch if others else [*batch, *self._waiting]:
                if not request.done.done():
                    request.done.cancel()

    async def _search(self, batch: list[_Request], k: int) -> None:
        try:
            results = await asyncio.to_thread(self._search_many, [r.query for r in batch], k,
                                              batch[0].audience)
        except Exception as exc:  # noqa: BLE001 - each question gets its own outcome below
            if len(batch) == 1:
                _settle(batch[0], exc=exc)
                return
            # One bad question must not fail the others: search them one by one.
            log.debug("batched search failed (%s); searching one by one", exc)
            for request in batch:
                await self._search([request], k)
            return
        self.batches += 1
        self.searched += len(batch)
        for request, hits in zip(batch, results, strict=True):
            _settle(request, hits=hits)

    def _search_many(self, queries: Sequence[str], k: int, audience: Audience) -> list[list[Hit]]:
        search_many = getattr(self.knowledge, "search_many", None)
        if search_many is None or len(queries) == 1:
            return [self.knowledge.search(q, k, audience=audience) for q in queries]
        return list(search_many(queries, k, audience=audience))


def _settle(request: _Request, *, hits: list[Hit] | None = None, exc: BaseException | None = None) -> None:
    if request.done.done():  # its turn went away
        return
    if exc is not None:
        request.done.set_exception(exc)
    else:
        request.done.set_result(hits or [])
