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


# A reply to "Shall I connect you with a person?" opens with yes or no: a leading expression of
# English polarity (not the spelling of any dataset), then perhaps courtesy ("no thanks, I'm good",
# "yes please, connect me"), then perhaps more. "no" counts only as an interjection (followed by a
# pause, a pronoun or courtesy: "no thnks", "no it's ok", "no sir"), not as a determiner ("no one
# replied", "no refund yet"); a weak yes ("ok", "fine") followed by a request of its own ("ok, how
# do I cancel?") answers nothing. What follows a no is asked unless it only closes the matter ("no,
# I'll check the website"); what follows a yes is for the person to read.
_THANKS = re.compile(r"(?:thank\s+(?:you|u)|thanks?|thx|thnx|thnks|ty|ta|cheers)\b", re.IGNORECASE)
_NO_WORD = (r"no+(?=$|[\s,.!;:]*$|[,.!;:]|\s+(?:i|i'?m|im|it|it'?s|its|thanks?|thank|thx|thnx|thnks|ty|ta|sir"
            r"|madam|mate|no|need|worries|problem|that'?s|thats|please|pls|just|but|we'?re|all|cheers)\b)")
_DECLINE = (rf"(?:no\s+need|no\s+thank\s+(?:you|u)|{_NO_WORD}|n|nope|nah|naw|not\s+(?:right\s+)?(?:now|today"
            r"|yet|needed|necessary|really|at\s+the\s+moment)|never\s?mind|nvm|maybe\s+later|i'?ll\s+pass"
            r"|forget\s+(?:about\s+)?it|leave\s+it|don'?t\s+(?:bother|worry)|i'?ll\s+manage|i'?m\s+sorted"
            r"|it'?s\s+(?:fine|ok(?:ay)?|alright|all\s+right)|its\s+(?:fine|ok(?:ay)?)|i'?m\s+(?:fine|good|ok(?:ay)?"
            r"|all\s+good)|that'?s\s+(?:all|ok(?:ay)?|fine|alright)|all\s+good|that\s+won'?t\s+be\s+necessary)")
_WEAK = r"(?:ok(?:ay)?|okie|k(?=\s*$|[\s,.!]*$)|alright|all\s+right|fine)"
_AGREE = (r"(?:y(?=\s*$|[\s,.!]*$)|yes+|yeah+|yea+|yep|yup|ya+|sure|please+|pl[sz]+|absolutely|definitely"
          r"|certainly|of\s+course"
          r"|go\s+(?:ahead|on|for\s+it)|do\s+it|do\s+that|please\s+do|pl[sz]\s+do|i\s+would\s+like\s+that"
          r"|i'?d\s+(?:like|appreciate)\s+(?:it|that)|that\s+would\s+(?:be\s+\w+|help)|that'?d\s+(?:be\s+\w+|help)"
          r"|sounds\s+good|if\s+you\s+must|why\s+not)")
_POLITE = (r"kindly|then|really|anyway|sorry|just|mate|sir|madam|but|though|quickly|now|asap|sure|why\s+not"
           r"|(?:connect|transfer|put)\s+me(?:\s+through)?|to\s+(?:a|an|the|someone|somebody)"
           r"|(?:a|an|the)?\s*(?:real\s+|concerned\s+|live\s+)?(?:person|human|agent|someone|somebody)")
_LEADING_NO = re.compile(rf"(?:{_THANKS.pattern}[\s,.!]*(?:but\s+)?)?{_DECLINE}\b", re.IGNORECASE)
_LEADING_YES = re.compile(rf"(?:{_THANKS.pattern}[\s,.!]*)?(?:{_AGREE}|{_WEAK})\b", re.IGNORECASE)
_FILLER = re.compile(rf"(?:[\s,.;:!\u2013\u2014-]+|{_THANKS.pattern}"
                     rf"|(?:{_DECLINE}|{_AGREE}|{_WEAK}|{_POLITE}|not\s+important)\b)+", re.IGNORECASE)
_NAMES_PERSON = re.compile(r".*\b(?:person|human|agent|someone|somebody|staff|rep|representative|operator"
                           r"|connect|transfer|put\s+me\s+through)\b", re.IGNORECASE)
_CLOSING = re.compile(r"(?:i'?ll|i\s+will|i'?m\s+going\s+to|i\s+can|i\s+(?:was|am)\s+just|just|it'?s|its"
                      r"|that'?s|all|i'?m\s+(?:ok|okay|fine|good|sorted))\b", re.IGNORECASE)
_CLAUSE = re.compile(r"[,.;:!?]+\s*|\s+[-\u2013\u2014]+\s+")
ASKED_WORDS = 3  # what follows a "no" is a question of its own from this many words ("how to cancel")


def reply_to_offer(text: str) -> tuple[str, str]:
    """("accept" | "decline" | "", the rest) for a reply to an offer of a person: "yes please"
    accepts, "no thanks" declines, "no, but how long does a refund take?" declines and asks that
    (the rest), "my order never came" and "ok, how do I cancel?" are neither (the rest is the whole
    message). "ok thanks" closes the matter (declines); "ok" alone accepts."""
    words = " ".join(text.split())
    leading = _LEADING_NO.match(words)
    first = first_clause(words)
    if leading or declines_person(first):
        after = words[leading.end():] if leading else words[len(first):]
        rest = _after_filler(after)
        closes = len(rest.split()) < ASKED_WORDS or _CLOSING.match(rest) or declines_person(rest)
        return "decline", ("" if closes else rest)
    leading = _LEADING_YES.match(words)
    if not leading:
        return "", words
    rest = _after_filler(words[leading.end():])
    if re.fullmatch(rf"(?:{_THANKS.pattern}[\s,.!]*)?{_WEAK}", leading.group(0).strip(), re.IGNORECASE):
        if len(rest.split()) >= ASKED_WORDS:  # "ok, how do I cancel?": a request of its own
            return "", words
        return ("decline" if _THANKS.search(words) else "accept"), ""
    if len(rest.split()) >= ASKED_WORDS and not _NAMES_PERSON.match(rest):
        return "", words  # "sure is annoying that the app crashes", "yes it broke again": said more
    return "accept", rest


def first_clause(text: str) -> str:
    """What comes before the first pause: "The first one" of "The first one. I want a refund"."""
    return _CLAUSE.split(text, maxsplit=1)[0]


def opens_with_yes(text: str) -> bool:
    """The text opens with an English yes ("yes", "yep, order 5512", "ok", "sure thing")."""
    return _LEADING_YES.match(" ".join(text.split())) is not None


def _after_filler(text: str) -> str:
    m = _FILLER.match(text)
    return (text[m.end():] if m else text).strip()


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


_CLAUSE_END = re.compile(r"(?<=[.?!;,])\s+|\n+")


def without_declines(text: str) -> str:
    """The text without its clauses that decline a person ("I don't want to talk to anyone, I just
    want to know where my package is" -> "I just want to know where my package is"): they say how
    the customer wants to be helped, not with what, so the search does not read them. The whole
    text when every clause declines."""
    if not declines_person(text):
        return text
    kept = [c for c in _CLAUSE_END.split(" ".join(text.split())) if c and not declines_person(c)]
    return " ".join(kept) or text


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
