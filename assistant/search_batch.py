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

from collections.abc import Mapping, Sequence
from typing import NamedTuple, Protocol

from assistant.batching import CONCURRENCY, MAX_BATCH, Batcher
from knowledge.records import Audience, Hit


class Searchable(Protocol):
    """What the dialogue and the batcher need of knowledge.base.KnowledgeBase (blocking: run
    off the loop). `audience="customer"` must leave out internal records; "any" (agents)
    includes them. `filters` keeps records whose metadata has these values ({"intent": ...})."""

    def search(self, query: str, k: int | None = None, *, audience: Audience = "customer",
               filters: Mapping[str, str] | None = None) -> list[Hit]: ...


class _Query(NamedTuple):
    query: str
    k: int
    audience: Audience
    filters: tuple[tuple[str, str], ...] = ()


class BatchedSearch:
    def __init__(self, knowledge: Searchable, *, max_batch: int = MAX_BATCH,
                 concurrency: int = CONCURRENCY) -> None:
        self.knowledge = knowledge
        # one call per k, audience and filters: a batch must give what a lone search gives
        self._batcher: Batcher[_Query, list[Hit]] = Batcher(
            self._search_many, key=lambda q: (q.k, q.audience, q.filters), max_batch=max_batch,
            concurrency=concurrency)

    @property
    def batches(self) -> int:
        """Calls made to the knowledge base, for tests and benchmarks."""
        return self._batcher.batches

    @property
    def searched(self) -> int:
        return self._batcher.done

    async def search(self, query: str, k: int, *, audience: Audience = "customer",
                     filters: Mapping[str, str] | None = None) -> list[Hit]:
        """The k best hits for the query, as knowledge.search(query, k, audience=…) gives them."""
        return await self._batcher(_Query(query, k, audience, tuple(sorted((filters or {}).items()))))

    def _search_many(self, queries: Sequence[_Query]) -> list[list[Hit]]:
        k, audience = queries[0].k, queries[0].audience
        # the protocol's own doubles need not take filters they are never given
        extra = {"filters": dict(queries[0].filters)} if queries[0].filters else {}
        search_many = getattr(self.knowledge, "search_many", None)
        if search_many is None or len(queries) == 1:
            return [self.knowledge.search(q.query, k, audience=audience, **extra) for q in queries]
        return list(search_many([q.query for q in queries], k, audience=audience, **extra))
