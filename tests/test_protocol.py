"""Client frames: strict parsing, and every bad input answered with its code on a live socket
that stays usable afterwards."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channel_fakes import FakeAuthenticator, FakeRuntimeFactory, hello, say, until, with_server
from starlette.testclient import TestClient

from channels.app import create_app
from channels.errors import ProtocolError
from channels.limits import TokenBucket
from channels.protocol import FeedbackFrame, Hello, MessageFrame, parse_client_frame


def test_good_frames_parse_to_typed_frames() -> None:
    frame = parse_client_frame('{"type":"message","text":"hi","client_msg_id":"c1","attachments":["a"]}')
    assert isinstance(frame, MessageFrame) and frame.attachments == ["a"] and frame.client_msg_id == "c1"
    assert parse_client_frame('{"type":"hello","last_seq":4,"extra":true}') == Hello(type="hello", last_seq=4)
    rating = parse_client_frame('{"type":"feedback","message_id":"m","rating":"down"}')
    assert isinstance(rating, FeedbackFrame) and rating.rating == "down"


@pytest.mark.parametrize(("raw", "code"), [
    ("{", "bad_json"),
    ("[1, 2]", "bad_json"),
    ('{"text": "no type"}', "bad_json"),
    ('{"type": 7}', "bad_json"),
    ('{"type": "shout"}', "unknown_type"),
    ('{"type": "take_over", "conversation_id": "c"}', "unknown_type"),  # an agent frame on /ws/chat
    ('{"type": "message", "text": 5, "client_msg_id": "c"}', "bad_field"),
    ('{"type": "message", "text": "hi"}', "bad_field"),
    ('{"type": "message", "text": "hi", "client_msg_id": "c", "attachments": "a"}', "bad_field"),
    ('{"type": "hello", "last_seq": "3"}', "bad_field"),
    ('{"type": "hello", "last_seq": -1}', "bad_field"),
    ('{"type": "feedback", "message_id": "m", "rating": "meh"}', "bad_field"),
    ("[" * 5000 + "]" * 5000, "bad_json"),  # was RecursionError: code internal
    ('{"type": "message", "text": "hi \\udfff", "client_msg_id": "c"}', "bad_text"),  # was lost in the store
    ('{"type": "hello", "resume_token": "\\udfff"}', "bad_text"),
    ('{"type": "hello", "user_id": "u", "user_hash": "\\ud800"}', "bad_text"),
])
def test_bad_frames_raise_a_stable_code(raw: str, code: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_client_frame(raw, "chat")
    assert err.value.code == code


def test_the_agent_endpoint_knows_its_own_frames() -> None:
    assert parse_client_frame('{"type": "reply", "conversation_id": "c", "text": "hi"}', "agent").text == "hi"
    with pytest.raises(ProtocolError, match="Unknown frame type") as err:
        parse_client_frame('{"type": "message", "text": "hi", "client_msg_id": "c"}', "agent")
    assert err.value.code == "unknown_type"


def test_a_token_bucket_allows_a_burst_then_refills_evenly() -> None:
    now = [0.0]
    bucket = TokenBucket(60, clock=lambda: now[0])
    assert all(bucket.take() for _ in range(60)) and not bucket.take()
    now[0] += 1.0  # one token a second at 60 a minute
    assert bucket.take() and not bucket.take()


@pytest.fixture
def client(settings: Any):
    small = with_server(settings, max_frame_bytes=1024, max_message_chars=50, max_attachments=1,
                        messages_per_minute=3, messages_per_minute_ip=100)
    with TestClient(create_app(small, FakeRuntimeFactory(), authenticator=FakeAuthenticator())) as c:
        yield c


def error_code(ws: Any) -> str:
    frame = ws.receive_json()
    assert frame["type"] == "error" and "seq" not in frame, frame
    return frame["code"]


def still_usable(ws: Any) -> None:
    ws.send_json({"type": "ping", "nonce": "ok"})
    assert ws.receive_json() == {"type": "pong", "nonce": "ok"}


def test_every_bad_input_gets_its_code_and_the_socket_stays_usable(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        say(ws, "too early")
        assert error_code(ws) == "hello_required"
        hello(ws)
        cases = [
            ("not json", "bad_json"),
            (json.dumps({"type": "nope"}), "unknown_type"),
            (json.dumps({"type": "message", "text": ["x"], "client_msg_id": "c"}), "bad_field"),
            (json.dumps({"type": "message", "text": "x" * 2000, "client_msg_id": "c"}), "frame_too_large"),
            (json.dumps({"type": "message", "text": "x" * 51, "client_msg_id": "c"}), "message_too_long"),
            (json.dumps({"type": "message", "text": " ", "client_msg_id": "c"}), "empty_message"),
            (json.dumps({"type": "message", "text": "x", "attachments": ["a", "b"], "client_msg_id": "c"}),
             "too_many_attachments"),
            (json.dumps({"type": "message", "text": "x", "attachments": ["nope"], "client_msg_id": "c"}),
             "attachment_not_found"),
            (json.dumps({"type": "hello"}), "bad_field"),  # a second hello
            ('{"type": "message", "text": "\\udfff", "client_msg_id": "c"}', "bad_text"),

        ]
        for raw, code in cases:
            ws.send_text(raw)
            assert error_code(ws) == code, raw
            still_usable(ws)
        ws.send_bytes(b"\x00\x01")
        assert error_code(ws) == "binary_not_supported"
        say(ws, "finally a good one", "good")
        assert until(ws, "answer")[0]["seq"] == 1  # none of the bad frames reached the log


def test_messages_beyond_the_rate_are_refused_with_rate_limited(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        for i in range(3):
            say(ws, f"q{i}", f"m{i}")
            until(ws, "answer")
        say(ws, "one too many", "m3")
        assert error_code(ws) == "rate_limited"
        still_usable(ws)


def test_feedback_counts_against_the_rate_and_keeps_its_comment(client: TestClient) -> None:
    """3,000 feedback frames from one socket were once all stored (and their comments dropped)."""
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        say(ws, "q0", "m0")
        answer = until(ws, "answer")[-1]
        ws.send_json({"type": "feedback", "message_id": answer["message_id"], "rating": "down",
                      "comment": "The fee was wrong"})
        stored = until(ws, "feedback")[-1]
        assert (stored["rating"], stored["comment"]) == ("down", "The fee was wrong")
        ws.send_json({"type": "feedback", "message_id": answer["message_id"], "rating": "up"})
        until(ws, "feedback")
        ws.send_json({"type": "feedback", "message_id": answer["message_id"], "rating": "up"})
        assert error_code(ws) == "rate_limited"  # the bucket holds 3: one message, two feedbacks
        still_usable(ws)


def test_the_per_ip_rate_spans_connections(settings: Any) -> None:
    tight = with_server(settings, messages_per_minute=10, messages_per_minute_ip=2)
    with TestClient(create_app(tight, FakeRuntimeFactory(), authenticator=FakeAuthenticator())) as client:
        for i in range(2):
            with client.websocket_connect("/ws/chat") as ws:
                hello(ws)
                say(ws, "hi", f"m{i}")
                until(ws, "answer")
        with client.websocket_connect("/ws/chat") as ws:
            hello(ws)
            say(ws, "hi", "m9")
            assert error_code(ws) == "rate_limited"


def test_a_page_from_an_origin_not_allowed_is_refused(settings: Any) -> None:
    only = with_server(settings, allowed_origins=["https://shop.example"])
    with TestClient(create_app(only, FakeRuntimeFactory(), authenticator=FakeAuthenticator())) as client:
        with client.websocket_connect("/ws/chat", headers={"origin": "https://evil.example"}) as ws:
            assert error_code(ws) == "origin_not_allowed"
        with client.websocket_connect("/ws/chat", headers={"origin": "https://shop.example"}) as ws:
            hello(ws)
