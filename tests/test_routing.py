"""Handoff routing: the many ways customers ask for a person, and the many ways they do not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.errors import ConfigError
from assistant.handoff_model import (
    SHIPPED,
    PersonClassifier,
    builtin_examples,
    classifier_folder,
    kb_examples,
    platt,
    train,
)
from assistant.routing import (
    HandoffDetector,
    candidate_parts,
    declines_person,
    reply_to_offer,
    without_declines,
)
from assistant.settings import Settings

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


@pytest.fixture(scope="module")
def shipped() -> HandoffDetector:
    """The classifier the project ships (trained on the built-in examples alone): what a company
    whose history has no handoff records gets."""
    return HandoffDetector(model=PersonClassifier(SHIPPED), threshold=Settings().dialogue.handoff_threshold)


def test_asking_for_a_person_hands_off(shipped: HandoffDetector) -> None:
    """A learned decision is not perfect: these 30 (not training data) allow 1 miss."""
    decisions = {text: shipped.on_request(text) for text in HANDOFF}
    missed = [text for text, d in decisions.items() if not d.handoff]
    assert len(missed) <= 1, missed
    for d in decisions.values():
        if d.handoff:  # the stored reason names the signal and what it read
            assert d.reason == "customer_request" and d.detail.startswith("classifier ")


def test_other_requests_do_not_hand_off(shipped: HandoffDetector) -> None:
    """The shipped model still takes "speak about my invoice" and "speak English" for requests
    (4 of these 30); a company's own history (`assistant tune --handoff`) is what teaches more."""
    wrong = [text for text in NOT_HANDOFF if shipped.on_request(text).handoff]
    assert len(wrong) <= 4, wrong


ISSUE_EXAMPLES = [  # customers' sentences the old phrase rules got wrong (not training data)
    ("This isn't helping at all. Get me someone from your team.", True),
    ("I'd rather deal with a person about this, my issue is complicated.", True),  # p 0.41: missed at 0.5
    ("Could a member of your staff take a look at my case?", True),
    ("Who can I talk to on your team? The bot isn't understanding me.", True),
    ("I don't want to talk to a machine anymore.", True),  # still missed: "machine" names no person
    ("I talked to an agent yesterday and she said my refund was approved. When will I get it?", False),
    ("Thanks, the agent sorted it out, I just want to rate the conversation.", False),
]


def test_the_sentences_the_phrase_rules_got_wrong(shipped: HandoffDetector) -> None:
    wrong = [text for text, asks in ISSUE_EXAMPLES if shipped.on_request(text).handoff != asks]
    assert len(wrong) <= 2, wrong


def test_a_request_inside_a_longer_message_is_found(shipped: HandoffDetector) -> None:
    text = ("My card was charged twice for order 5521 and the refund page gives an error. "
            "I have tried everything. Get me someone from your team.")
    assert shipped.on_request(text).handoff


def test_the_classifier_reads_only_the_languages_it_learned(shipped: HandoffDetector) -> None:
    """The packaged encoder is English: a German question must not be taken for a request."""
    assert not shipped.on_request("wie lange dauert eine Erstattung", "de").handoff
    assert shipped.on_request("can I talk to a real person please?", "en").handoff
    assert HandoffDetector(triggers=[r"\bMensch\b"]).on_request("einen Mensch bitte", "de").handoff


def test_declining_a_person_is_never_asking_for_one(shipped: HandoffDetector) -> None:
    for text in ["I don't need an agent, just the invoice", "no need for a human, what is the fee?",
                 "please don't transfer me, I only want the tracking link"]:
        assert declines_person(text)
        assert not shipped.on_request(text).handoff
    # Refusing a machine is not declining a person: the rule leaves it to the classifier.
    assert not declines_person("I don't want to talk to a machine anymore")
    # The sentence that declines is left out; another sentence may still ask.
    assert candidate_parts("No need for an agent. Actually wait, get me a person!") == [
        "Actually wait, get me a person!"]


def test_the_search_reads_what_the_customer_wants_not_whom_they_decline() -> None:
    assert without_declines("I don't want to talk to anyone, I just want to know where my parcel is. "
                            "Order 88123.") == "I just want to know where my parcel is. Order 88123."
    assert without_declines("no need for a human; what is the fee to cancel?") == "what is the fee to cancel?"
    assert without_declines("Where is my refund?") == "Where is my refund?"
    # Nothing else said: the message is searched as it is.
    assert without_declines("I don't need an agent.") == "I don't need an agent."


def test_platt_scaling_calibrates_overconfident_scores() -> None:
    rng = np.random.default_rng(0)
    truth = rng.random(4000) < 0.3
    logits = np.where(truth, 1.0, -1.0) * 8 + rng.normal(0, 8, 4000)  # far too confident, noisy
    scale, shift = platt(logits, truth.astype(np.float32))
    p = 1 / (1 + np.exp(-(scale * logits + shift)))
    for low, high in [(0.0, 0.2), (0.4, 0.6), (0.8, 1.0)]:  # observed frequency inside each band
        band = (p >= low) & (p < high)
        assert band.sum() > 50 and abs(truth[band].mean() - p[band].mean()) < 0.08


def test_tuning_on_a_company_s_history_teaches_its_own_wording(tmp_path: Path) -> None:
    """kb_examples: the history's handoff intent asks, others do not; a short real fine-tune
    writes a folder the classifier loads, and the company's phrase scores higher after it."""
    history = ([(f"please have the branch officer ring me {n}", "branch_callback") for n in range(30)]
               + [(f"what is the balance of account {n}", "balance") for n in range(30)]
               + [(f"order a new debit card number {n}", "new_card") for n in range(30)])
    own = kb_examples(history, ["branch_callback"])
    assert sum(e.person for e in own) == 30 and len(own) == 30 + 2 * 20  # 20 per other intent
    examples = own + builtin_examples()[::6]
    summary = train(examples, tmp_path / "tuned", epochs=2)
    assert summary["examples"] + summary["calibration_examples"] == len(examples)
    phrase = ["could the branch officer ring me about it"]
    tuned = PersonClassifier(tmp_path / "tuned").probabilities(phrase)[0]
    assert tuned > 0.5 and (tmp_path / "tuned" / "adapter_model.safetensors").stat().st_size < 5_000_000


def test_the_data_dir_s_tuned_classifier_is_preferred(tmp_path: Path) -> None:
    assert classifier_folder(tmp_path) == SHIPPED
    (tmp_path / "models" / "handoff").mkdir(parents=True)
    (tmp_path / "models" / "handoff" / "head.json").write_text("{}")
    assert classifier_folder(tmp_path) == tmp_path / "models" / "handoff"


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


@pytest.mark.parametrize(("reply", "meaning", "rest"), [
    ("yes", "accept", ""), ("Yes please!", "accept", ""), ("yeah go on", "accept", ""), ("y", "accept", ""),
    ("sure, connect me", "accept", ""), ("that would be great", "accept", ""), ("ok", "accept", ""),
    ("thank you, yes please", "accept", ""),
    ("no", "decline", ""), ("no thanks, I'm good", "decline", ""), ("nope", "decline", ""),
    ("not now", "decline", ""), ("never mind", "decline", ""), ("I don't need an agent", "decline", ""),
    ("ok thanks", "decline", ""), ("thanks, no", "decline", ""),
    ("No. How long does a refund take?", "decline", "How long does a refund take?"),
    # what follows a no is asked only when it is a question, and is read without the courtesy
    ("no thank you, but how can I reset my password?", "decline", "how can I reset my password?"),
    ("no need \u2013 where is my invoice?", "decline", "where is my invoice?"),
    ("no, I'll check the website", "decline", ""), ("no refund yet?", "", "no refund yet?"),
    ("no thnx, hw do i track my order", "decline", "hw do i track my order"),
    ("Yes kindly connect me to the concerned person", "accept", ""), ("okay sure", "accept", ""),
    ("sure is annoying that the app crashes", "", "sure is annoying that the app crashes"),
    # no answer to the offer: read as a message of its own
    ("no one has answered my emails for a week", "", "no one has answered my emails for a week"),
    ("no one helped me", "", "no one helped me"), ("yes it broke again", "", "yes it broke again"),
    ("nobody answers the phone", "", "nobody answers the phone"),
    ("y is my order late", "", "y is my order late"),
    ("ok, how do I cancel my order?", "", "ok, how do I cancel my order?"),
    ("my order never came", "", "my order never came"), ("thanks", "", "thanks"),
])
def test_a_reply_to_the_offer_of_a_person(reply: str, meaning: str, rest: str) -> None:
    assert reply_to_offer(reply) == (meaning, rest)
