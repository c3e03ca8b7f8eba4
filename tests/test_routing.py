"""Handoff routing: the many ways customers ask for a person, and the many ways they do not."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from assistant.errors import ConfigError
from assistant.routing import HUMAN_INTENT, HandoffDetector, asks_for_person
from knowledge.records import Hit, Record

BITEXT = Path(__file__).parent.parent / "demo" / "bitext" / "records.csv"

HANDOFF = [
    "I want to talk to a human",
    "Can I speak to a real person please?",
    "human please",
    "HUMAN!!!",
    "agent",
    "Representative.",
    "operator please",
    "let me talk to someone",
    "Get me a human now",
    "I need a live agent",
    "Transfer me to an agent",
    "connect me with a representative",
    "Can you put me through to a person?",
    "is there a human I can talk to?",
    "Are you a bot? I want a real person.",
    "this bot is useless, I want to speak to your manager",
    "I'd like to speak with a customer service representative",
    "can I chat with a support agent",
    "please escalate this to a supervisor",
    "I would prefer to talk with somebody from your team",
    "give me an actual human being",
    "can i talk to someone about my refund",
    "Let me speak to an agent about my order",
    "I want to be transferred to a human agent",
    "I'd rather speak to a person",
    "No more bots, please",
    "get me a real one",
    "connect me to a live person please",
    "i need to speak with someone asap",
    "Stop the bot and get me an agent",
]
NOT_HANDOFF = [
    "can I speak about my invoice?",
    "I want to talk about my order status",
    "agent of change",
    "How do I contact customer service?",
    "what are your customer service hours?",
    "I want to cancel my order",
    "Where is my package?",
    "my delivery agent left the parcel at the wrong door",
    "Are you a real person?",
    "I don't want to talk to a human, just tell me how to get a refund",
    "no need for an agent, I just need my invoice",
    "How many people work at your company?",
    "Can someone's account be deleted by mistake?",
    "I want to change the person who receives the delivery",
    "my travel agent booked the wrong hotel",
    "what does a human resources department do",
    "Thank you, that helped a lot",
    "how can I speak to customer support about a refund?",
    "The person at the door said the package was damaged",
    "I need an invoice for my last purchase",
    "Can I add another person to my account?",
    "I want to report a problem with a payment",
    "Is there a fee to cancel?",
    "I was talking to my wife and she says the order is wrong",
    "call me back tomorrow",
    "the agent told me yesterday my refund would arrive, where is it?",
    "is someone's password stored in plain text?",
    "how long will the delivery take?",
    "I want to speak English",
    "tell me about the premium membership",
]


@pytest.mark.parametrize("text", HANDOFF)
def test_asking_for_a_person_hands_off(text: str) -> None:
    decision = HandoffDetector().on_request(text)
    assert (decision.handoff, decision.reason) == (True, "customer_request")


@pytest.mark.parametrize("text", NOT_HANDOFF)
def test_other_requests_do_not_hand_off(text: str) -> None:
    assert not HandoffDetector().on_request(text).handoff


def test_phrases_alone_separate_bitext_human_agent_requests() -> None:
    """Over every Bitext request: contact_human_agent asks for a person, nothing else does
    (contact_customer_service, "how do I reach customer support", is answered)."""
    with BITEXT.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    tp = fp = fn = 0
    for row in rows:
        predicted, wanted = asks_for_person(row["instruction"]), row["intent"] == HUMAN_INTENT
        tp += predicted and wanted
        fp += predicted and not wanted
        fn += wanted and not predicted
    assert tp / (tp + fp) >= 0.97 and tp / (tp + fn) >= 0.97


def hit(intent: str, score: float, n: int = 0) -> Hit:
    record = Record(id=f"{intent}-{n}", request="…", resolution="…", intent=intent)
    return Hit(record=record, score=score, text="…")


def test_knowledge_base_vote_catches_phrasings_the_patterns_miss() -> None:
    text = "ur bot is useless, human plz"  # "human plz" inside a sentence: no pattern
    hits = [hit(HUMAN_INTENT, 0.71, 1), hit(HUMAN_INTENT, 0.69, 2), hit("complaint", 0.6)]
    decision = HandoffDetector().on_request(text, hits)
    assert (decision.handoff, decision.reason) == (True, "customer_request")
    assert "contact_human_agent-1" in decision.detail


def test_a_weak_or_split_vote_does_not_hand_off() -> None:
    detector = HandoffDetector()
    weak = [hit(HUMAN_INTENT, 0.41), hit(HUMAN_INTENT, 0.40, 1)]
    other = "contact_customer_service"
    split = [hit(HUMAN_INTENT, 0.70), hit(other, 0.69), hit(other, 0.68, 1)]
    assert not detector.on_request("hmm", weak).handoff
    assert not detector.on_request("hmm", split).handoff


def test_declining_a_person_overrules_the_vote() -> None:
    hits = [hit(HUMAN_INTENT, 0.8), hit(HUMAN_INTENT, 0.8, 1)]
    assert not HandoffDetector().on_request("I don't need an agent, just the invoice", hits).handoff


def test_configured_triggers_hand_off_with_the_pattern_as_reason() -> None:
    detector = HandoffDetector(triggers=[r"\blawyer\b", r"chargeback"])
    decision = detector.on_request("I will call my LAWYER")
    assert (decision.handoff, decision.reason) == (True, r"trigger:\blawyer\b")
    assert not detector.on_request("I want to cancel my order").handoff


def test_a_bad_trigger_regex_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match="handoff_triggers"):
        HandoffDetector(triggers=["(unclosed"])


def test_low_confidence_hands_off_only_after_consecutive_weak_turns() -> None:
    detector = HandoffDetector(min_score=0.45, low_confidence_turns=2)
    assert not detector.on_confidence(0.30, []).handoff  # the first weak turn is answered
    assert not detector.on_confidence(0.30, [0.80]).handoff  # the previous one was fine
    assert not detector.on_confidence(0.90, [0.30]).handoff  # this one is fine
    decision = detector.on_confidence(0.30, [0.80, 0.20])
    assert (decision.handoff, decision.reason) == (True, "low_confidence")
    assert detector.on_confidence(None, [None]).handoff  # nothing found at all, twice


def test_low_confidence_turn_count_comes_from_config() -> None:
    detector = HandoffDetector(min_score=0.5, low_confidence_turns=3)
    assert not detector.on_confidence(0.1, [0.1]).handoff
    assert detector.on_confidence(0.1, [0.9, 0.1, 0.2]).handoff
    assert HandoffDetector(low_confidence_turns=1).on_confidence(0.1, []).handoff
