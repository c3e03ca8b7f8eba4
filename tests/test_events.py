"""Conversation events: the wire format round trip, the state fold, the transition table."""

from __future__ import annotations

import json

import pytest
from event_samples import every_event

from assistant.events import (
    EVENT_TYPES,
    TRANSITIONS,
    AnswerCompleted,
    Event,
    Note,
    Option,
    StatusChanged,
    UserMessage,
    event_from_dict,
    fold_state,
)

CID = "c1"


def test_every_event_type_is_covered():
    assert {e.type for e in every_event()} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", every_event(), ids=lambda e: e.type)
def test_wire_round_trip(event: Event):
    wire = json.loads(json.dumps(event.to_wire()))  # through real JSON, as on a socket
    assert wire["type"] == event.type
    assert "conversation_id" not in wire
    assert event_from_dict(CID, wire) == event


def test_a_clarifying_question_keeps_its_options_on_the_wire():
    asked = AnswerCompleted(conversation_id=CID, message_id="m9", grounded=False,
                            text="Just to be sure: is your question about where your order is?",
                            options=(Option(intent="track_order", label="where your order is"),))
    wire = json.loads(json.dumps(asked.to_wire()))
    assert wire["options"] == [{"intent": "track_order", "label": "where your order is"}]
    assert event_from_dict(CID, wire) == asked
    plain = {k: v for k, v in wire.items() if k != "options"}  # stored before options existed
    assert event_from_dict(CID, plain).options == ()


def test_fold_state_of_a_new_conversation_is_bot():
    assert fold_state([]) == "bot"
    assert fold_state([UserMessage(conversation_id=CID, message_id="m", text="hi")]) == "bot"


def _status(*states: str) -> list[Event]:
    return [StatusChanged(conversation_id=CID, state=s) for s in states]  # type: ignore[arg-type]


@pytest.mark.parametrize("states, expected", [
    (("waiting_human",), "waiting_human"),
    (("waiting_human", "human"), "human"),
    (("waiting_human", "human", "bot"), "bot"),
    (("human", "closed"), "closed"),
    (("closed", "bot"), "bot"),
])
def test_fold_state_follows_the_last_status(states, expected):
    log = [UserMessage(conversation_id=CID, message_id="m", text="hi"), *_status(*states),
           Note(conversation_id=CID, text="later")]
    assert fold_state(log) == expected


@pytest.mark.parametrize("old, new", [
    ("bot", "waiting_human"), ("bot", "human"), ("bot", "closed"),
    ("waiting_human", "human"), ("waiting_human", "bot"), ("waiting_human", "closed"),
    ("human", "bot"), ("human", "closed"),
    ("closed", "bot"),
])
def test_allowed_transitions(old, new):
    assert new in TRANSITIONS[old]


@pytest.mark.parametrize("old, new", [
    ("bot", "bot"), ("human", "human"), ("human", "waiting_human"),
    ("closed", "human"), ("closed", "waiting_human"), ("closed", "closed"),
])
def test_refused_transitions(old, new):
    assert new not in TRANSITIONS[old]


def test_every_state_has_a_way_out():
    assert set(TRANSITIONS) == {"bot", "waiting_human", "human", "closed"}
    assert all(TRANSITIONS[s] for s in TRANSITIONS)
