"""The Chroma collection: real embedded Chroma with the packaged embedder; an unreachable server."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

from knowledge.config import ChromaConfig, EmbeddingConfig
from knowledge.embeddings import Embedder
from knowledge.errors import VectorStoreError
from knowledge.vectorstore import VectorStore, _where, open_store

pytestmark = pytest.mark.model

ROWS = {
    "c1": ("How do I cancel my order?", {"source": "a", "category": "ORDER", "intent": "cancel_order"}),
    "c2": ("cancel purchase please", {"source": "b", "category": "ORDER", "intent": "cancel_order"}),
    "p1": ("which payment methods are accepted", {"source": "a", "category": "PAYMENT",
                                                 "intent": "check_payment_methods"}),
}


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture
def store(data_dir: Path, embedder: Embedder) -> VectorStore:
    store = open_store(ChromaConfig(), data_dir, embedder)
    ids = list(ROWS)
    texts = [ROWS[i][0] for i in ids]
    store.write(ids, embedder.embed(texts), texts, [{**ROWS[i][1], "hash": f"h-{i}"} for i in ids])
    return store


def test_vectors_persist_under_data_dir(store: VectorStore, data_dir: Path, embedder: Embedder) -> None:
    store.close()
    reopened = open_store(ChromaConfig(), data_dir, embedder)
    assert reopened.count() == 3
    assert (data_dir / "chroma").is_dir()


def test_nearest_first_with_cosine_distance(store: VectorStore, embedder: Embedder) -> None:
    [rows] = store.query(embedder.embed(["I'd like to cancel an order"]), 3)
    assert [r[0] for r in rows][:2] in (["c1", "c2"], ["c2", "c1"])
    distances = [r[1] for r in rows]
    assert distances == sorted(distances)
    assert all(0.0 <= d <= 2.0 for d in distances)  # cosine space, not squared L2
    assert rows[0][2]["intent"] == "cancel_order"


def test_filters_combine_with_and(store: VectorStore, embedder: Embedder) -> None:
    vector = embedder.embed(["cancel order"])
    [rows] = store.query(vector, 3, {"category": "ORDER", "source": "b"})
    assert [r[0] for r in rows] == ["c2"]
    [rows] = store.query(vector, 3, {"category": "PAYMENT"})
    assert [r[0] for r in rows] == ["p1"]
    [rows] = store.query(vector, 3, {"category": "ORDER", "source": "nowhere"})
    assert rows == []


def test_hashes_report_only_stored_ids(store: VectorStore) -> None:
    assert store.hashes(["c1", "zzz"]) == {"c1": "h-c1"}
    assert sorted(store.ids_of_source("a")) == ["c1", "p1"]


def test_upsert_replaces_and_delete_removes(store: VectorStore, embedder: Embedder) -> None:
    text = "how do I reset my password"
    store.write(["c1"], embedder.embed([text]), [text], [{"source": "a", "hash": "new"}], replace=True)
    assert store.hashes(["c1"]) == {"c1": "new"}
    store.delete(["c1", "p1"])
    assert store.count() == 1


def test_write_splits_past_the_batch_limit(data_dir: Path, embedder: Embedder, monkeypatch) -> None:
    store = open_store(ChromaConfig(collection="big"), data_dir, embedder)
    monkeypatch.setattr(store.client, "get_max_batch_size", lambda: 7)
    n = 30
    vectors = np.eye(n, 384, dtype=np.float32)
    store.write([f"r{i}" for i in range(n)], vectors, ["x"] * n, [{"hash": str(i)} for i in range(n)])
    assert store.count() == n


def test_collection_refuses_another_embedding_model(store: VectorStore, data_dir: Path) -> None:
    other = open_store(ChromaConfig(), data_dir, Embedder(EmbeddingConfig(model="packaged:minilm")))
    with pytest.raises(VectorStoreError, match="kb delete"):
        other.count()


def mixed_store(data_dir: Path, embedder: Embedder) -> VectorStore:
    """12 agents' guidelines (internal, g0-g11) about cancelling, nearer to an agent's wording than
    the 4 customer records (c0, c1 cancel_order; c2 check_payment_methods; c3 track_order)."""
    store = open_store(ChromaConfig(collection="mixed"), data_dir, embedder)
    guidelines = [f"Agent step {i}: cancel the order in the admin panel and refund the fee"
                  for i in range(12)]
    customer = ["How do I cancel my order?", "cancel purchase please", "which payment methods are accepted",
                "where is my parcel"]
    texts = guidelines + customer
    metas = [{"audience": "internal", "intent": "cancel_order", "hash": f"g{i}"} for i in range(12)]
    metas += [{"audience": "customer", "intent": intent, "hash": f"c{i}"} for i, intent in
              enumerate(["cancel_order", "cancel_order", "check_payment_methods", "track_order"])]
    ids = [f"g{i}" for i in range(12)] + [f"c{i}" for i in range(4)]
    store.write(ids, embedder.embed(texts), texts, metas)
    return store


def test_a_customer_search_leaves_internal_records_out_however_near_they_are(data_dir: Path,
                                                                           embedder: Embedder) -> None:
    """Internal records are dropped after an unfiltered search (a where clause is slow on a large
    collection); when the nearest are nearly all internal, the search is done again with the filter,
    so a customer still gets n records of their own."""
    store = mixed_store(data_dir, embedder)
    question = embedder.embed(["Agent step: cancel the order in the admin panel"])
    [anyone] = store.query(question, 3)
    assert all(r[0].startswith("g") for r in anyone)  # the nearest are guidelines
    [mine] = store.query(question, 3, customer_only=True)  # 2 * 3 fetched: all internal, so again
    assert [r[0] for r in mine][:2] in (["c0", "c1"], ["c1", "c0"]) and len(mine) == 3
    [few] = store.query(embedder.embed(["cancel my order"]), 40, customer_only=True)  # past the collection
    assert sorted(r[0] for r in few) == ["c0", "c1", "c2", "c3"]
    [cancels] = store.query(question, 3, {"intent": "cancel_order"}, customer_only=True)  # other filters too
    assert sorted(r[0] for r in cancels) == ["c0", "c1"]
    [ordered] = store.query(embedder.embed(["I'd like to cancel an order"]), 2, customer_only=True)
    distances = [r[1] for r in ordered]
    assert distances == sorted(distances) and all(r[2]["audience"] == "customer" for r in ordered)


def test_a_filtered_search_finds_what_chromas_where_clause_finds(data_dir: Path, embedder: Embedder,
                                                                  monkeypatch) -> None:
    """Filters too are applied to the nearest records searched without them; when too few of
    those match, the search is done again with Chroma's where clause: the same records either way."""
    store = mixed_store(data_dir, embedder)
    questions = embedder.embed(["Agent step: cancel the order", "how can I pay", "cancel please"])

    def chroma(n: int, filters: dict[str, str], customer_only: bool) -> list[list[str]]:
        where = _where(filters, customer_only=customer_only)
        return [[r[0] for r in row] for row in store._query(questions, n, where)]

    cases = [(1, {"intent": "track_order"}, False), (2, {"intent": "cancel_order"}, True),
             (3, {"intent": "cancel_order", "audience": "internal"}, False), (2, {"intent": "nowhere"}, True)]
    for fetch in (50, 2):  # the whole collection searched; then 2 (or 2n): most fall back to the clause
        monkeypatch.setattr("knowledge.vectorstore.FILTERED_FETCH", fetch)
        for n, filters, customer_only in cases:
            got = store.query(questions, n, filters, customer_only=customer_only)
            assert [[r[0] for r in row] for row in got] == chroma(n, filters, customer_only), (fetch, filters)
    assert [r[0] for r in store.query(questions, 1, {"intent": "track_order"})[1]] == ["c3"]


def test_a_collection_takes_the_configured_search_breadth(store: VectorStore, data_dir: Path,
                                                          embedder: Embedder) -> None:
    """A collection created with one HNSW ef_search searches with the one configured now (the
    default was raised: the old one missed the nearest record for some customers' messages), and
    keeps it."""
    created = store.collection.configuration["hnsw"]["ef_search"]
    store.close()
    wider = open_store(ChromaConfig(hnsw_ef_search=created + 200), data_dir, embedder)
    assert wider.collection.configuration["hnsw"]["ef_search"] == created + 200
    [rows] = wider.query(embedder.embed(["I'd like to cancel an order"]), 1)
    assert rows[0][2]["intent"] == "cancel_order"
    wider.close()
    assert open_store(ChromaConfig(hnsw_ef_search=created + 200), data_dir,
                      embedder).collection.configuration["hnsw"]["ef_search"] == created + 200


def test_kept_out_ids_are_shared_by_every_opening_and_dropped_with_the_collection(
        store: VectorStore, data_dir: Path, embedder: Embedder) -> None:
    assert store.load_kept_out() == set()
    store.add_kept_out(["learned-m1", "learned-m2", "learned-m1"])
    again = open_store(ChromaConfig(), data_dir, embedder)  # a second opening, as another worker's
    assert again.load_kept_out() == {"learned-m1", "learned-m2"}
    again.add_kept_out(["learned-m3"])
    assert store.load_kept_out() == {"learned-m1", "learned-m2", "learned-m3"}
    store.drop()
    assert open_store(ChromaConfig(), data_dir, embedder).load_kept_out() == set()


def test_kept_out_ids_added_at_once_from_two_openings_are_all_kept(
        store: VectorStore, data_dir: Path, embedder: Embedder) -> None:
    from concurrent.futures import ThreadPoolExecutor

    other = open_store(ChromaConfig(), data_dir, embedder)
    ids = [f"learned-m{n}" for n in range(60)]
    with ThreadPoolExecutor(4) as pool:  # each id alone, from either opening, interleaved
        list(pool.map(lambda n: (store if n % 2 else other).add_kept_out([ids[n]]), range(len(ids))))
    assert store.load_kept_out() == set(ids)


def test_kept_out_ids_of_a_store_written_before_rows_are_still_read(
        store: VectorStore, data_dir: Path, embedder: Embedder) -> None:
    from knowledge.vectorstore import KEPT_OUT_KEY

    side = store.client.get_or_create_collection(store.kept_out_name)
    side.modify(metadata={KEPT_OUT_KEY: '["learned-old"]'})  # how they were kept before
    store.add_kept_out(["learned-new"])
    assert open_store(ChromaConfig(), data_dir, embedder).load_kept_out() == {"learned-old", "learned-new"}


def test_drop_returns_count_and_empties(store: VectorStore) -> None:
    assert store.drop() == 3
    assert store.drop() == 0
    assert store.count() == 0  # reopening creates an empty collection


def test_unreachable_server_names_host_and_port(data_dir: Path, embedder: Embedder) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = ChromaConfig(mode="http", host="127.0.0.1", port=port)
    with pytest.raises(VectorStoreError, match=f"127.0.0.1:{port}") as info:
        open_store(config, data_dir, embedder)
    assert info.value.code == "vector_store_error"
