"""The KnowledgeBase facade on real Chroma and the real packaged embedding model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from kb_data import bitext_rows, write_csv

from knowledge.base import KnowledgeBase
from knowledge.config import ChromaConfig, KnowledgeConfig
from knowledge.errors import FormatError, QueryError

pytestmark = pytest.mark.model

COMPANY = {"website_name": "acme.example"}


class EmbedCounter:
    """Wraps the real embedder's embed() to count how many texts get embedded."""

    def __init__(self, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
        self.texts = 0
        real = kb.embedder.embed

        def counting(texts, **kw):
            self.texts += len(texts)
            return real(texts, **kw)

        monkeypatch.setattr(kb.embedder, "embed", counting)


@pytest.fixture(scope="module")
def bitext_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    header, rows = bitext_rows(every=15)  # 301 rows over all intents
    return write_csv(tmp_path_factory.mktemp("src") / "bitext.csv", header, rows)


@pytest.fixture(scope="module")
def kb(bitext_file: Path, tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    kb = KnowledgeBase(KnowledgeConfig(), tmp_path_factory.mktemp("data"), COMPANY)
    report = kb.ingest([bitext_file])
    assert (report.added, report.skipped, report.problems) == (301, 0, [])
    yield kb
    kb.close()


def test_reingest_adds_nothing_and_embeds_nothing(kb: KnowledgeBase, bitext_file: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    counter = EmbedCounter(kb, monkeypatch)
    report = kb.ingest([bitext_file])
    assert (report.added, report.updated, report.unchanged, report.pruned) == (0, 0, 301, 0)
    assert counter.texts == 0
    assert kb.stats()["count"] == 301


def test_changed_answer_updates_one_record(data_dir: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    header, rows = bitext_rows(every=150)
    path = write_csv(tmp_path / "b.csv", header, rows)
    kb = KnowledgeBase(KnowledgeConfig(), data_dir)
    assert kb.ingest([path]).added == len(rows)
    rows[0][-1] = "To cancel, open Orders and press Cancel. Refunds take 3 days."
    write_csv(path, header, rows)
    counter = EmbedCounter(kb, monkeypatch)
    report = kb.ingest([path])
    assert (report.added, report.updated, report.unchanged) == (0, 1, len(rows) - 1)
    assert counter.texts == 1
    [top] = kb.search(rows[0][2], 1)
    assert top.text == "To cancel, open Orders and press Cancel. Refunds take 3 days."


def test_retrain_embeds_only_new_or_changed_resolution_openings(data_dir: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    header, rows = bitext_rows(every=40)  # 3-5 records an intent: every intent gets an answer head
    path = write_csv(tmp_path / "b.csv", header, rows)
    kb = KnowledgeBase(KnowledgeConfig(), data_dir)
    counter = EmbedCounter(kb, monkeypatch)
    kb.ingest([path])
    head = kb.store.load_head()
    assert head is not None and head.answer_weights is not None and len(head.labels) == 27
    assert counter.texts == 2 * len(rows)  # every request, then every resolution's opening
    rows[0][-1] = "To cancel, open Orders and press Cancel. Refunds take 3 days."
    rows.append(rows[1][:2] + ["please cancel the order I placed this morning"] + rows[1][3:])
    write_csv(path, header, rows)
    counter.texts = 0
    report = kb.ingest([path])
    assert (report.added, report.updated) == (1, 1)
    assert counter.texts == 4  # the two records, the opening that changed and the new record's
    assert kb.delete() == len(rows)
    assert "support_records.openings" not in {c.name for c in kb.store.client.list_collections()}


def test_a_head_stored_before_keywords_is_trained_again_at_the_next_ingest(data_dir: Path,
                                                                           tmp_path: Path) -> None:
    header, rows = bitext_rows(every=15)
    path = write_csv(tmp_path / "b.csv", header, rows)
    kb = KnowledgeBase(KnowledgeConfig(), data_dir)
    kb.ingest([path])
    head = kb.store.load_head()
    assert head is not None and head.keywords
    kb.store.save_head(dataclasses.replace(head, keywords=None))  # as a head stored before them
    assert kb.ingest([path]).unchanged == len(rows)
    again = kb.store.load_head()
    assert again is not None and again.keywords == head.keywords


def test_prune_removes_records_gone_from_the_source(data_dir: Path, tmp_path: Path) -> None:
    header, rows = bitext_rows(every=150)
    path = write_csv(tmp_path / "b.csv", header, rows)
    kb = KnowledgeBase(KnowledgeConfig(), data_dir)
    kb.ingest([path])
    write_csv(path, header, rows[2:])
    assert kb.ingest([path]).pruned == 0  # without --prune nothing is deleted
    assert kb.stats()["count"] == len(rows)
    report = kb.ingest([path], prune=True)
    assert (report.pruned, report.unchanged) == (2, len(rows) - 2)
    assert kb.stats()["count"] == len(rows) - 2


def test_bad_rows_are_skipped_with_line_numbers_and_block_prune(data_dir: Path, tmp_path: Path) -> None:
    header, rows = bitext_rows(every=150, limit=5)
    rows[2][-1] = ""  # an empty response
    path = write_csv(tmp_path / "b.csv", header, rows)
    kb = KnowledgeBase(KnowledgeConfig(), data_dir)
    report = kb.ingest([path], prune=True)
    assert (report.added, report.skipped) == (4, 1)
    [problem] = report.problems
    # answers span several lines: the problem names the physical line where the bad row starts
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if rows[2][2] in text)
    assert str(problem) == f"{path}:{line}: empty response"
    assert report.warnings and "not pruned" in report.warnings[0]


def test_missing_file_is_a_format_error(data_dir: Path, tmp_path: Path) -> None:
    kb = KnowledgeBase(KnowledgeConfig(), data_dir)
    with pytest.raises(FormatError):
        kb.ingest([tmp_path / "nope.csv"])


def test_search_finds_the_right_intent_with_sorted_scores(kb: KnowledgeBase) -> None:
    queries = {
        "I want to cancel my order": "cancel_order",
        "how do I get my money back": "get_refund",
        "I forgot my password": "recover_password",
        "which ways can I pay": "check_payment_methods",
    }
    for query, intent in queries.items():
        hits = kb.search(query, 5)
        assert len(hits) == 5
        assert hits[0].record.intent == intent, query
        assert all(0.0 <= h.score <= 1.0 for h in hits)
        rest = [h.score for h in hits[1:]]  # the first hit may be promoted by the intent head
        assert rest == sorted(rest, reverse=True)
        assert len({h.id for h in hits}) == 5


def test_placeholders_are_filled_from_company(kb: KnowledgeBase) -> None:
    hits = kb.search("I can't log in to my account", 10)
    texts = " ".join(h.text for h in hits)
    assert "{{" not in texts
    raw = " ".join(h.record.resolution for h in hits)
    if "{{Website Name}}" in raw:
        assert "acme.example" in texts


def test_filters_restrict_hits_and_combine(kb: KnowledgeBase) -> None:
    hits = kb.search("I want to cancel my order", 5, filters={"category": "REFUND"})
    assert hits and all(h.record.category == "REFUND" for h in hits)
    both = kb.search("refund", 50, filters={"category": "REFUND", "intent": "track_refund"})
    assert both and all(h.record.intent == "track_refund" for h in both)
    assert kb.search("refund", 5, filters={"category": "REFUND", "source": "elsewhere"}) == []
    with pytest.raises(QueryError) as info:
        kb.search("refund", filters={"colour": "red"})
    assert info.value.code == "bad_query"


def test_empty_query_is_refused(kb: KnowledgeBase) -> None:
    with pytest.raises(QueryError):
        kb.search("   ")


def test_search_many_matches_single_searches(kb: KnowledgeBase) -> None:
    queries = ["where is my package", "I need an invoice", "change my shipping address"]
    many = kb.search_many(queries, 3)
    assert [[h.id for h in hits] for hits in many] == [[h.id for h in kb.search(q, 3)] for q in queries]


def test_default_k_comes_from_config(kb: KnowledgeBase) -> None:
    assert len(kb.search("newsletter")) == kb.config.default_k


def test_stats_count_by_source_category_and_kind(kb: KnowledgeBase) -> None:
    stats = kb.stats()
    assert stats["count"] == 301
    assert stats["by_source"] == {"bitext": 301}
    assert sum(stats["by_category"].values()) == 301 and "ORDER" in stats["by_category"]
    assert stats["by_kind"] == {"qa": 301}
    assert stats["embedding_model"] == "packaged:minilm-int8"
    assert stats["chroma"]["mode"] == "embedded"


def test_langchain_retriever_returns_scored_documents(kb: KnowledgeBase) -> None:
    from langchain_core.retrievers import BaseRetriever

    retriever = kb.as_langchain(k=3)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("I want to cancel my order")
    assert len(docs) == 3
    assert docs[0].metadata["intent"] == "cancel_order"
    assert 0 < docs[0].metadata["score"] <= 1 and docs[0].metadata["id"] == docs[0].id


def test_delete_drops_everything(data_dir: Path, tmp_path: Path) -> None:
    header, rows = bitext_rows(every=300)
    kb = KnowledgeBase(KnowledgeConfig(), data_dir)
    kb.ingest([write_csv(tmp_path / "b.csv", header, rows)])
    assert kb.delete() == len(rows)
    assert kb.stats()["count"] == 0
    assert kb.search("cancel order") == []
    assert kb.delete() == 0


def test_personal_data_is_redacted_before_storing(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text("request,resolution\n"
                    "my email is jane.doe@example.com and card 4111 1111 1111 1111,We fixed it.\n"
                    "account ACCT-123456 is locked,Unlocked it.\n")
    kb = KnowledgeBase(KnowledgeConfig(redact_patterns=[r"ACCT-\d{6}"]), data_dir)
    assert kb.ingest([path], format="csv").added == 2
    stored = " ".join(h.record.request for h in kb.search("email card account", 2))
    assert "jane.doe@example.com" not in stored and "4111" not in stored and "ACCT-123456" not in stored
    assert "[EMAIL]" in stored and "[REDACTED]" in stored


def test_a_serving_process_searches_what_another_process_ingested(data_dir: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`assistant kb ingest` (or `kb learn`) beside a running `assistant serve` on the embedded
    Chroma: the service searches the new records once it next re-reads the stored words (every
    30 s; now here). It used not to until it wrote something itself or restarted."""
    import subprocess
    import sys

    import knowledge.retriever

    header, rows = bitext_rows(every=150)
    kb = KnowledgeBase(KnowledgeConfig(), data_dir)
    kb.ingest([write_csv(tmp_path / "b.csv", header, rows)])
    asked = "do you deliver garden gnomes to the moon base"
    assert kb.search(asked, 1)[0].text != "Only on Earth for now."  # loaded, and searched
    tickets = tmp_path / "gnomes.csv"
    tickets.write_text("request,resolution,intent\n"
                       f"{asked}?,Only on Earth for now.,delivery_options\n")
    subprocess.run([sys.executable, "-m", "assistant", "--data-dir", str(data_dir), "kb", "ingest",
                    str(tickets), "--format", "csv"], check=True,
                   cwd=Path(__file__).parent.parent, capture_output=True, timeout=300)
    monkeypatch.setattr(knowledge.retriever, "HEAD_RELOAD_SECONDS", 0.0)
    assert kb.search(asked, 1)[0].text == "Only on Earth for now."
    kb.close()


def test_http_mode_against_a_real_chroma_server(chroma_server: int, data_dir: Path, tmp_path: Path) -> None:
    header, rows = bitext_rows(every=60)
    path = write_csv(tmp_path / "b.csv", header, rows)
    config = KnowledgeConfig(chroma=ChromaConfig(mode="http", host="127.0.0.1", port=chroma_server))
    with KnowledgeBase(config, data_dir) as kb:
        assert kb.ingest([path]).added == len(rows)
        assert kb.ingest([path]).unchanged == len(rows)
        [top] = kb.search("I want to cancel my order", 1)
        assert top.record.intent == "cancel_order"
        stats = kb.stats()
        assert stats["count"] == len(rows)
        assert stats["chroma"] == {"mode": "http", "location": f"http://127.0.0.1:{chroma_server}",
                                   "collection": "support_records"}
    assert not (data_dir / "chroma").exists()  # nothing was written locally


def test_concurrent_first_searches_share_one_model(kb: KnowledgeBase) -> None:
    from concurrent.futures import ThreadPoolExecutor

    fresh = KnowledgeBase(kb.config, kb.data_dir, COMPANY)  # nothing loaded yet
    queries = ["I want to cancel my order", "where is my refund", "I forgot my password"] * 4
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda q: [h.id for h in fresh.search(q, 3)], queries))
    assert results == [[h.id for h in kb.search(q, 3)] for q in queries]
    fresh.close()
