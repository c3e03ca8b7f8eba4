"""The customer endpoint /ws/chat, in-process, on the real SQLite store."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from channel_fakes import FakeAuthenticator, FakeRuntimeFactory, hello, say, until
from starlette.testclient import TestClient

from channels.app import create_app


@pytest.fixture
def runtime_factory() -> FakeRuntimeFactory:
    return FakeRuntimeFactory()


@pytest.fixture
def client(settings: Any, runtime_factory: FakeRuntimeFactory):
    app = create_app(settings, runtime_factory, authenticator=FakeAuthenticator())
    with TestClient(app) as c:
        yield c


def test_a_message_gets_its_echo_a_streamed_answer_and_sources(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ready = hello(ws)
        assert ready["state"] == "bot" and ready["last_seq"] == 0 and ready["resume_token"]
        say(ws, "cancel my order", "m1")
        frames = until(ws, "answer")
    assert [f["type"] for f in frames] == ["message", "answer_started", "delta", "delta", "delta", "answer"]
    assert frames[0]["text"] == "cancel my order" and frames[0]["client_msg_id"] == "m1"
    assert [f["seq"] for f in frames] == [1, 2, 3, 4, 5, 6]
    assert "".join(f["text"] for f in frames if f["type"] == "delta") == frames[-1]["text"] == "Hello there"
    assert frames[-1]["sources"][0]["id"] == "bitext-1" and frames[-1]["interrupted"] is False


def test_seqs_stay_consecutive_over_several_turns(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        seqs = []
        for i in range(3):
            say(ws, f"question {i}", f"m{i}")
            seqs += [f["seq"] for f in until(ws, "answer")]
    assert seqs == list(range(1, 19))


def test_a_resent_client_msg_id_is_not_processed_twice(client: TestClient,
                                                         runtime_factory: FakeRuntimeFactory) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        say(ws, "hello", "same")
        until(ws, "answer")
        say(ws, "hello", "same")
        ws.send_json({"type": "ping", "nonce": "after"})
        assert ws.receive_json() == {"type": "pong", "nonce": "after"}  # nothing came before it
    assert len(runtime_factory.runtime.dialogue.turns) == 1


def test_resume_after_a_drop_mid_answer_gets_exactly_the_missed_events(
        client: TestClient, runtime_factory: FakeRuntimeFactory) -> None:
    gate = runtime_factory.runtime.dialogue.gate = threading.Event()
    with client.websocket_connect("/ws/chat") as ws:
        ready = hello(ws)
        say(ws, "where is my parcel")
        seen = until(ws, "delta")  # message, answer_started, first delta; the answer now waits
    gate.set()  # the answer goes on with nobody connected
    with client.websocket_connect("/ws/chat") as ws:
        again = hello(ws, conversation_id=ready["conversation_id"], resume_token=ready["resume_token"],
                      last_seq=seen[-1]["seq"])
        assert again["resumed"] is True
        rest = until(ws, "answer")
    assert [f["seq"] for f in seen + rest] == [1, 2, 3, 4, 5, 6]
    assert [f["type"] for f in rest] == ["delta", "delta", "answer"]
    assert rest[-1]["text"] == "Hello there"


def test_resume_without_last_seq_replays_the_whole_log(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ready = hello(ws)
        say(ws, "hi")
        first = until(ws, "answer")
    with client.websocket_connect("/ws/chat") as ws:
        again = hello(ws, conversation_id=ready["conversation_id"], resume_token=ready["resume_token"])
        assert again["last_seq"] == 6
        assert until(ws, "answer") == first


def test_resume_needs_the_token_or_the_verified_user(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ready = hello(ws, user_id="u42", user_hash="signed-u42")
    cid = ready["conversation_id"]
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello", "conversation_id": cid, "resume_token": "guess"})
        assert ws.receive_json()["code"] == "forbidden"
        ws.send_json({"type": "hello", "conversation_id": "nope", "resume_token": "x"})
        assert ws.receive_json()["code"] == "conversation_not_found"
        ws.send_json({"type": "hello", "conversation_id": cid, "user_id": "u42", "user_hash": "forged"})
        assert ws.receive_json()["code"] == "identity_invalid"
        assert hello(ws, conversation_id=cid, user_id="u42", user_hash="signed-u42")["conversation_id"] == cid


def test_handoff_moves_the_conversation_to_waiting_human(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        ws.send_json({"type": "handoff"})
        status = ws.receive_json()
        assert status["type"] == "status" and status["state"] == "waiting_human"
        assert status["reason"] == "customer_request" and status["seq"] == 1
        say(ws, "anyone there?")
        assert ws.receive_json()["type"] == "message"  # stored; the bot does not answer now
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"


def test_feedback_on_an_answer_is_in_the_log(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        say(ws, "hi")
        answer = until(ws, "answer")[-1]
        ws.send_json({"type": "feedback", "message_id": answer["message_id"], "rating": "up"})
        fb = ws.receive_json()
    assert fb["type"] == "feedback" and fb["rating"] == "up" and fb["seq"] == answer["seq"] + 1


def test_a_failing_turn_ends_with_an_error_event_and_another_conversation_is_untouched(
        client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as bad, client.websocket_connect("/ws/chat") as good:
        hello(bad)
        hello(good)
        say(bad, "please CRASH")
        say(good, "hello")
        failed = until(bad, "error")
        answered = until(good, "answer")
        say(bad, "still there?", "m2")
        again = until(bad, "answer")
    assert failed[-1]["code"] == "model_unavailable" and failed[-1]["seq"] == 2
    assert answered[-1]["text"] == "Hello there"
    assert again[0]["seq"] == 3 and again[-1]["text"] == "Hello there"


def test_two_tabs_of_one_conversation_both_see_the_message_and_answer(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as tab1:
        ready = hello(tab1)
        with client.websocket_connect("/ws/chat") as tab2:
            hello(tab2, conversation_id=ready["conversation_id"], resume_token=ready["resume_token"],
                  last_seq=0)
            say(tab1, "from tab one")
            one, two = until(tab1, "answer"), until(tab2, "answer")
    assert one == two and one[0]["client_msg_id"] == "m1"
