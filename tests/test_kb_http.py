"""The console's extra endpoints: saving a resolved conversation to the knowledge base
(real Chroma and the packaged embedder), and reading an upload back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from channel_fakes import FakeAuthenticator, FakeRuntimeFactory, hello, say, until
from starlette.testclient import TestClient

from channels.app import create_app

DANA = {"Authorization": "Bearer token-dana"}  # agent of inbox "default"
OTTO = {"Authorization": "Bearer token-otto"}  # agent of inbox "other" only
LEE = {"Authorization": "Bearer token-lee"}  # agent of every inbox
SCREENSHOT = Path(__file__).parent / "data" / "abcd" / "faq_screenshot.png"


@pytest.fixture
def runtime_factory() -> FakeRuntimeFactory:
    return FakeRuntimeFactory()


@pytest.fixture
def client(settings: Any, runtime_factory: FakeRuntimeFactory):
    app = create_app(settings, runtime_factory, authenticator=FakeAuthenticator())
    with TestClient(app) as c:
        yield c


def _conversation(client: TestClient) -> dict[str, Any]:
    with client.websocket_connect("/ws/chat") as ws:
        return hello(ws)


@pytest.mark.model
def test_a_saved_conversation_is_found_by_the_next_search(client: TestClient, settings: Any,
                                                          runtime_factory: FakeRuntimeFactory) -> None:
    from assistant.agent_knowledge import AgentKnowledge
    from knowledge.base import KnowledgeBase
    from knowledge.redact import Redactor

    kb = KnowledgeBase(settings.knowledge, settings.data_dir)
    runtime_factory.runtime.agent_knowledge = AgentKnowledge(  # type: ignore[union-attr]
        kb, Redactor(settings.knowledge.redact_patterns))
    cid = _conversation(client)["conversation_id"]
    body = {"conversation_id": cid,
            "request": "My parcel says delivered but it never arrived, write to jo.doe@example.com",
            "resolution": "We opened a claim with the carrier and sent a replacement the same day."}
    saved = client.post("/api/kb/records", json=body, headers=DANA)
    assert saved.status_code == 201, saved.text
    assert saved.json()["id"] == f"console-{cid}"
    assert "jo.doe@example.com" not in saved.json()["request"] and "[EMAIL]" in saved.json()["request"]
    hits = kb.search("the parcel was marked delivered but never arrived", k=1)
    assert hits[0].id == f"console-{cid}"
    assert "claim with the carrier" in hits[0].text
    assert "example.com" not in hits[0].record.request
    # Saving again replaces the record rather than adding a second one.
    client.post("/api/kb/records", json={**body, "resolution": "Refunded in full."}, headers=DANA)
    assert [h.text for h in kb.search("parcel never arrived", k=3) if h.id == f"console-{cid}"] == [
        "Refunded in full."]
    kb.close()


@pytest.mark.model
def test_a_conversation_saved_with_its_intent_teaches_the_intent_head(client: TestClient, settings: Any,
                                                                      runtime_factory: FakeRuntimeFactory,
                                                                      tmp_path: Path) -> None:
    """Real Bitext records: "courier app says delivered, nothing at the door" is a tracking
    question in a customer's words, which the intent head reads as one about delivery options.
    Saved by an agent with its intent, such words find the record and the head reads them right."""
    from kb_data import bitext_rows, write_csv

    from assistant.agent_knowledge import AgentKnowledge
    from knowledge.base import KnowledgeBase
    from knowledge.redact import Redactor

    kb = KnowledgeBase(settings.knowledge, settings.data_dir)
    header, rows = bitext_rows(every=40)
    kb.ingest([write_csv(tmp_path / "bitext.csv", header, rows)])
    runtime_factory.runtime.agent_knowledge = AgentKnowledge(  # type: ignore[union-attr]
        kb, Redactor(settings.knowledge.redact_patterns))
    listed = client.get("/api/kb/intents", headers=DANA).json()["intents"]
    assert len(listed) == 27 and {"intent": "track_order", "label": "where your order is"} in listed
    assert client.get("/api/kb/intents").status_code == 401

    asked = "courier app says delivered, nothing at the door"
    assert kb.search(asked, k=1)[0].intents[0][0] != "track_order"  # the history's wording is not this
    cid = _conversation(client)["conversation_id"]
    body = {"conversation_id": cid,
            "request": "the courier app says delivered but there's nothing at my door",
            "resolution": "I checked with the courier: it was left with your neighbour at number 12."}
    unknown = client.post("/api/kb/records", json={**body, "intent": "parcel_magic"}, headers=DANA)
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_intent"
    saved = client.post("/api/kb/records", json={**body, "intent": "track_order"}, headers=DANA)
    assert saved.status_code == 201 and saved.json()["intent"] == "track_order"
    hit = kb.search(asked, k=1)[0]
    assert (hit.id, hit.record.intent, hit.intents[0][0]) == (f"console-{cid}", "track_order", "track_order")
    kb.close()


@pytest.mark.model
def test_agents_review_the_lessons_of_their_inboxes_and_take_a_wrong_one_out(
        client: TestClient, settings: Any, runtime_factory: FakeRuntimeFactory, tmp_path: Path) -> None:
    """Real Bitext records and real weights: lessons as `kb learn` makes them, listed to the agents
    of their conversation's inbox; one taken out is gone from the search and kept out for good."""
    import time

    from kb_data import bitext_rows, write_csv

    from assistant.agent_knowledge import AgentKnowledge
    from assistant.learning import Learned, learned_records
    from knowledge.base import KnowledgeBase
    from knowledge.redact import Redactor

    kb = KnowledgeBase(settings.knowledge, settings.data_dir)
    header, rows = bitext_rows(every=40)
    kb.ingest([write_csv(tmp_path / "bitext.csv", header, rows)])
    runtime_factory.runtime.agent_knowledge = AgentKnowledge(  # type: ignore[union-attr]
        kb, Redactor(settings.knowledge.redact_patterns))
    now = time.time()
    found = [Learned("c1", "m1", "i want my money back, write to me at ann@example.com", "track_order",
                     "rated", now, "default"),  # rated up, though the answer was about tracking
             Learned("c2", "m2", "can i pay with paypal", "check_payment_methods", "chose", now, "other"),
             Learned("c3", "m3", "where's my parcel", "track_order", "agent", now)]  # before inboxes
    records, _ = learned_records(found, kb, Redactor(settings.knowledge.redact_patterns))
    kb.add_records(records)

    def ids(headers: dict[str, str]) -> list[str]:
        got = client.get("/api/kb/learned", headers=headers)
        assert got.status_code == 200, got.text
        return sorted(lesson["id"] for lesson in got.json()["lessons"])

    assert ids(DANA) == ["learned-m1"] and ids(OTTO) == ["learned-m2"]
    assert ids(LEE) == ["learned-m1", "learned-m2", "learned-m3"]
    [lesson] = client.get("/api/kb/learned", headers=DANA).json()["lessons"]
    assert {k: lesson[k] for k in ("intent", "label", "signal", "inbox")} == {
        "intent": "track_order", "label": "where your order is", "signal": "rated", "inbox": "default"}
    assert "ann@example.com" not in lesson["request"]  # redacted like every import
    assert client.get("/api/kb/learned").status_code == 401

    not_hers = client.delete("/api/kb/learned/learned-m2", headers=DANA)
    assert not_hers.status_code == 403 and not_hers.json()["code"] == "forbidden"
    bitext = next(h.id for h in kb.search("track my order", k=5) if h.record.source != "learned")
    imported = client.delete(f"/api/kb/learned/{bitext}", headers=DANA)
    assert imported.status_code == 400 and imported.json()["code"] == "not_learned"
    assert kb.stored(["learned-m1"]) == {"learned-m1"}
    gone = client.delete("/api/kb/learned/learned-m1", headers=DANA)
    assert gone.status_code == 200 and gone.json() == {"id": "learned-m1", "forgotten": True}
    assert ids(DANA) == [] and ids(LEE) == ["learned-m2", "learned-m3"]
    assert kb.stored(["learned-m1"]) == set()
    assert "learned-m1" not in {h.id for h in kb.search(lesson["request"], k=5)}
    again = client.delete("/api/kb/learned/learned-m1", headers=DANA)
    assert again.status_code == 404 and again.json()["code"] == "lesson_not_found"
    # The next `kb learn` leaves it out.
    records, left_out = learned_records(found, kb, Redactor())
    assert sorted(r.id for r in records) == ["learned-m2", "learned-m3"]
    assert [i.message_id for i in left_out] == ["m1"]
    kb.close()


@pytest.mark.model
def test_agents_learn_now_from_the_conversations_of_their_inboxes(
        client: TestClient, settings: Any, runtime_factory: FakeRuntimeFactory, tmp_path: Path) -> None:
    """A customer rates an answer about cancelling up: `POST /api/kb/learn` (the Reports tab's
    "Learn now") finds that lesson in the agent's inbox, stores nothing on a dry run, stores it
    once, and an agent of another inbox learns nothing from it."""
    from kb_data import bitext_rows, write_csv

    from assistant.agent_knowledge import AgentKnowledge
    from knowledge.base import KnowledgeBase
    from knowledge.redact import Redactor

    kb = KnowledgeBase(settings.knowledge, settings.data_dir)
    header, rows = bitext_rows(every=40)
    kb.ingest([write_csv(tmp_path / "bitext.csv", header, rows)])
    runtime_factory.runtime.agent_knowledge = AgentKnowledge(  # type: ignore[union-attr]
        kb, Redactor(settings.knowledge.redact_patterns))
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        say(ws, "changed my mind, how do i stop the order i placed this morning")
        answer = until(ws, "answer")[-1]  # the fake dialogue answers from a cancel_order record
        ws.send_json({"type": "feedback", "message_id": answer["message_id"], "rating": "up"})
        assert ws.receive_json()["type"] == "feedback"

    dry = client.post("/api/kb/learn", json={"dry_run": True}, headers=DANA)
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert {k: body[k] for k in ("confirmed", "learned", "left_out", "added", "dry_run")} == {
        "confirmed": 1, "learned": 1, "left_out": 0, "added": 0, "dry_run": True}
    [lesson] = body["lessons"]
    assert (lesson["request"], lesson["intent"], lesson["signal"], lesson["inbox"]) == (
        "changed my mind, how do i stop the order i placed this morning", "cancel_order", "rated", "default")
    assert client.get("/api/kb/learned", headers=DANA).json()["lessons"] == []  # a dry run stores nothing
    assert client.post("/api/kb/learn", json={}, headers=OTTO).json()["confirmed"] == 0  # not his inbox
    done = client.post("/api/kb/learn", json={"days": 7}, headers=DANA).json()
    assert (done["learned"], done["added"]) == (1, 1)
    assert [x["id"] for x in client.get("/api/kb/learned", headers=DANA).json()["lessons"]] == [lesson["id"]]
    assert client.post("/api/kb/learn", json={}, headers=DANA).json()["added"] == 0  # nothing new
    bad = client.post("/api/kb/learn", json={"days": 0}, headers=DANA)
    assert bad.status_code == 400 and bad.json()["code"] == "bad_request"
    assert client.post("/api/kb/learn", json={}).status_code == 401
    kb.close()


def test_saving_needs_an_agent_of_the_conversations_inbox(client: TestClient) -> None:
    cid = _conversation(client)["conversation_id"]
    body = {"conversation_id": cid, "request": "q", "resolution": "a"}
    anonymous = client.post("/api/kb/records", json=body)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthorized"
    other_inbox = client.post("/api/kb/records", json=body, headers=OTTO)
    assert other_inbox.status_code == 403 and other_inbox.json()["code"] == "forbidden"


def test_a_record_without_a_resolution_is_refused(client: TestClient) -> None:
    cid = _conversation(client)["conversation_id"]
    empty = client.post("/api/kb/records", json={"conversation_id": cid, "request": "q", "resolution": "  "},
                        headers=DANA)
    assert empty.status_code == 400 and empty.json()["code"] == "bad_record"


def test_a_knowledge_base_that_cannot_add_records_says_so(client: TestClient) -> None:
    cid = _conversation(client)["conversation_id"]  # the fake runtime's knowledge only searches
    refused = client.post("/api/kb/records", json={"conversation_id": cid, "request": "q", "resolution": "a"},
                          headers=DANA)
    assert refused.json()["code"] == "kb_read_only"


def test_an_upload_is_read_back_by_its_customer_and_agents_only(client: TestClient) -> None:
    ready = _conversation(client)
    png = SCREENSHOT.read_bytes()
    up = client.post("/api/uploads", data={"conversation_id": ready["conversation_id"]},
                     files={"file": ("shot.png", png, "image/png")},
                     headers={"X-Resume-Token": ready["resume_token"]})
    url = f"/api/uploads/{up.json()['id']}"
    mine = client.get(url, headers={"X-Resume-Token": ready["resume_token"]})
    assert mine.status_code == 200 and mine.content == png
    assert mine.headers["content-type"] == "image/png" and mine.headers["x-content-type-options"] == "nosniff"
    assert client.get(url, headers=DANA).content == png
    assert client.get(url, headers={"X-Resume-Token": "guess"}).status_code == 403
    assert client.get(url).status_code == 403
    assert client.get(url, headers=OTTO).status_code == 403
    assert client.get("/api/uploads/a_missing", headers=DANA).status_code == 404
