"""Outcome reports (assistant.reports) on both real stores, the CLI and GET /api/reports."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from assistant.events import (
    AgentMessage,
    AnswerCompleted,
    AnswerStarted,
    Event,
    Feedback,
    Option,
    StatusChanged,
    UserMessage,
    VoiceTranscript,
)
from assistant.reports import fold, gaps, outcome, report
from assistant.store.postgres import PostgresStore
from assistant.store.sqlite import SQLiteStore

QUIET = 1800.0


@pytest.fixture
def store(either_store: SQLiteStore | PostgresStore) -> SQLiteStore | PostgresStore:
    return either_store


def said(cid: str, text: str, at: float, mid: str = "") -> UserMessage:
    return UserMessage(conversation_id=cid, message_id=mid or uuid.uuid4().hex, text=text, at=at)


def answered(cid: str, mid: str, at: float, grounded: bool = True) -> list[Event]:
    """An answer as the dialogue streams it: started, then completed."""
    text = "Here is how." if grounded else "I'm sorry, I don't have information on that in our records."
    return [AnswerStarted(conversation_id=cid, message_id=mid, at=at - 0.5),
            AnswerCompleted(conversation_id=cid, message_id=mid, text=text, grounded=grounded, at=at)]


def rated(cid: str, mid: str, rating: str, at: float) -> Feedback:
    return Feedback(conversation_id=cid, message_id=mid, rating=rating, at=at)  # type: ignore[arg-type]


def moved(cid: str, state: str, reason: str, at: float, agent: str = "") -> StatusChanged:
    return StatusChanged(conversation_id=cid, state=state, reason=reason, agent=agent, at=at)  # type: ignore[arg-type]


async def conversation(store: Any, events: Callable[[str], list[Event]], inbox: str = "default") -> str:
    info = await store.create(inbox=inbox)
    await store.append_many(events(info.id))
    return info.id


async def six_conversations(store: Any, now: float) -> dict[str, str]:
    """One of each outcome, as the dialogue writes them, as of `now`."""
    NOW, AGO = now, now - 3600  # noqa: N806 (an hour ago: longer than QUIET, so finished ones count)
    return {
        "thanked": await conversation(store, lambda c: [
            said(c, "how do I reset my password?", AGO), *answered(c, "a1", AGO + 1),
            rated(c, "a1", "up", AGO + 20)]),
        "rated_down": await conversation(store, lambda c: [
            said(c, "can I change the delivery date?", AGO), *answered(c, "b1", AGO + 2),
            rated(c, "b1", "down", AGO + 30)]),
        "agent": await conversation(store, lambda c: [
            said(c, "I want to talk to a person", AGO),
            moved(c, "waiting_human", "customer_request", AGO + 2),
            moved(c, "human", "agent", AGO + 40, agent="ana"),
            AgentMessage(conversation_id=c, message_id="g1", text="Hi, Ana here.", agent="ana", at=AGO + 62),
            rated(c, "g1", "up", AGO + 90), moved(c, "closed", "closed", AGO + 100)]),
        "abandoned": await conversation(store, lambda c: [
            said(c, "do you ship to mars?", AGO), *answered(c, "d1", AGO + 1, grounded=False),
            said(c, "deliveries to the planet mars, please", AGO + 10),
            *answered(c, "d2", AGO + 11, grounded=False),
            moved(c, "waiting_human", "low_confidence", AGO + 12)]),
        "open": await conversation(store, lambda c: [
            said(c, "", NOW - 60),
            VoiceTranscript(conversation_id=c, message_id="v", text="where is my parcel", at=NOW - 59),
            *answered(c, "e1", NOW - 58)]),
        "reopened": await conversation(store, lambda c: [
            said(c, "cancel my order", AGO), *answered(c, "f1", AGO + 1),
            moved(c, "closed", "closed", AGO + 5),
            moved(c, "bot", "customer_returned", AGO + 600), said(c, "and the refund?", AGO + 600),
            *answered(c, "f2", AGO + 601)]),
    }


def test_fold_reads_a_handoff_answered_by_an_agent() -> None:
    c = "c"
    f = fold([said(c, "a person please", 100.0), moved(c, "waiting_human", "trigger:person", 101.0),
              AgentMessage(conversation_id=c, message_id="g", text="hi", agent="ana", at=131.0),
              rated(c, "g", "down", 140.0), rated(c, "g", "up", 141.0)])  # the last rating counts
    assert (f.handoff_reason, f.agent_reply_at - f.handoff_at) == ("trigger", 30.0)
    assert (f.agent_up, f.agent_down, f.assistant_up, f.answers) == (1, 0, 0, 0)
    assert outcome(f, now=150.0, resolved_after=QUIET) == "handed_off"
    assert outcome(f, now=101.0 + QUIET + 60, resolved_after=QUIET) == "resolved_by_agent"


def test_a_clarifying_question_is_not_an_answer_and_neither_is_a_gap_of_the_question() -> None:
    """"Just to be sure: is your question about placing an order?" - "no": the gap is the
    customer's question, not their "no"; the question back is neither an answer nor unsure."""
    c = "c"
    options = (Option(intent="place_order", label="placing an order"),)
    asked = [AnswerStarted(conversation_id=c, message_id="q", at=1.5),
             AnswerCompleted(conversation_id=c, message_id="q", grounded=False, options=options, at=2.0,
                             text="Just to be sure: is your question about placing an order?")]
    f = fold([said(c, "do you sell garden gnomes on mars?", 1.0), *asked, said(c, "no", 3.0),
              *answered(c, "a", 4.0, grounded=False)])
    assert (f.answers, f.unsure, f.first_answer_at) == (1, 1, 2.0)
    assert [(g["text"], g["why"]) for g in f.gaps] == [("do you sell garden gnomes on mars?", "unsure")]
    # a reply that chose nothing and asked something else is that question's
    g = fold([said(c, "do you sell garden gnomes on mars?", 1.0), *asked,
              said(c, "no, how do I reset my password?", 3.0), *answered(c, "a", 4.0, grounded=False)])
    assert [gap["text"] for gap in g.gaps] == ["no, how do I reset my password?"]


def test_an_assistant_answer_rated_down_last_is_not_a_resolution() -> None:
    c = "c"
    f = fold([said(c, "q", 0.0), *answered(c, "a", 1.0), rated(c, "a", "down", 2.0)])
    assert outcome(f, now=QUIET * 2, resolved_after=QUIET) == "unresolved"
    assert [g["why"] for g in f.gaps] == ["rated_down"] and f.gaps[0]["text"] == "q"
    assert f.row()[-1].startswith('[{"text": "q"')  # as the store keeps it


async def test_report_counts_each_outcome_on_the_real_store(store: Any) -> None:
    NOW = time.time()  # noqa: N806
    AGO = NOW - 3600  # noqa: N806
    await six_conversations(store, NOW)
    await store.create()  # a widget opened and never used: not a conversation yet
    await conversation(store, lambda c: [said(c, "hello from another inbox", AGO)], inbox="eu")

    data = await report(store, days=7, inboxes=("default",), resolved_after=QUIET, now=NOW)
    t = data["totals"]
    assert t["conversations"] == 6
    assert t["outcomes"] == {"resolved_by_assistant": 2, "resolved_by_agent": 1, "handed_off": 0,
                             "abandoned": 1, "unresolved": 1, "open": 1}
    assert t["reopened"] == 1
    assert t["resolution_rate"] == round(2 / 5, 4)  # of the five finished ones
    assert t["handoffs_by_reason"] == {"customer_request": 1, "low_confidence": 1}
    assert t["csat"]["assistant"] == {"up": 1, "down": 1, "rate": 0.5}
    assert t["csat"]["agent"] == {"up": 1, "down": 0, "rate": 1.0}
    assert t["first_agent_reply_s"]["p50"] == 60.0 and t["first_agent_reply_s"]["n"] == 1
    assert t["first_answer_s"]["n"] == 5 and t["first_answer_s"]["p50"] == 1.0
    assert t["unsure_rate"] == round(2 / 7, 4)
    assert t["voice_share"] == round(1 / 8, 4)
    assert len(data["days"]) == 7 and data["days"][-1]["conversations"] == 6  # zero-filled, oldest first
    assert sum(d["conversations"] for d in data["days"]) == 6

    eu = await report(store, days=7, inbox="eu", resolved_after=QUIET, now=NOW)
    assert eu["totals"]["conversations"] == 1 and eu["range"]["inbox"] == "eu"


async def test_new_events_are_folded_into_the_next_report(store: Any) -> None:
    NOW = time.time()  # noqa: N806
    ids = await six_conversations(store, NOW)
    first = await report(store, days=1, resolved_after=QUIET, now=NOW)
    assert first["totals"]["outcomes"]["open"] == 1
    rows = await store.facts(0, NOW + 10)
    assert len(rows) == 6 and all(r[4] == r[3] for r in rows)  # stored, folded up to the last event

    await store.append(rated(ids["open"], "e1", "down", NOW - 30))
    later = await report(store, days=2, resolved_after=QUIET, now=NOW + QUIET)  # 2: midnight may pass
    assert later["totals"]["outcomes"]["open"] == 0
    assert later["totals"]["outcomes"]["unresolved"] == 2
    assert later["totals"]["csat"]["assistant"]["down"] == 2


def test_unanswered_questions_group_by_meaning_with_the_packaged_encoder() -> None:
    from knowledge.config import EmbeddingConfig
    from knowledge.embeddings import Embedder

    embed = Embedder(EmbeddingConfig()).embed
    asked = ["do you ship to mars?", "can you deliver my order to Mars", "shipping to the planet mars??",
             "is there a student discount", "do you offer discounts for students?",
             "my cat ate the charger, is that covered by warranty"]
    questions = [{"text": t, "why": "unsure", "at": 100.0 + i, "conversation_id": str(i)}
                 for i, t in enumerate(asked)]
    groups = gaps(questions, embed)
    by_count = sorted(((g["count"], sorted(e["text"] for e in g["examples"])) for g in groups), reverse=True)
    assert by_count[0] == (3, sorted(asked[:3]))
    assert by_count[1] == (2, sorted(asked[3:5]))
    assert by_count[2][0] == 1 and len(groups) == 3
    assert groups[0]["newest_at"] == 105.0  # newest first
    assert all(g["reasons"]["unsure"] == g["count"] for g in groups)


async def test_report_gaps_come_from_unsure_rated_down_and_low_confidence_turns(store: Any) -> None:
    NOW = time.time()  # noqa: N806
    await six_conversations(store, NOW)
    from knowledge.config import EmbeddingConfig
    from knowledge.embeddings import Embedder

    data = await report(store, days=1, resolved_after=QUIET, now=NOW, embed=Embedder(EmbeddingConfig()).embed)
    mars = next(g for g in data["gaps"] if "mars" in g["question"])
    assert mars["count"] == 3  # two unsure answers and the low-confidence handoff
    assert mars["reasons"] == {"unsure": 2, "rated_down": 0, "low_confidence": 1}
    assert any(g["question"] == "can I change the delivery date?" and g["reasons"]["rated_down"] == 1
               for g in data["gaps"])


def test_cli_report_prints_a_table_and_json(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from channels.cli import main

    async def fill() -> None:
        s = SQLiteStore(data_dir / "conversations.db")
        await s.open()
        await six_conversations(s, time.time())
        await s.close()
    asyncio.run(fill())
    assert main(["--data-dir", str(data_dir), "report", "--days", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["conversations"] == 6 and len(data["days"]) == 3
    assert any("mars" in g["question"] for g in data["gaps"])
    assert main(["--data-dir", str(data_dir), "report", "--days", "3"]) == 0
    table = capsys.readouterr().out
    assert "6 conversations" in table and "resolved by the assistant  40%" in table
    assert "customer_request 1, low_confidence 1" in table and "mars" in table
    assert main(["--data-dir", str(data_dir), "report", "--days", "0"]) == 2


def test_api_reports_for_agents_of_their_inboxes(settings: Any) -> None:
    from channel_fakes import FakeAuthenticator, FakeRuntimeFactory, hello, say, until
    from starlette.testclient import TestClient

    from channels.app import create_app

    app = create_app(settings, FakeRuntimeFactory(), authenticator=FakeAuthenticator())
    with TestClient(app) as client:
        with client.websocket_connect("/ws/chat") as ws:
            hello(ws)
            say(ws, "where is my order?")
            until(ws, "answer")
        dana = {"Authorization": "Bearer token-dana"}
        ok = client.get("/api/reports?days=7", headers=dana)
        assert ok.status_code == 200, ok.text
        body = ok.json()
        assert body["totals"]["conversations"] == 1 and body["totals"]["outcomes"]["open"] == 1
        assert len(body["days"]) == 7 and body["range"]["resolved_after_s"] == settings.reports.resolved_after
        otto = client.get("/api/reports", headers={"Authorization": "Bearer token-otto"})
        assert otto.json()["totals"]["conversations"] == 0  # only otto's own inbox
        other = client.get("/api/reports?inbox=default", headers={"Authorization": "Bearer token-otto"})
        assert other.status_code == 403 and other.json()["code"] == "forbidden"
        assert client.get("/api/reports").status_code == 401
        bad = client.get("/api/reports?days=0", headers=dana)
        assert bad.status_code == 400 and bad.json()["code"] == "bad_request"
