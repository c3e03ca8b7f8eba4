"""Search the collection: query text in, `Hit`s out, best first.

The query's typos are corrected toward the records' own words first (knowledge.spelling).
Cosine ranking, then the intent head (knowledge.intents) predicts the query's
intent (from its embedding, the words that name an intent and how near it is to each
intent's name: `intent_labels`, what customers call the intents, and to the ways they say
it: `intent_examples`) and the nearest record of that intent among the top `rerank_depth`
is put first. Scores stay the real cosine similarity, so after the first hit they are in
descending order.
`as_langchain()` exposes the same search to LangChain.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from knowledge.embeddings import Embedder
from knowledge.errors import QueryError
from knowledge.intents import IntentHead
from knowledge.records import Audience, Hit, Record
from knowledge.spelling import Speller, english_words
from knowledge.vectorstore import VectorStore

FILTER_KEYS = ("category", "product", "source", "intent", "kind", "audience")
PROMOTE_MARGIN = 0.2  # how much less similar than the top hit the predicted intent's record may be
HEAD_RELOAD_SECONDS = 30.0  # how often a long-running process looks for a retrained intent head


def check_filters(filters: Mapping[str, str] | None) -> dict[str, str]:
    """Only known metadata keys; empty values mean "no filter"."""
    unknown = sorted(set(filters or {}) - set(FILTER_KEYS))
    if unknown:
        raise QueryError(f"unknown filter {', '.join(unknown)}; use one of {', '.join(FILTER_KEYS)}")
    return {k: str(v) for k, v in (filters or {}).items() if v}


Neighbour = tuple[str, float, dict[str, Any]]  # id, cosine similarity, stored metadata


def promote(neighbours: list[Neighbour], intent: str, margin: float = PROMOTE_MARGIN) -> list[Neighbour]:
    """Put the nearest neighbour of `intent` first, unless it is much less similar than the top one.

    The margin keeps a clearly better record without that intent (a policy chunk,
    a transcript) on top when the head's intent is only a near miss.
    """
    if not neighbours or neighbours[0][2].get("intent") == intent:
        return neighbours
    best = next((n for n in neighbours if n[2].get("intent") == intent), None)
    if best is None or best[1] < neighbours[0][1] - margin:
        return neighbours
    return [best] + [n for n in neighbours if n is not best]


class Retriever:
    """Nearest records to a query, with metadata filters and an intent vote."""

    def __init__(self, store: VectorStore, embedder: Embedder, *, company: Mapping[str, str] | None = None,
                 default_k: int = 5, rerank_depth: int = 20,
                 intent_labels: Mapping[str, str] | None = None,
                 intent_examples: Mapping[str, Sequence[str]] | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.company = dict(company or {})
        # What customers call each intent. When none of the history's intents has a label, the
        # head reads no names (an identifier such as "timing_4" may mean nothing); otherwise an
        # intent without one is read by its identifier ("track_order": "track order").
        self.intent_labels = dict(intent_labels or {})
        # The ways customers say each intent ("do you take bank transfer?": the ways you can pay), read
        # as its name is: an intent is as near to a query as its name or its nearest example.
        self.intent_examples = {intent: kept for intent, said in (intent_examples or {}).items()
                                if (kept := [text for text in said if text.strip()])}
        self._names: dict[str, np.ndarray] = {}  # embedded names and examples, by their text
        self.default_k = default_k
        self.rerank_depth = rerank_depth  # 0 = plain similarity order
        self._head: IntentHead | None = None
        self._speller: Speller | None = None
        self._head_checked = -math.inf
        self._words: int | None = None  # what the stored words were when last read

    def head(self) -> IntentHead | None:
        """The stored intent head, re-read now and then so a new ingest is picked up."""
        self._reload()
        return self._head

    def speller(self) -> Speller | None:
        """Typo correction toward the stored records' words (None before an ingest wrote them)."""
        self._reload()
        return self._speller

    def _reload(self) -> None:
        """What an ingest trains (intent head, vocabulary), re-read now and then. The words change
        with every ingest that changes the records: when they did, this process's index is made
        to catch up with records another process wrote (VectorStore.catch_up)."""
        now = time.monotonic()
        if now - self._head_checked >= HEAD_RELOAD_SECONDS:
            head = self.store.load_head()
            described = head is not None and any(
                intent in self.intent_labels or intent in self.intent_examples for intent in head.labels)
            self._head = self._described(head) if head and described else head
            counts = self.store.load_vocabulary()
            self._speller = Speller(counts, english_words()) if counts else None
            words = hash(tuple(sorted(counts.items()))) if counts else None
            if self._words is not None and words != self._words:
                self.store.catch_up()
            self._words, self._head_checked = words, now

    def _described(self, head: IntentHead) -> IntentHead:
        """The head reading the intents' names, and their examples when there are any."""
        head = head.named(self._embedded([self.intent_labels.get(intent) or intent.replace("_", " ")
                                          for intent in head.labels]))
        said = [(intent, text) for intent, texts in self.intent_examples.items() for text in texts]
        if not said:
            return head
        return head.with_examples(self._embedded([text for _, text in said]), [intent for intent, _ in said])

    def _embedded(self, texts: Sequence[str]) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in self._names]
        if missing:
            self._names.update(zip(missing, self.embedder.embed(missing), strict=True))
        return np.stack([self._names[text] for text in texts])

    def correct(self, text: str) -> str:
        """The text with its typos corrected toward the history's own words (unchanged before an
        ingest stored them)."""
        speller = self.speller()
        return speller.correct(text) if speller else text

    def forget_head(self) -> None:
        self._head, self._head_checked = None, -math.inf

    def search(self, query: str, k: int | None = None, *,
               filters: Mapping[str, str] | None = None, audience: Audience = "customer") -> list[Hit]:
        return self.search_many([query], k, filters=filters, audience=audience)[0]

    def search_many(self, queries: Sequence[str], k: int | None = None, *,
                    filters: Mapping[str, str] | None = None,
                    audience: Audience = "customer") -> list[list[Hit]]:
        """One list of hits per query; the queries are embedded in one batch.

        `audience="customer"` leaves out internal records; "any" searches every record."""
        k = self.default_k if k is None else k
        if k < 1:
            raise QueryError(f"k must be at least 1, not {k}")
        if any(not q.strip() for q in queries):
            raise QueryError("a search query is empty")
        where = check_filters(filters)
        if not queries:
            return []
        corrected = [self.correct(q) for q in queries]
        vectors = self.embedder.embed(corrected)
        head = self.head() if self.rerank_depth and "intent" not in where else None
        # Without a head nothing is promoted: the k nearest are all there is to fetch.
        rows = self.store.query(vectors, max(k, self.rerank_depth) if head else k, where,
                                customer_only=audience == "customer")
        likeliest = head.likeliest(vectors, texts=corrected) if head else [()] * len(rows)
        results = []
        for row, intents in zip(rows, likeliest, strict=True):
            # cosine can dip below 0 for unrelated texts; scores are promised in [0, 1]
            neighbours = [(rid, min(1.0, max(0.0, 1.0 - dist)), meta) for rid, dist, meta in row]
            if intents:
                neighbours = promote(neighbours, intents[0][0])
            # build (and fill) only what is returned
            results.append([self.hit(*n, intents=intents) for n in neighbours[:k]])
        return results

    def hit(self, record_id: str, score: float, meta: dict[str, Any], *,
            intents: tuple[tuple[str, float], ...] = ()) -> Hit:
        from knowledge.placeholders import resolution_for, without_account_kind

        record = Record.from_metadata(record_id, meta)
        text = without_account_kind(resolution_for(record.resolution, record.request, self.company))
        return Hit(record=record, score=float(score), text=text, metadata=meta, intents=intents)

    def as_langchain(self, k: int | None = None, filters: Mapping[str, str] | None = None) -> Any:
        """A langchain_core BaseRetriever; each Document has metadata["score"] and ["id"]."""
        from knowledge.lc_retriever import KnowledgeRetriever

        return KnowledgeRetriever(retriever=self, k=k or self.default_k, filters=dict(filters or {}))
