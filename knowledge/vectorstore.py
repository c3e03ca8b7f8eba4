"""The Chroma collection that holds the records' vectors, embedded or over HTTP.

`open_store(config, data_dir, embedder)` returns a `VectorStore`: a few
methods over one cosine-space collection, with Chroma's errors turned into
VectorStoreError and writes split to Chroma's batch limit.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from knowledge.config import ChromaConfig
from knowledge.embeddings import Embedder
from knowledge.errors import VectorStoreError
from knowledge.intents import IntentHead
from knowledge.records import Record

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

VOCABULARY_KEY = "word_counts"  # the vocabulary side collection's metadata: JSON {word: count}
CATCH_UP_ID = "-catch-up-"  # no record has this id (VectorStore.catch_up)
KEPT_OUT_KEY = "ids"  # the kept-out side collection's metadata before its rows: JSON [record id, ...]
MODEL_KEY = "embedding_model"  # collection metadata: the model its vectors came from
AUDIENCE_KEY = "audiences"  # collection metadata: 1 once every record carries an audience
INTERNAL_SOURCES = ("abcd:guidelines",)  # records stored before audiences existed that are internal
_PAGE = 5000  # rows per get() page when listing a large collection
FILTERED_FETCH = 50  # nearest records a filtered search looks among before Chroma's where clause


class Labelled(NamedTuple):
    """The stored records that have an intent, in one order."""

    ids: list[str]
    vectors: np.ndarray  # (len(ids), dim) float32
    intents: list[str]
    resolutions: list[str]
    requests: list[str]


def _where(filters: Mapping[str, str] | None, customer_only: bool = False) -> dict[str, Any] | None:
    """Chroma's where clause: one condition as is, several under $and.

    `customer_only` leaves out internal records ($ne also keeps rows stored with no audience)."""
    conditions: list[dict[str, Any]] = [{key: value} for key, value in (filters or {}).items() if value]
    if customer_only:
        conditions.append({"audience": {"$ne": "internal"}})
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


def _matches(meta: Mapping[str, Any], wanted: Mapping[str, str], customer_only: bool) -> bool:
    """Whether a record's metadata passes what _where would ask of Chroma."""
    return (all(meta.get(key) == value for key, value in wanted.items())
            and not (customer_only and meta.get("audience") == "internal"))


def open_client(config: ChromaConfig, data_dir: Path) -> ClientAPI:
    """A PersistentClient under data_dir/chroma, or an HttpClient; fails early if unreachable."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if config.mode == "embedded":
        path = Path(data_dir) / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        try:
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except Exception as exc:  # noqa: BLE001 - a locked or corrupt store, a bad path
            raise VectorStoreError(f"cannot open the Chroma store at {path}: {exc}") from exc
    where = f"{config.host}:{config.port}"
    try:
        client = chromadb.HttpClient(host=config.host, port=config.port, ssl=config.ssl,
                                     settings=chroma_settings)
        client.heartbeat()
    except Exception as exc:  # noqa: BLE001 - connection refused, TLS, DNS all mean unreachable
        if "client" in locals():
            close_client(client)
        raise VectorStoreError(f"the Chroma server at {where} is unreachable: {exc}") from exc
    return client


def close_client(client: ClientAPI) -> None:
    """Release the client; for HTTP also its connection pool, which chromadb 1.5 leaves open."""
    client.close()  # type: ignore[attr-defined]
    for owner in (client, getattr(client, "_admin_client", None)):
        session = getattr(getattr(owner, "_server", None), "_session", None)
        if session is not None and hasattr(session, "close"):
            session.close()


class VectorStore:
    """One collection: ids, unit vectors, the embedded text and the record's flat metadata."""

    def __init__(self, client: ClientAPI, config: ChromaConfig, embedder: Embedder) -> None:
        self.client = client
        self.config = config
        self.embedder = embedder
        self._collection: Collection | None = None

    @property
    def collection(self) -> Collection:
        if self._collection is None:
            self._collection = self._open()
        return self._collection

    def _open(self) -> Collection:
        try:
            collection = self.client.get_or_create_collection(
                self.config.collection,
                configuration={"hnsw": {"space": "cosine", "ef_search": self.config.hnsw_ef_search}},
                metadata={MODEL_KEY: self.embedder.model_id},
                embedding_function=self.embedder.chroma_function(),  # type: ignore[arg-type]
            )
        except Exception as exc:  # noqa: BLE001
            raise VectorStoreError(f"cannot open collection '{self.config.collection}': {exc}") from exc
        stored = (collection.metadata or {}).get(MODEL_KEY)
        if stored and stored != self.embedder.model_id:
            raise VectorStoreError(
                f"collection '{self.config.collection}' holds vectors of '{stored}' but the config asks "
                f"for '{self.embedder.model_id}'; run `assistant kb delete --yes` and ingest again"
            )
        if not (collection.metadata or {}).get(AUDIENCE_KEY):
            self._migrate_audiences(collection)
        self._set_ef_search(collection)
        return collection

    def _set_ef_search(self, collection: Collection) -> None:
        """A collection keeps the search breadth it was created with; the configured one wins.

        Set before the first query loads the index (Chroma applies it when it loads one)."""
        hnsw = (collection.configuration or {}).get("hnsw") or {}
        stored = hnsw.get("ef_search") if isinstance(hnsw, dict) else None
        if stored is None or stored == self.config.hnsw_ef_search:
            return
        self._call("configure", lambda: collection.modify(
            configuration={"hnsw": {"ef_search": self.config.hnsw_ef_search}}))  # type: ignore[typeddict-item]
        log.info("collection '%s': HNSW ef_search %s -> %s", collection.name, stored,
                 self.config.hnsw_ef_search)

    def _migrate_audiences(self, collection: Collection) -> None:
        """Once per collection: records stored before audiences existed get one, in place.

        The ABCD agent guidelines become internal (their hash too, so the next ingest of the
        same file finds them unchanged); everything else is for customers. No vector changes."""
        offset, changed = 0, 0
        while True:
            got = self._call("read", lambda o=offset: collection.get(include=["metadatas"], limit=_PAGE,
                                                                     offset=o))
            ids, metas = [], []
            for rid, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                meta = dict(meta or {})
                if "audience" in meta:
                    continue
                internal = str(meta.get("source", "")) in INTERNAL_SOURCES
                meta["audience"] = "internal" if internal else "customer"
                if internal:
                    meta["hash"] = Record.from_metadata(rid, meta).content_hash()
                ids.append(rid)
                metas.append(meta)
            if ids:
                self._call("write", lambda i=ids, m=metas: collection.update(ids=i, metadatas=m))
                changed += len(ids)
            if len(got["ids"]) < _PAGE:
                break
            offset += _PAGE
        done = {**(collection.metadata or {}), AUDIENCE_KEY: 1}
        self._call("write", lambda: collection.modify(metadata=done))
        if changed:
            log.info("collection '%s': %d records stored before audiences now carry one", collection.name,
                     changed)

    def count(self) -> int:
        return self._call("count", lambda: self.collection.count())

    def hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """id -> stored content hash, for those of `ids` already in the collection."""
        out: dict[str, str] = {}
        for start in range(0, len(ids), _PAGE):
            got = self._call("read", lambda s=start: self.collection.get(
                ids=list(ids[s : s + _PAGE]), include=["metadatas"]))
            for rid, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                out[rid] = str((meta or {}).get("hash", ""))
        return out

    def ids_of_source(self, source: str) -> list[str]:
        """Every id whose metadata source is exactly `source` (also when it is "")."""
        got = self._call("read", lambda: self.collection.get(where={"source": source}, include=[]))
        return list(got["ids"])

    def metadatas(self) -> Iterator[dict[str, Any]]:
        """Every record's metadata, page by page."""
        return (meta for _, meta in self.rows())

    def rows(self, source: str | None = None,
             ids: Iterable[str] | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every record's (id, metadata), or those of one source, or of these ids, page by page."""
        where: dict[str, Any] | None = None if source is None else {"source": source}
        wanted = None if ids is None else list(ids)
        offset = 0
        while True:
            got = self._call("read", lambda o=offset: self.collection.get(
                ids=wanted, where=where, include=["metadatas"], limit=_PAGE, offset=o))
            yield from zip(got["ids"], (dict(m or {}) for m in got["metadatas"] or []), strict=True)
            if len(got["ids"]) < _PAGE:
                return
            offset += _PAGE

    def write(self, ids: Sequence[str], vectors: np.ndarray, documents: Sequence[str],
              metadatas: Sequence[Mapping[str, Any]], *, replace: bool = False) -> None:
        """Add (or, with replace, upsert) rows, split to the server's batch limit."""
        step = max(1, min(self._call("read", self.client.get_max_batch_size), 5000))
        for s in range(0, len(ids), step):
            e = s + step
            op = self.collection.upsert if replace else self.collection.add
            self._call("write", lambda op=op, s=s, e=e: op(
                ids=list(ids[s:e]), embeddings=vectors[s:e], documents=list(documents[s:e]),
                metadatas=[dict(m) for m in metadatas[s:e]]))

    def delete(self, ids: Sequence[str]) -> None:
        for s in range(0, len(ids), _PAGE):
            self._call("write", lambda s=s: self.collection.delete(ids=list(ids[s : s + _PAGE])))

    def query(self, vectors: np.ndarray, n: int, filters: Mapping[str, str] | None = None, *,
              customer_only: bool = False) -> list[list[tuple[str, float, dict[str, Any]]]]:
        """Per query vector, up to n (id, cosine distance, metadata), nearest first.

        `filters` (equal values) and `customer_only` (no internal records) are applied here to the
        nearest records searched without them, rather than by Chroma: a where clause makes Chroma
        list every matching id before it searches (at 100,000 records 190 ms for "not internal" and
        45 ms for one intent, against 5 ms without a clause). Searched are 2n records for the
        audience alone and at least FILTERED_FETCH with other filters. When n of them match, they are
        the n nearest matches (any nearer match was searched too); a query with fewer is searched
        again with the where clause."""
        if n <= 0 or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        wanted = {key: value for key, value in (filters or {}).items() if value}
        if not wanted and not customer_only:
            return self._query(vectors, n, None)
        fetch = max(2 * n, FILTERED_FETCH) if wanted else 2 * n
        rows = self._query(vectors, fetch, None)
        kept = [[r for r in row if _matches(r[2], wanted, customer_only)] for row in rows]
        # Fewer than n left from a full fetch: more matching records may lie beyond it.
        short = [i for i, (row, left) in enumerate(zip(rows, kept, strict=True))
                 if len(left) < n and len(row) == fetch]
        if short:
            again = self._query(vectors[short], n, _where(filters, customer_only=customer_only))
            for i, row in zip(short, again, strict=True):
                kept[i] = row
        return [row[:n] for row in kept]

    def _query(self, vectors: np.ndarray, n: int,
               where: dict[str, Any] | None) -> list[list[tuple[str, float, dict[str, Any]]]]:
        got = self._call("query", lambda: self.collection.query(
            query_embeddings=vectors, n_results=n, where=where, include=["metadatas", "distances"]))
        return [
            list(zip(ids, dists, (dict(m or {}) for m in metas), strict=True))
            for ids, dists, metas in zip(got["ids"], got["distances"] or [], got["metadatas"] or [],
                                         strict=True)
        ]

    def labelled(self) -> Labelled:
        """Every stored record that has an intent: ids, vectors, intents, resolutions (to train on)."""
        out = Labelled([], np.zeros((0, 0), np.float32), [], [], [])
        vectors: list[np.ndarray] = []
        offset = 0
        while True:
            got = self._call("read", lambda o=offset: self.collection.get(
                where={"intent": {"$ne": ""}},  # type: ignore[dict-item]
                include=["embeddings", "metadatas"], limit=_PAGE, offset=o))
            if len(got["ids"]):
                vectors.append(np.asarray(got["embeddings"], dtype=np.float32))
                metas = [m or {} for m in got["metadatas"] or []]
                out.ids.extend(got["ids"])
                out.intents.extend(str(m.get("intent", "")) for m in metas)
                out.resolutions.extend(str(m.get("resolution", "")) for m in metas)
                out.requests.extend(str(m.get("request", "")) for m in metas)
            if len(got["ids"]) < _PAGE:
                break
            offset += _PAGE
        return out._replace(vectors=np.concatenate(vectors)) if vectors else out

    def save_head(self, head: IntentHead | None) -> None:
        """Replace the stored intent head (None removes it)."""
        self._drop(self.head_name)
        if head is None:
            return
        ids, metas = head.to_rows()
        columns = head.weights.T / np.maximum(np.linalg.norm(head.weights.T, axis=1, keepdims=True), 1e-12)
        side = self._call("write", lambda: self.client.create_collection(
            self.head_name, configuration={"hnsw": {"space": "cosine"}},
            metadata={MODEL_KEY: self.embedder.model_id},
            embedding_function=self.embedder.chroma_function()))  # type: ignore[arg-type]
        self._call("write", lambda: side.add(ids=ids, embeddings=columns, metadatas=metas))  # type: ignore[arg-type]

    def load_head(self) -> IntentHead | None:
        try:
            side = self.client.get_collection(
                self.head_name, embedding_function=self.embedder.chroma_function())  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - not found (no head trained yet): plain ranking
            return None
        got = self._call("read", lambda: side.get(include=["metadatas"]))
        return IntentHead.from_rows([dict(m or {}) for m in got["metadatas"] or []])

    @property
    def head_name(self) -> str:
        return f"{self.config.collection}.intents"

    @property
    def vocabulary_name(self) -> str:
        return f"{self.config.collection}.vocabulary"

    @property
    def openings_name(self) -> str:
        return f"{self.config.collection}.openings"

    @property
    def kept_out_name(self) -> str:
        return f"{self.config.collection}.kept_out"

    def opening_vectors(self, ids: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """The embedded texts (resolution openings for knowledge.intents' answer head), kept in a
        side collection by record id: a retrain after an ingest embeds only new or changed ones."""
        if not ids:
            return np.zeros((0, 0), np.float32)
        side = self._call("write", lambda: self.client.get_or_create_collection(
            self.openings_name, configuration={"hnsw": {"space": "cosine"}},
            embedding_function=self.embedder.chroma_function()))  # type: ignore[arg-type]
        keys = [hashlib.sha1(f"{self.embedder.model_id}\n{t}".encode()).hexdigest()[:16] for t in texts]
        position = {rid: i for i, rid in enumerate(ids)}
        got = self._call("read", lambda: side.get(ids=list(ids), include=["embeddings", "metadatas"]))
        kept = {rid: np.asarray(vec, dtype=np.float32)
                for rid, vec, meta in zip(got["ids"], got["embeddings"], got["metadatas"] or [], strict=True)
                if keys[position[rid]] == (meta or {}).get("hash")}
        todo = [i for i, rid in enumerate(ids) if rid not in kept]
        if todo:
            vectors = self.embedder.embed([texts[i] for i in todo])
            for s in range(0, len(todo), _PAGE):
                part = todo[s : s + _PAGE]
                self._call("write", lambda part=part, s=s: side.upsert(
                    ids=[ids[i] for i in part], embeddings=vectors[s : s + len(part)],
                    metadatas=[{"hash": keys[i]} for i in part]))
            kept.update({ids[i]: vectors[n] for n, i in enumerate(todo)})
        return np.stack([kept[rid] for rid in ids])

    def catch_up(self) -> None:
        """Make this process search what other processes wrote since it opened the collection
        (`kb ingest` or `kb learn` beside a running `assistant serve`). An embedded Chroma keeps
        each process's index in memory and brings it up to date with the shared store when that
        process writes; until then it searches without their records. So: a write that changes
        nothing (the deletion of an id no record has). A Chroma server needs none."""
        if self.config.mode == "embedded":
            self._call("write", lambda: self.collection.delete(ids=[CATCH_UP_ID]))

    def save_vocabulary(self, counts: Mapping[str, int]) -> None:
        """Replace the stored word counts of the records (knowledge.spelling), kept in the
        metadata of an empty side collection so every worker and Chroma server shares them."""
        self._drop(self.vocabulary_name)
        blob = json.dumps(dict(counts), separators=(",", ":"))
        self._call("write", lambda: self.client.create_collection(
            self.vocabulary_name, metadata={VOCABULARY_KEY: blob}))

    def load_vocabulary(self) -> dict[str, int] | None:
        """The stored word counts, or None before the first ingest that writes them."""
        try:
            side = self.client.get_collection(self.vocabulary_name)
        except Exception:  # noqa: BLE001 - not found: nothing to correct toward
            return None
        blob = (side.metadata or {}).get(VOCABULARY_KEY)
        return {str(k): int(v) for k, v in json.loads(blob).items()} if isinstance(blob, str) else None

    def add_kept_out(self, ids: Iterable[str]) -> None:
        """Remember ids that must not come back (KnowledgeBase.keep_out): one row each in a side
        collection, written by upsert, so two processes adding at once both keep theirs (no read,
        then write, of a shared list)."""
        rows = sorted(set(ids))
        side = self._call("write", lambda: self.client.get_or_create_collection(self.kept_out_name))
        for at in range(0, len(rows), _PAGE):
            batch = rows[at:at + _PAGE]
            # no meaning to search: a constant vector, so Chroma never embeds anything here
            self._call("write", lambda b=batch: side.upsert(ids=b, embeddings=[[1.0]] * len(b)))

    def load_kept_out(self) -> set[str]:
        try:
            side = self.client.get_collection(self.kept_out_name)
        except Exception:  # noqa: BLE001 - not found: nothing kept out
            return set()
        ids = {str(i) for i in self._call("read", lambda: side.get(include=[]))["ids"]}
        blob = (side.metadata or {}).get(KEPT_OUT_KEY)  # how a store written before rows kept them
        return ids | ({str(i) for i in json.loads(blob)} if isinstance(blob, str) else set())

    def drop(self) -> int:
        """Delete the whole collection, its intent head, vocabulary and kept-out ids; returns how
        many records it held."""
        self._drop(self.head_name)
        self._drop(self.vocabulary_name)
        self._drop(self.openings_name)
        self._drop(self.kept_out_name)
        count = self._drop(self.config.collection)
        self._collection = None
        return count

    def _drop(self, name: str) -> int:
        try:
            existing = self.client.get_collection(name)
        except Exception:  # noqa: BLE001 - chroma raises NotFoundError/ValueError across versions
            return 0
        count = existing.count()
        self._call("write", lambda: self.client.delete_collection(name))
        return count

    def close(self) -> None:
        close_client(self.client)

    def where(self) -> str:
        if self.config.mode == "embedded":
            return "embedded"
        return f"{'https' if self.config.ssl else 'http'}://{self.config.host}:{self.config.port}"

    def _call(self, action: str, fn: Any) -> Any:
        try:
            return fn()
        except VectorStoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - chroma raises many types; callers see one
            target = self.where() if self.config.mode == "http" else self.config.collection
            raise VectorStoreError(f"Chroma {action} failed ({target}): {type(exc).__name__}: {exc}") from exc


def open_store(config: ChromaConfig, data_dir: Path, embedder: Embedder) -> VectorStore:
    return VectorStore(open_client(config, data_dir), config, embedder)
