"""Internal knowledge stays internal: the ABCD agent guidelines serve agents, never customers.

Real Chroma, the packaged embedding model, the real app and runtime behind /ws/chat."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from channel_fakes import FakeAuthenticator, hello, say, until
from kb_data import bitext_rows, write_csv
from starlette.testclient import TestClient

from assistant.events import UserMessage
from assistant.runtime import build_runtime
from channels.app import create_app
from channels.cli import main
from knowledge.base import KnowledgeBase
from knowledge.importers import read_records
from knowledge.records import Record
from knowledge.vectorstore import MODEL_KEY

pytestmark = pytest.mark.model

ROOT = Path(__file__).parent.parent
GUIDELINES = ROOT / "demo" / "abcd" / "guidelines.json"
CONFIG = ROOT / "config.toml"
# A question whose nearest records include agents' procedures (the promo-code guidelines).
# (Not "…, can you give me one": the handoff classifier reads "give me one" as asking for a person.)
GUIDELINE_QUESTION = "my promo code is not working, can you send me a new code"


def guideline_sentences() -> list[str]:
    """Every sentence of the guidelines, as stored: none may reach a customer."""
    sentences = []
    for record in read_records(GUIDELINES):
        assert isinstance(record, Record)
        sentences += [s.strip() for s in record.resolution.split(".") if len(s.strip()) > 30]
    return sentences


@pytest.fixture
def loaded(settings, tmp_path: Path):
    header, rows = bitext_rows(every=40)
    bitext = write_csv(tmp_path / "bitext.csv", header, rows)
    with KnowledgeBase(settings.knowledge, settings.data_dir, settings.company) as kb:
        kb.ingest([bitext, GUIDELINES])
    return settings


def test_guidelines_are_internal_and_customer_searches_leave_them_out(loaded) -> None:
    with KnowledgeBase(loaded.knowledge, loaded.data_dir) as kb:
        assert kb.stats()["by_audience"]["internal"] > 100
        agent = kb.search(GUIDELINE_QUESTION, 5, audience="any")
        customer = kb.search(GUIDELINE_QUESTION, 5)
    assert any(h.record.audience == "internal" and h.record.source == "abcd:guidelines" for h in agent)
    assert customer and all(h.record.audience == "customer" for h in customer)


def test_an_internal_guideline_never_reaches_ws_chat(loaded) -> None:
    app = create_app(loaded, build_runtime, authenticator=FakeAuthenticator())
    with TestClient(app) as client, client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        say(ws, GUIDELINE_QUESTION, "m1")
        answer = until(ws, "answer")[-1]
    assert answer["text"]
    assert all(s["audience"] == "customer" and not s["id"].startswith("abcd:guidelines")
               for s in answer["sources"])
    assert not [s for s in guideline_sentences() if s in answer["text"]]
    assert "[Pull up Account]" not in answer["text"]


async def test_an_agents_suggestion_may_draw_on_guidelines_and_says_so(loaded) -> None:
    async with build_runtime(loaded) as rt:
        conv = await rt.dialogue.new_conversation()
        [e async for e in rt.dialogue.handle(UserMessage(conversation_id=conv.id, text=GUIDELINE_QUESTION))]
        await rt.dialogue.take_over(conv.id, "dana")
        suggestion = [e async for e in rt.dialogue.suggest(conv.id)][-1]
    assert suggestion.type == "suggestion" and suggestion.internal
    assert any(s.audience == "internal" for s in suggestion.sources)


def test_kb_ingest_audience_flag_marks_every_record_internal(settings, tmp_path: Path, capsys) -> None:
    header, rows = bitext_rows(every=200)
    source = write_csv(tmp_path / "policies.csv", header, rows)
    args = ["--config", str(CONFIG), "--data-dir", str(settings.data_dir), "kb"]
    assert main([*args, "ingest", str(source), "--audience", "internal"]) == 0
    assert main([*args, "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert stats["by_audience"] == {"internal": len(rows)}


def test_a_mapped_audience_column_is_read_and_a_bad_value_is_a_row_problem(settings, tmp_path: Path,
                                                                           capsys) -> None:
    source = tmp_path / "mixed.csv"
    source.write_text("question,answer,who\nHow do I return shoes?,Use the returns page.,customer\n"
                      "Refund over 100 dollars?,Escalate to a supervisor first.,internal\n"
                      "What is this?,Nothing.,everyone\n", encoding="utf-8")
    args = ["--config", str(CONFIG), "--data-dir", str(settings.data_dir), "kb"]
    code = main([*args, "ingest", str(source), "--format", "csv",
                 "--map", "request=question", "resolution=answer", "audience=who"])
    assert code == 1 and "audience 'everyone' is not one of customer, internal" in capsys.readouterr().err
    with KnowledgeBase(settings.knowledge, settings.data_dir) as kb:
        assert kb.stats()["by_audience"] == {"customer": 1, "internal": 1}


def test_a_collection_stored_before_audiences_migrates_in_place(settings, tmp_path: Path) -> None:
    """Records written by an older version (no audience key): guidelines become internal, the
    rest customer, and re-ingesting the same files finds every record unchanged."""
    header, rows = bitext_rows(every=100)
    bitext = write_csv(tmp_path / "bitext.csv", header, rows)
    with KnowledgeBase(settings.knowledge, settings.data_dir) as kb:
        records = kb.read([bitext, GUIDELINES])
        old = [dataclasses.replace(r, audience="customer") for r in records]  # as stored before
        metas = []
        for r in old:
            meta = r.metadata()
            del meta["audience"]
            metas.append(meta)
        collection = kb.store.client.create_collection(
            settings.knowledge.chroma.collection, configuration={"hnsw": {"space": "cosine"}},
            metadata={MODEL_KEY: kb.embedder.model_id}, embedding_function=kb.embedder.chroma_function())
        texts = [r.embedding_text() for r in old]
        collection.add(ids=[r.id for r in old], embeddings=kb.embedder.embed(texts), documents=texts,
                       metadatas=metas)
    with KnowledgeBase(settings.knowledge, settings.data_dir) as kb:
        by = kb.stats()["by_audience"]
        report = kb.ingest([bitext, GUIDELINES])
    internal = sum(r.audience == "internal" for r in records)
    assert by == {"customer": len(records) - internal, "internal": internal}
    assert (report.added, report.updated, report.unchanged) == (0, 0, len(records))
