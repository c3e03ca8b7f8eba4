"""Deciding when a conversation goes to a person, and why.

Three signals, each naming itself in the stored reason: the customer asks for a
person ("customer_request": the learned classifier of assistant.handoff_model
over the message, at `dialogue.handoff_threshold`),
retrieval stays weak for several turns in a row ("low_confidence"), or a
configured regex matches ("trigger:<pattern>"). Two rules are kept because they are
meaning, not wording: a sentence that declines a person ("no need for an agent,
just tell me the fee") never counts as asking for one; and after an answer that
offered a person ("Shall I connect you with a person?"), a short yes or no is the
customer's answer to that offer (`reply_to_offer`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from assistant.errors import ConfigError
from assistant.language import detect
from knowledge.records import Hit

_PERSON = (r"(?:agents?|humans?|persons?|people|some\s?one|some\s?body|any\s?one|any\s?body|operators?"
           r"|rep(?:resentative)?s?|staff|advisors?|specialists?|managers?|supervisors?|employees?)")
_ARTICLE = r"(?:(?:a|an|any|the|your|one\s+of\s+your|real|live|human|actual)\s+){0,2}"
# Declining a person: a negation whose object is a person, or "don't transfer me".
_DECLINES = re.compile("|".join(f"(?:{p})" for p in [
    rf"\b(?:do\s*n[o']?t|never|no\s+need\s+to)\s+(?:really\s+)?(?:want|need|wish)\s+"
    rf"(?:to\s+(?:talk|speak|chat)\s+(?:to|with)\s+|to\s+(?:call|contact|bother)\s+)?{_ARTICLE}{_PERSON}\b",
    rf"\bwithout\s+(?:(?:talking|speaking|chatting)\s+(?:to|with)\s+|(?:calling|contacting|bothering)\s+)?"
    rf"{_ARTICLE}{_PERSON}\b",
    rf"\bno\s+need\s+(?:for|of)\s+{_ARTICLE}{_PERSON}\b",
    r"\b(?:do\s*n[o']?t|please\s+don'?t)\s+(?:transfer|connect|escalate|pass)\s+(?:me|this|it)\b",
]), re.IGNORECASE)


# A reply to "Shall I connect you with a person?": its first clause says yes or no, a polarity word
# and at most a few words of courtesy ("no thanks, I'm good", "yes please, connect me"). English
# polarity words, not the spelling of any dataset. A weak yes ("ok", "fine") followed by a request of
# its own ("ok, how do I cancel?") answers nothing: it is read as a new request.
_COURTESY = (r"(?:\s+(?:thanks?|thank\s+you|thx|ty|cheers|please|pls|plz|mate|then|really|anyway|sorry|just"
             r"|for\s+now|i'?m\s+(?:good|fine|ok(?:ay)?|all\s+good)|that'?s\s+(?:all|ok(?:ay)?|fine)|all\s+good"
             r"|it'?s\s+(?:fine|ok(?:ay)?)|(?:connect|transfer)\s+me|go\s+(?:ahead|on)|do\s+it|a\s+(?:person|human)))*")
_YES = re.compile(r"(?:y|yes+|yeah|yea|yep|yup|ya|sure|please|absolutely|definitely|certainly|of\s+course"
                  r"|go\s+ahead|go\s+on|go\s+for\s+it|do\s+it|do\s+that|please\s+do|i\s+would\s+like\s+that"
                  r"|i'?d\s+(?:like|appreciate)\s+(?:it|that)|that\s+would\s+(?:be\s+great|help)"
                  r"|that'?d\s+(?:be\s+great|help)|sounds\s+good|ok(?:ay)?|okie|alright|all\s+right|fine)"
                  + _COURTESY, re.IGNORECASE)
_WEAK_YES = re.compile(r"(?:ok(?:ay)?|okie|alright|all\s+right|fine)\b", re.IGNORECASE)
_THANKS = re.compile(r"(?:thanks?|thank\s+you|thx|ty|cheers)\b", re.IGNORECASE)
_NO = re.compile(r"(?:n|no+|nope|nah|not\s+(?:now|today|yet|needed|necessary|really|at\s+the\s+moment)"
                 r"|no\s+need|never\s?mind|maybe\s+later|i'?m\s+(?:fine|good|ok(?:ay)?|all\s+good)"
                 r"|that'?s\s+(?:all|ok(?:ay)?|fine|alright)|all\s+good|don'?t\s+bother|i'?ll\s+manage"
                 r"|forget\s+it|that\s+won'?t\s+be\s+necessary)" + _COURTESY, re.IGNORECASE)
_CLAUSE = re.compile(r"[,.;:!?]+\s*|\s+-+\s+")
OFFER_CLAUSE_WORDS = 5  # "yes that would be great": longer first clauses are requests of their own


def reply_to_offer(text: str) -> tuple[str, str]:
    """("accept" | "decline" | "", the rest of the message) for a reply to an offer of a person:
    "yes please" accepts, "no thanks" declines, "no, how long does a refund take?" declines and
    asks something else (the rest), "my order never came" is neither. "ok thanks" closes the
    matter (declines); "ok" alone accepts."""
    words = " ".join(text.split())
    parts = _CLAUSE.split(words, maxsplit=1)
    first, rest = parts[0].strip(), (parts[1].strip() if len(parts) > 1 else "")
    if _THANKS.fullmatch(first) and rest:  # "thanks, no": the answer is in the next clause
        return reply_to_offer(rest)
    if not first or len(first.split()) > OFFER_CLAUSE_WORDS:
        return "", words
    if declines_person(first) or _NO.fullmatch(first):
        return "decline", rest
    if _YES.fullmatch(first):
        if not _WEAK_YES.match(first):
            return "accept", rest
        if len(rest.split()) >= 3:  # "ok, how do I cancel?": a request of its own
            return "", words
        return ("decline" if _THANKS.search(first) or _THANKS.match(rest) else "accept"), rest
    return "", words


class PersonModel(Protocol):
    """assistant.handoff_model.PersonClassifier: calibrated p(asks for a person) per text (blocking)."""

    def probabilities(self, texts: Sequence[str]) -> Sequence[float]: ...


@dataclass(frozen=True)
class HandoffDecision:
    handoff: bool
    reason: str = ""  # customer_request | low_confidence | trigger:<pattern>
    detail: str = ""  # which signal fired and on what: "classifier 0.93: <sentence>", the trigger's match


NO_HANDOFF = HandoffDecision(handoff=False)


def declines_person(text: str) -> bool:
    """The text declines a person ("I don't need an agent", "please don't transfer me")."""
    return _DECLINES.search(text) is not None


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!;])\s+|\n+", " ".join(text.split())) if s]


def candidate_parts(text: str) -> list[str]:
    """What the classifier reads: the whole message, or, when part of it declines a person
    ("no need for an agent. just the fee"), each of its other sentences."""
    whole = " ".join(text.split())
    if not declines_person(whole):
        return [whole] if whole else []
    return [s for s in sentences(whole) if not declines_person(s)]


class HandoffDetector:
    """Decides, for one customer turn, whether it goes to a person."""

    def __init__(self, *, model: PersonModel | None = None, threshold: float = 0.5,
                 triggers: Sequence[str] = (), min_score: float = 0.45, low_confidence_turns: int = 2,
                 languages: Sequence[str] = ("en",)) -> None:
        self.model = model  # None: only triggers and low confidence hand over
        self.threshold = threshold
        self.languages = frozenset(languages)  # what the model was trained on (the packaged encoder: English)
        self.triggers = [(p, _compile(p)) for p in triggers]
        self.min_score = min_score
        self.low_confidence_turns = low_confidence_turns

    def on_request(self, text: str, language: str = "") -> HandoffDecision:
        """The signals that need only this turn's words: triggers, then the classifier (blocking).

        `language` is the turn's, when known (a voice note's; else guessed from the words): the
        classifier only reads languages it learned, so in others only triggers hand over (and
        the widget's "talk to a person" button, and low confidence)."""
        decided, parts = self.to_classify(text, language)
        if decided is not None or not parts or self.model is None:
            return decided or NO_HANDOFF
        return self.decide(parts, self.model.probabilities(parts))

    def to_classify(self, text: str, language: str = "") -> tuple[HandoffDecision | None, list[str]]:
        """A trigger's decision (and nothing to classify), or the parts of the text the
        classifier must read ([] when it cannot: no model, a language it did not learn).
        Cheap: for callers that run the classifier themselves (batched, off the loop)."""
        for pattern, regex in self.triggers:
            match = regex.search(text)
            if match:
                return HandoffDecision(True, f"trigger:{pattern}", match.group(0)), []
        language = language or detect(text)
        if self.model is None or (language and language not in self.languages):
            return None, []
        return None, candidate_parts(text)

    def decide(self, parts: Sequence[str], probabilities: Sequence[float]) -> HandoffDecision:
        """The classifier's decision from its probability for each part."""
        if not parts:
            return NO_HANDOFF
        best = max(range(len(parts)), key=lambda i: probabilities[i])
        if probabilities[best] < self.threshold:
            return NO_HANDOFF
        return HandoffDecision(True, "customer_request",
                               f"classifier {probabilities[best]:.2f}: {parts[best][:120]}")

    def on_confidence(self, best_score: float | None,
                      earlier_best: Sequence[float | None]) -> HandoffDecision:
        """Low-confidence rule: this turn and the previous ones (newest last) all scored low.

        `earlier_best` holds the best retrieval score of each earlier answered turn
        since the bot last took (or took back) the conversation; None = nothing found.
        """
        needed = self.low_confidence_turns - 1
        recent = list(earlier_best)[-needed:] if needed else []
        if len(recent) < needed or not self.is_low(best_score) or not all(map(self.is_low, recent)):
            return NO_HANDOFF
        return HandoffDecision(True, "low_confidence",
                               f"{self.low_confidence_turns} turns below {self.min_score:.2f}")

    def is_low(self, score: float | None) -> bool:
        return score is None or score < self.min_score


def unsure_reason(hits: Sequence[Hit], *, min_score: float, margin: float = 0.05) -> str:
    """Why the history holds no answer to this turn ("" when it does).

    "no_match": nothing found; "weak_match": the best record is less similar than
    min_score; "disagree": the two best records are of different intents, about as
    similar, and neither clearly good (min_score + 0.1), so either answer is a guess."""
    if not hits:
        return "no_match"
    best, runner_up = hits[0], (hits[1] if len(hits) > 1 else None)
    if best.score < min_score:
        return "weak_match"
    if (runner_up is not None and best.record.intent and runner_up.record.intent
            and best.record.intent != runner_up.record.intent
            and abs(best.score - runner_up.score) < margin and best.score < min_score + 0.1):
        return "disagree"
    return ""


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(f"config key 'dialogue.handoff_triggers': bad regex {pattern!r}: {exc}") from None
