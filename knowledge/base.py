"""The knowledge base: the one object the rest of the system talks to.

`KnowledgeBase(config, data_dir, company, intent_labels, intent_examples)` ingests support records
from files, searches them and reports on them. `intent_labels` (what customers call each intent)
and `intent_examples` (the ways they say it) help the search tell the intents apart
(knowledge.intents). The embedding model and the Chroma client load on first use, so building one
is free.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.config import ColumnMapping, KnowledgeConfig
from knowledge.embeddings import Embedder
from knowledge.errors import QueryError
from knowledge.ingest import Ingestor, IngestReport
from knowledge.placeholders import unset_contacts
from knowledge.records import AUDIENCES, Audience, Hit, Record
from knowledge.retriever import Retriever
from knowledge.vectorstore import VectorStore, open_store

log = logging.getLogger(__name__)

__all__ = ["Hit", "IngestReport", "KnowledgeBase"]


class KnowledgeBase:
    """Support records in a Chroma collection, searched by meaning."""

    def __init__(self, config: KnowledgeConfig, data_dir: Path,
                 company: Mapping[str, str] | None = None,
                 intent_labels: Mapping[str, str] | None = None,
                 intent_examples: Mapping[str, Sequence[str]] | None = None) -> None:
        self.config = config
        self.data_dir = Path(data_dir)
        self.company = dict(company or {})
        self.intent_labels = dict(intent_labels or {})  # what customers call each intent
        self.intent_examples = dict(intent_examples or {})  # the ways they say it
        self.embedder = Embedder(config.embeddings)  # cheap: the model loads on first embed
        self._store: VectorStore | None = None
        self._retriever: Retriever | None = None
        self._lock = threading.RLock()  # the server searches from several threads

    @property
    def store(self) -> VectorStore:
        with self._lock:
            if self._store is None:
                log.info("opening Chroma (%s)", self.config.chroma.mode)
                self._store = open_store(self.config.chroma, self.data_dir, self.embedder)
            return self._store

    @property
    def retriever(self) -> Retriever:
        with self._lock:
            if self._retriever is None:
                self._retriever = Retriever(self.store, self.embedder, company=self.company,
                                            default_k=self.config.default_k,
                                            rerank_depth=self.config.rerank_depth,
                                            intent_labels=self.intent_labels,
                                            intent_examples=self.intent_examples)
            return self._retriever

    def ingest(self, paths: Sequence[Path], *, format: str | None = None,
               mapping: ColumnMapping | None = None, prune: bool = False, audience: str | None = None,
               progress: Callable[[int, int], None] | None = None) -> IngestReport:
        """Import files; re-importing unchanged records embeds and writes nothing.

        `audience` ("customer" or "internal") overrides what the files say for every record."""
        report = IngestReport()
        records = self.read(paths, format=format, mapping=mapping, report=report)
        if audience is not None:
            if audience not in AUDIENCES:
                raise QueryError(f"audience must be one of {', '.join(AUDIENCES)}, not {audience!r}")
            records = [dataclasses.replace(r, audience=audience) for r in records]
        return self._run(records, report, prune=prune, progress=progress)

    def _run(self, records: list[Record], report: IngestReport, *, prune: bool,
             progress: Callable[[int, int], None] | None) -> IngestReport:
        report = Ingestor(self.store, self.embedder).run(records, report, prune=prune, progress=progress)
        unset = unset_contacts([r.resolution for r in records if r.audience == "customer"], self.company)
        if unset:  # answers will leave those sentences out: the support lead should know why
            report.warnings.append(
                "answers leave out the sentences that point customers to a contact [company] does not set: "
                + ", ".join(f"{k} ({n} record{'' if n == 1 else 's'})" for k, n in unset.items())
                + "; set them in config.toml")
        if self._retriever is not None:
            self._retriever.forget_head()  # a retrained head must be used at once in this process
        return report

    def read(self, paths: Sequence[Path], *, format: str | None = None,
             mapping: ColumnMapping | None = None, report: IngestReport | None = None) -> list[Record]:
        """The redacted records of the files; bad rows go to report.problems."""
        from knowledge.importers import RowProblem, read_records
        from knowledge.redact import Redactor

        report = report if report is not None else IngestReport()
        redactor = Redactor(self.config.redact_patterns)
        records: list[Record] = []
        for path in paths:
            for item in read_records(Path(path), format=format, mapping=mapping or self.config.mapping,
                                     redactor=redactor, chunk_size=self.config.chunk_size,
                                     chunk_overlap=self.config.chunk_overlap):
                if isinstance(item, RowProblem):
                    report.problems.append(item)
                    report.skipped += 1
                else:
                    records.append(item)
        return records

    def add_records(self, records: Sequence[Record], *, prune: bool = False,
                    progress: Callable[[int, int], None] | None = None) -> IngestReport:
        """Ingest records built in code (already redacted), with the same idempotency as files."""
        return self._run(list(records), IngestReport(), prune=prune, progress=progress)

    def remove_source(self, source: str) -> int:
        """Delete every record of one source (the intent head and spelling words follow); returns
        how many there were."""
        removed = Ingestor(self.store, self.embedder).remove_source(source)
        if removed and self._retriever is not None:
            self._retriever.forget_head()  # the retrained head is used at once in this process
        return removed

    def remove_records(self, ids: Collection[str]) -> list[str]:
        """Delete the stored records among `ids` (the intent head and spelling words follow);
        returns the ids that were stored."""
        removed = Ingestor(self.store, self.embedder).remove(ids)
        if removed and self._retriever is not None:
            self._retriever.forget_head()
        return removed

    def stored(self, ids: Collection[str]) -> set[str]:
        """The ids among these that are in the collection."""
        return set(self.store.hashes(list(ids)))

    def keep_out(self, ids: Collection[str]) -> None:
        """Remember ids that must not come back (learned records a support lead took out), shared
        like the collection by every process that opens it. Nothing here enforces it: whoever makes
        such records asks kept_out() (assistant.learning.learned_records). Dropping the collection
        forgets them too."""
        self.store.add_kept_out(ids)

    def kept_out(self) -> set[str]:
        return self.store.load_kept_out()

    def search(self, query: str, k: int | None = None, *, filters: Mapping[str, str] | None = None,
               audience: Audience = "customer") -> list[Hit]:
        """The k records nearest in meaning to the query, best first, score in [0, 1].

        `audience="customer"` (what a customer may be told) leaves internal records out;
        agents' tools pass "any"."""
        return self.retriever.search(query, k, filters=filters, audience=audience)

    def search_many(self, queries: Sequence[str], k: int | None = None,
                    filters: Mapping[str, str] | None = None, *,
                    audience: Audience = "customer") -> list[list[Hit]]:
        """search() for many queries, embedded in one batch."""
        return self.retriever.search_many(queries, k, filters=filters, audience=audience)

    def correct(self, text: str) -> str:
        """The text with its typos corrected toward the history's own words, as a search reads it
        (knowledge.spelling); unchanged before an ingest stored the words."""
        return self.retriever.correct(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of the texts, from the collection's embedding model."""
        return self.embedder.embed(list(texts))

    def intents(self) -> list[str]:
        """The intents of the stored records, as the intent head learned them (sorted; [] before
        any record has one)."""
        head = self.retriever.head()
        return sorted(head.labels) if head is not None else []

    def labelled_requests(self) -> list[tuple[str, str]]:
        """(request, intent) of every record that has an intent, to train classifiers on."""
        return [(str(m.get("request", "")), str(m["intent"]))
                for m in self.store.metadatas() if m.get("intent")]

    def records(self, source: str | None = None, ids: Collection[str] | None = None) -> list[Record]:
        """Every stored record (to train on), or those of one source, or of these ids."""
        return [Record.from_metadata(rid, meta) for rid, meta in self.store.rows(source, ids)]

    def as_langchain(self, k: int | None = None, filters: Mapping[str, str] | None = None) -> Any:
        """A langchain_core BaseRetriever over this knowledge base."""
        return self.retriever.as_langchain(k, filters)

    def stats(self) -> dict[str, Any]:
        """How many records, by source, category and kind, and where they live."""
        by: dict[str, Counter[str]] = {"source": Counter(), "category": Counter(), "kind": Counter(),
                                       "audience": Counter()}
        for meta in self.store.metadatas():
            for key, counter in by.items():
                counter[str(meta.get(key, ""))] += 1
        chroma = self.config.chroma
        location = (str(self.data_dir / "chroma") if chroma.mode == "embedded"
                    else self.store.where())
        return {
            "count": self.store.count(),
            "by_source": dict(by["source"].most_common()),
            "by_category": dict(by["category"].most_common()),
            "by_kind": dict(by["kind"].most_common()),
            "by_audience": dict(by["audience"].most_common()),
            "embedding_model": self.embedder.model_id,
            "chroma": {"mode": chroma.mode, "location": location, "collection": chroma.collection},
        }

    def delete(self) -> int:
        """Drop the collection; returns how many records it held."""
        count = self.store.drop()
        self._retriever = None
        return count

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        self._store = None
        self._retriever = None

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
