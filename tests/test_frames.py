"""Server frames outside the log: what the server sends is what a Python client parses."""

from __future__ import annotations

from typing import Any

import pytest

from assistant.events import AnswerDelta, ErrorEvent
from channels.frames import (
    AgentReady,
    ConversationList,
    ConversationSummary,
    Other,
    Pong,
    Ready,
    ServerError,
    TypingNotice,
    parse_server_frame,
)

# The examples of docs/protocol.md, as the server sends them.
SUMMARY = {"conversation_id": "c_4f1e", "state": "waiting_human", "inbox": "default", "last_seq": 10,
           "handoff_reason": "customer_request", "agent": "", "waiting_since": 1718000004.0,
           "updated_at": 1718000004.0}
DOCUMENTED = [
    (Ready, {"type": "ready", "conversation_id": "c_4f1e", "resume_token": "r_9a", "state": "bot",
             "last_seq": 0, "resumed": False, "protocol": 1}),
    (AgentReady, {"type": "ready", "agent": "dana", "inboxes": ["default"], "protocol": 1}),
    (ServerError, {"type": "error", "code": "message_too_long",
                   "message": "A message has at most 4000 characters."}),
    (TypingNotice, {"type": "typing", "conversation_id": "c_4f1e", "from": "agent", "agent": "dana"}),
    (TypingNotice, {"type": "typing", "conversation_id": "c_4f1e", "from": "customer"}),
    (Pong, {"type": "pong", "nonce": "42"}),
    (Pong, {"type": "pong", "nonce": None}),
    (ConversationSummary, {"type": "conversation", **SUMMARY}),
    (ConversationList, {"type": "conversations", "conversations": [SUMMARY]}),
]


@pytest.mark.parametrize(("cls", "wire"), DOCUMENTED)
def test_a_frame_parses_to_its_class_and_goes_back_to_the_same_json(cls: type, wire: dict[str, Any]) -> None:
    frame = parse_server_frame(wire)
    assert isinstance(frame, cls)
    assert list(frame.to_wire().items()) == list(wire.items())  # the same keys, in the same order


def test_a_customer_typing_carries_no_agent_key() -> None:
    assert TypingNotice("c", "customer").to_wire() == {"type": "typing", "conversation_id": "c",
                                                        "from": "customer"}


def test_an_error_with_a_seq_is_the_logged_event_not_a_server_error() -> None:
    frame = parse_server_frame({"type": "error", "seq": 3, "code": "model_unavailable", "message": "down",
                                "message_id": "u1", "at": 1.0}, "c1")
    assert isinstance(frame, ErrorEvent) and frame.conversation_id == "c1" and frame.seq == 3


def test_fields_and_frames_a_newer_server_adds_are_ignored_or_kept_as_other() -> None:
    assert parse_server_frame({"type": "pong", "nonce": "1", "rtt": 3}) == Pong("1")
    assert isinstance(parse_server_frame({"type": "delta", "seq": 1, "message_id": "a", "text": "x"}),
                      AnswerDelta)
    assert parse_server_frame({"type": "poll", "question": "?"}) == Other("poll", {"type": "poll",
                                                                              "question": "?"})


def test_a_summary_is_read_back_from_its_bus_message() -> None:
    from channels.views import summary_message, summary_of

    summary = ConversationSummary.from_item(SUMMARY)
    assert summary_of(summary_message(summary)) == summary
    assert summary_of({"kind": "gap", "reason": "slow_subscriber", "dropped": 1}) is None
