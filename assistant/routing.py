"""Deciding when a conversation goes to a person, and why.

Three rules, each naming its reason: the customer asks for a person
("customer_request": phrase patterns, backed by the knowledge base's vote for the
Bitext `contact_human_agent` intent), retrieval stays weak for several turns in a
row ("low_confidence"), or a configured regex matches ("trigger:<pattern>").
Asking *about* something ("can I speak about my invoice?") or asking for the
customer-service desk's hours is not asking for a person.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.errors import ConfigError
from knowledge.records import Hit

HUMAN_INTENT = "contact_human_agent"

# Who the customer wants: a person, not "customer service" (which Bitext files under
# contact_customer_service: opening hours, phone numbers).
_WHO = (r"(?:human(?:\s+being)?s?|person|people|some\s?(?:one|body)|some\s?on[e]?|somone|somenoe|somneone"
        r"|operator|agent|rep(?:resentative)?|assist[a-z]*nt|staff(?:\s+member)?|employee"
        r"|manager|supervisor|e?p[er]{1,2}s+on|real\s+one)")
# Words that may sit between the verb and who: articles, adjectives, expletives.
_FILLER = (r"(?:(?:a|an|the|some|one|your|real|actual|live|human|reall?y|bloody|damn|goddamn|fucking"
           r"|customer(?:\s+(?:service|support|care))?|support|service|sales|senior|of\s+your)\s+){0,4}")
_VERB = (r"(?:ta[a-z]?l?k[a-z]*|taok|speak[a-z]*|spea?k|chat[a-z]*|cat|contact[a-z]*|reach|call"
         r"|get\s+(?:in\s+touch|hold)|get\s+through|put\s+(?:me\s+)?through|be\s+(?:put\s+through|transferred|connected|passed)"
         r"|transfer\s+me|connect\s+me|pass\s+me|hand\s+me\s+over|escalate\s+(?:this|me|it)?)")

_REQUEST_PATTERNS = [
    # "talk to a human", "speak with a live agent", "contact somebody", "chat wth somebody"
    rf"\b{_VERB}\s+(?:(?:to|with|wth|wirh|w/|wit|tosomebody|over\s+to|through\s+to)\s*)?{_FILLER}{_WHO}\b(?!\s+of\b)",
    # "I want a human", "get me a real person", "need a live agent now"
    rf"\b(?:want|need|get\s+me|give\s+me|get|like|prefer|request(?:ing)?)\s+(?:to\s+(?:have|get)\s+)?"
    rf"(?:a|an|some|the|one)\s+{_FILLER}{_WHO}\b(?!\s+of\b)(?!'s)",
    # "human please", "agent!", "representative", "real person now"
    rf"^\W*(?:(?:a|an|the)\s+)?(?:real\s+|live\s+|actual\s+)?{_WHO}\W*(?:please|pls|plz|now|asap)?\W*$",
    # "transfer me", "escalate this to your team", "connect me to support staff"
    r"\b(?:transfer|escalate|forward)\s+(?:me|this|my\s+(?:case|chat|issue))\b",
    # "is there a human I can talk to", "are there any real people there"
    rf"\b(?:is|are)\s+there\s+(?:a|an|any)\s+{_FILLER}{_WHO}\b",
    r"\bstop\s+(?:the\s+)?bot\b|\bno\s+(?:more\s+)?bots?\b|\bnot\s+(?:a|the|this)\s+(?:bot|robot|machine)\b",
]
# Turns that mention a person but do not ask for one.
_NOT_A_REQUEST = [
    r"\b(?:do\s*n[o']?t|never|no\s+need\s+to)\s+(?:really\s+)?(?:want|need|wish|care)\s+(?:to\s+)?"
    r"(?:talk|speak|chat|contact|be\s+transferred|a|an|any|your)\b",
    r"\bwithout\s+(?:talking|speaking|chatting|calling|contacting|an?\s+(?:agent|human|person))",
    r"\bno\s+(?:need\s+for\s+)?(?:an?\s+)?(?:agent|human|person|operator)s?\b(?!\s*\?)",
    r"\bare\s+you\s+(?:a\s+)?(?:real|human|person|bot|robot)",
    r"\b(?:agent|person|human)\s+of\b",  # "agent of change", "person of interest"
    r"\b(?:travel|insurance|estate|secret|user|delivery)\s+agents?\b",
    r"\bhuman\s+(?:resources|error|rights)\b",
]
_REQUEST = re.compile("|".join(f"(?:{p})" for p in _REQUEST_PATTERNS), re.IGNORECASE)
_NEGATED = re.compile("|".join(f"(?:{p})" for p in _NOT_A_REQUEST), re.IGNORECASE)


@dataclass(frozen=True)
class HandoffDecision:
    handoff: bool
    reason: str = ""  # customer_request | low_confidence | trigger:<pattern>
    detail: str = ""  # what matched, for logs and the console


NO_HANDOFF = HandoffDecision(handoff=False)


def asks_for_person(text: str) -> bool:
    """True when the words themselves ask for a person (no knowledge base needed).

    Judged sentence by sentence, so "Are you a bot? I want a real person." asks."""
    return any(_REQUEST.search(s) and not _NEGATED.search(s) for s in _sentences(text))


def declines_person(text: str) -> bool:
    """A sentence that mentions a person without asking for one ("I don't need an agent")."""
    return any(_NEGATED.search(s) for s in _sentences(text))


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!;])\s+|\n+", " ".join(text.split())) if s]


def votes_for_person(hits: Sequence[Hit], *, share: float = 0.5, min_score: float = 0.6) -> bool:
    """The nearest records are mostly `contact_human_agent` requests, and near enough."""
    if not hits or hits[0].score < min_score:
        return False
    total = sum(h.score for h in hits) or 1.0
    human = sum(h.score for h in hits if h.record.intent == HUMAN_INTENT)
    return hits[0].record.intent == HUMAN_INTENT and human / total >= share


class HandoffDetector:
    """Decides, for one customer turn, whether it goes to a person."""

    def __init__(self, *, triggers: Sequence[str] = (), min_score: float = 0.45,
                 low_confidence_turns: int = 2, vote_share: float = 0.5, vote_min_score: float = 0.6) -> None:
        self.triggers = [(p, _compile(p)) for p in triggers]
        self.min_score = min_score
        self.low_confidence_turns = low_confidence_turns
        self.vote_share = vote_share
        self.vote_min_score = vote_min_score

    def on_request(self, text: str, hits: Sequence[Hit] = ()) -> HandoffDecision:
        """The rules that need only this turn: triggers, then the customer's own words."""
        for pattern, regex in self.triggers:
            if regex.search(text):
                return HandoffDecision(True, f"trigger:{pattern}", regex.search(text).group(0))  # type: ignore[union-attr]
        if asks_for_person(text):
            return HandoffDecision(True, "customer_request", "phrase")
        if declines_person(text):
            return NO_HANDOFF  # "no need for an agent, just tell me …": the vote must not overrule
        if votes_for_person(hits, share=self.vote_share, min_score=self.vote_min_score):
            return HandoffDecision(True, "customer_request", f"similar to {hits[0].id}")
        return NO_HANDOFF

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
