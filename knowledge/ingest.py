"""Idempotent ingest: records in, only new or changed ones embedded and written.

Each stored record carries its content hash; a record whose id and hash are
already stored is counted as unchanged and never embedded again. With prune,
ids of a source seen in this ingest but absent from it now are deleted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from knowledge import spelling
from knowledge.embeddings import Embedder
from knowledge.intents import answer_sample, opening, train
from knowledge.records import Record
from knowledge.vectorstore import VectorStore

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
WRITE_BATCH = 512  # records looked up, embedded and written together


@dataclass
class IngestReport:
    """What an ingest did; `problems` lists the skipped rows (importers' RowProblem)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    pruned: int = 0
    problems: list = field(default_factory=list)  # list[knowledge.importers.RowProblem]
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)  # things the user should know, e.g. prune refused

    @property
    def embedded(self) -> int:
        return self.added + self.updated

    def summary(self) -> str:
        return (f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
                f"skipped {self.skipped}, pruned {self.pruned}")

    def to_json(self) -> dict:
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                "skipped": self.skipped, "pruned": self.pruned, "seconds": round(self.seconds, 3),
                "problems": [str(p) for p in self.problems], "warnings": list(self.warnings)}


def dedupe(records: Iterable[Record]) -> tuple[list[Record], int]:
    """Records with distinct ids, the last of each id winning (a later row corrects an earlier one)."""
    by_id: dict[str, Record] = {}
    total = 0
    for record in records:
        by_id.pop(record.id, None)  # re-insert so order follows the last occurrence
        by_id[record.id] = record
        total += 1
    return list(by_id.values()), total - len(by_id)


class Ingestor:
    """Writes records to a store through an embedder, batch by batch."""

    def __init__(self, store: VectorStore, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder
        self._labels_changed = False  # did this run add a record with an intent?

    def run(self, records: list[Record], report: IngestReport, *, prune: bool = False,
            progress: Progress | None = None) -> IngestReport:
        started = time.perf_counter()
        self._labels_changed = False
        records, duplicates = dedupe(records)
        report.unchanged += duplicates  # the same id twice in one ingest is stored once
        total = len(records)
        if progress:
            progress(0, total)
        for start in range(0, total, WRITE_BATCH):
            self._write(records[start : start + WRITE_BATCH], report)
            if progress:
                progress(min(start + WRITE_BATCH, total), total)
        if prune and report.skipped:
            # A skipped row may be a record that still exists: pruning would delete it.
            report.warnings.append("not pruned: some rows were skipped; fix them and ingest again")
        elif prune:
            report.pruned = self._prune(records)
        # New records without an intent (say, a conversation an agent saved) leave the head as it is;
        # a head stored before it learned keywords is trained again (read only when nothing else
        # asks for a retrain).
        if self._labels_changed or report.updated or report.pruned or self._head_lacks_keywords():
            self.refresh_head()
        # Spelling correction of queries follows the records' words (knowledge.spelling); a
        # collection from before it existed gets them on its next ingest, changed or not.
        if report.added or report.updated or report.pruned or self.store.load_vocabulary() is None:
            self.refresh_vocabulary()
        report.seconds += time.perf_counter() - started
        return report

    def _head_lacks_keywords(self) -> bool:
        head = self.store.load_head()
        return head is not None and head.keywords is None

    def refresh_vocabulary(self) -> None:
        """Count the words of every stored record's request and resolution."""
        texts = (f"{m.get('request', '')} {m.get('resolution', '')}" for m in self.store.metadatas())
        self.store.save_vocabulary(spelling.stored_counts(spelling.vocabulary(texts)))

    def refresh_head(self) -> None:
        """Retrain the intent head on every stored record that has an intent, on the openings of a
        sample of their resolutions (knowledge.intents: the answer head) and on the words of their
        requests (the keywords)."""
        stored = self.store.labelled()
        if not stored.intents:
            self.store.save_head(None)
            return
        rows = answer_sample(stored.intents, stored.resolutions)
        if rows is None:
            self.store.save_head(train(stored.vectors, stored.intents, requests=stored.requests))
            return
        answers = self.store.opening_vectors([stored.ids[i] for i in rows],
                                             [opening(stored.resolutions[i]) for i in rows])
        answer_intents = [stored.intents[i] for i in rows]
        self.store.save_head(train(stored.vectors, stored.intents, answers, answer_intents,
                                   requests=stored.requests))

    def _write(self, batch: list[Record], report: IngestReport) -> None:
        stored = self.store.hashes([r.id for r in batch])
        new = [r for r in batch if r.id not in stored]
        changed = [r for r in batch if r.id in stored and stored[r.id] != r.content_hash()]
        report.unchanged += len(batch) - len(new) - len(changed)
        for group, replace in ((new, False), (changed, True)):
            if not group:
                continue
            vectors = self.embedder.embed([r.embedding_text() for r in group])
            self.store.write([r.id for r in group], vectors, [r.embedding_text() for r in group],
                             [r.metadata() for r in group], replace=replace)
        report.added += len(new)
        report.updated += len(changed)
        self._labels_changed |= any(r.intent for r in new)

    def remove_source(self, source: str) -> int:
        """Delete every record of one source; the intent head and the spelling words follow, as
        after a prune. Returns how many there were."""
        gone = self.store.ids_of_source(source)
        if gone:
            self.store.delete(gone)
            self.refresh_head()
            self.refresh_vocabulary()
        return len(gone)

    def remove(self, ids: Collection[str]) -> list[str]:
        """Delete the stored records among `ids`; the intent head and the spelling words follow.
        Returns the ids that were stored."""
        gone = list(self.store.hashes(list(ids)))
        if gone:
            self.store.delete(gone)
            self.refresh_head()
            self.refresh_vocabulary()
        return gone

    def _prune(self, records: list[Record]) -> int:
        """Delete stored ids of the ingested sources that this ingest no longer contains."""
        keep = {r.id for r in records}
        gone: list[str] = []
        for source in sorted({r.source for r in records}):
            gone += [i for i in self.store.ids_of_source(source) if i not in keep]
        if gone:
            log.info("pruning %d records no longer in their source", len(gone))
            self.store.delete(gone)
        return len(gone)
