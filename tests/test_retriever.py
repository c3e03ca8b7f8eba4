"""Ranking: filters, the intent head's promotion, scores; on real Chroma with real embeddings."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.config import KnowledgeConfig
from knowledge.errors import QueryError
from knowledge.records import Record
from knowledge.retriever import check_filters, promote


def hit(rid: str, intent: str, score: float) -> tuple[str, float, dict]:
    return (rid, score, {"intent": intent})


def ids(neighbours: list[tuple[str, float, dict]]) -> list[str]:
    return [n[0] for n in neighbours]


def test_promote_moves_the_predicted_intent_first_within_the_margin() -> None:
    hits = [hit("1", "create_account", 0.95), hit("2", "registration_problems", 0.90),
            hit("3", "registration_problems", 0.80)]
    assert ids(promote(hits, "registration_problems")) == ["2", "1", "3"]
    assert ids(promote(hits, "create_account")) == ["1", "2", "3"]
    assert ids(promote(hits, "absent_intent")) == ["1", "2", "3"]


def test_promote_keeps_a_much_better_record_on_top() -> None:
    hits = [hit("policy", "", 0.90), hit("qa", "get_refund", 0.55)]
    assert ids(promote(hits, "get_refund", margin=0.2)) == ["policy", "qa"]
    assert promote([], "x") == []


def test_filters_accept_known_keys_and_drop_empty_values() -> None:
    assert check_filters({"category": "ORDER", "product": "", "source": None}) == {"category": "ORDER"}
    assert check_filters(None) == {}
    with pytest.raises(QueryError, match="unknown filter colour"):
        check_filters({"colour": "red"})


CASES = [  # (query, right intent, intent of the plain nearest neighbour)
    ("trouble with account creation", "registration_problems", "create_account"),
    ("cannot make an account", "registration_problems", "create_account"),
    ("creating an account", "create_account", "create_account"),
]


@pytest.mark.model
def test_intent_head_decides_the_top_hit(data_dir: Path) -> None:
    from knowledge.base import KnowledgeBase

    records = []  # requests only, as in BANKING77: the request head alone (tests/test_intents.py: both)
    for intent, requests in {
        "create_account": ["open a new account", "I want to make an account", "sign me up for an account",
                           "how to create a user profile", "help creating account"],
        "registration_problems": ["I can't register", "error when registering",
                                  "the sign-up form fails", "issue with registration",
                                  "help creating account?"],
    }.items():
        records += [Record(id=f"{intent}:{i}", request=r, resolution="", intent=intent,
                           category="ACCOUNT", source="test") for i, r in enumerate(requests)]
    kb = KnowledgeBase(KnowledgeConfig(), data_dir)
    assert kb.add_records(records).added == 10
    assert kb.store.load_head() is not None
    plain = KnowledgeBase(KnowledgeConfig(rerank_depth=0), data_dir)
    for query, intent, nearest in CASES:
        hits = kb.search(query, 3)
        assert hits[0].record.intent == intent, query
        assert plain.search(query, 1)[0].record.intent == nearest, query
        assert {h.id for h in hits} <= {r.id for r in records}
        # the scores are the real cosine similarities, the same as without re-ranking
        plain_scores = {h.id: h.score for h in plain.search(query, 10)}
        assert all(h.score == pytest.approx(plain_scores[h.id], abs=1e-6) for h in hits)


@pytest.mark.model
def test_the_head_reads_the_intents_by_their_labels_or_their_identifiers(data_dir: Path) -> None:
    import numpy as np

    from knowledge.base import KnowledgeBase

    records = [Record(id=f"{intent}:{i}", request=request, resolution="", intent=intent, source="test")
               for intent, requests in {"track_order": ["track my order", "order status please"],
                                        "delivery_period": ["how long is shipping", "delivery time?"]}.items()
               for i, request in enumerate(requests)]
    kb = KnowledgeBase(KnowledgeConfig(), data_dir, intent_labels={"track_order": "where your order is"})
    kb.add_records(records)
    head = kb.retriever.head()
    assert head is not None and head.names is not None
    expected = kb.embed(["delivery period" if label == "delivery_period" else "where your order is"
                         for label in head.labels])
    np.testing.assert_allclose(head.names, expected, atol=1e-5)
    # Labels of none of the history's intents (another history's), or none at all: no names read.
    for labels in ({"refund_status": "the status of a refund"}, {}):
        other = KnowledgeBase(KnowledgeConfig(), data_dir, intent_labels=labels).retriever.head()
        assert other is not None and other.names is None


@pytest.mark.model
def test_the_head_reads_the_ways_customers_say_an_intent(data_dir: Path) -> None:
    """`intent_examples` (config: dialogue.intent_examples) are embedded once and read with the names;
    examples alone, without a label, turn the names on too."""
    from knowledge.base import KnowledgeBase

    records = [Record(id=f"{intent}:{i}", request=request, resolution="", intent=intent, source="test")
               for intent, requests in {"track_order": ["track my order", "order status please"],
                                        "delivery_period": ["how long is shipping", "delivery time?"]}.items()
               for i, request in enumerate(requests)]
    kb = KnowledgeBase(KnowledgeConfig(), data_dir)
    kb.add_records(records)
    assert kb.retriever.head().names is None  # type: ignore[union-attr]
    examples = {"track_order": ["Has my parcel left the warehouse yet?"], "review": ["I'd like to rate you."]}
    said = KnowledgeBase(KnowledgeConfig(), data_dir, intent_examples=examples)
    head = said.retriever.head()
    assert head is not None and head.names is not None and head.examples is not None
    assert head.examples.shape[0] == 1 and head.labels[int(head.example_intents[0])] == "track_order"
    question = "has the parcel left your warehouse?"
    assert said.search(question, 1)[0].intents[0][0] == "track_order"
    assert dict(said.search(question, 1)[0].intents)["track_order"] > dict(
        kb.search(question, 1)[0].intents)["track_order"]


@pytest.mark.model
def test_intent_filter_bypasses_the_head(data_dir: Path) -> None:
    from knowledge.base import KnowledgeBase

    kb = KnowledgeBase(KnowledgeConfig(), data_dir)
    kb.add_records([Record(id=f"r{i}", request=t, resolution="a", intent=intent, source="t")
                    for i, (t, intent) in enumerate([("refund please", "get_refund"),
                                                     ("refund again", "get_refund"),
                                                     ("where is my refund", "track_refund"),
                                                     ("refund status", "track_refund")])])
    hits = kb.search("refund", 4, filters={"intent": "track_refund"})
    assert [h.record.intent for h in hits] == ["track_refund", "track_refund"]
    assert hits[0].score >= hits[1].score


@pytest.mark.model
def test_head_follows_relabelled_and_pruned_records(data_dir: Path) -> None:
    from knowledge.base import KnowledgeBase

    def records(parcel_intent: str) -> list[Record]:
        refunds = ["refund please", "money back", "I want a refund"]
        parcels = ["where is my parcel", "track my package", "delivery status"]
        return ([Record(id=f"r{j}", request=t, resolution="a", intent="get_refund", source="t")
                 for j, t in enumerate(refunds)]
                + [Record(id=f"p{j}", request=t, resolution="a", intent=parcel_intent, source="t")
                   for j, t in enumerate(parcels)])

    kb = KnowledgeBase(KnowledgeConfig(), data_dir)
    kb.add_records(records("track_order"))
    assert kb.store.load_head().labels == ("get_refund", "track_order")
    kb.add_records([Record(id="note", request="saved chat", resolution="b", source="console")])
    assert kb.store.load_head().labels == ("get_refund", "track_order")
    kb.add_records(records("delivery_status"))  # same requests, new label: updated, not added
    assert kb.store.load_head().labels == ("delivery_status", "get_refund")
    kb.add_records([r for r in records("delivery_status") if r.intent == "get_refund"], prune=True)
    assert kb.store.load_head() is None  # one intent left: nothing to choose between


@pytest.mark.model
def test_without_a_head_only_the_k_nearest_are_fetched(data_dir: Path) -> None:
    """Fetching rerank_depth records' metadata is for the head to promote among; with no
    head (no intents ingested) it would be work thrown away on every search."""
    from knowledge.base import KnowledgeBase

    kb = KnowledgeBase(KnowledgeConfig(rerank_depth=20), data_dir)
    kb.add_records([Record(id=f"r{i}", request=t, resolution="a", source="t")
                    for i, t in enumerate(["refund please", "where is my parcel", "change my address",
                                           "cancel the order", "reset my password"])])
    asked: list[int] = []
    query = kb.retriever.store.query
    kb.retriever.store.query = lambda vectors, n, where=None, **kw: (asked.append(n)
                                                                    or query(vectors, n, where, **kw))
    hits = kb.search("I want my money back", 2)
    assert kb.retriever.head() is None and asked == [2]
    assert [h.id for h in hits] == [h.id for h in KnowledgeBase(KnowledgeConfig(rerank_depth=0),
                                                                 data_dir).search("I want my money back", 2)]
