"""Asking which question the customer meant, and reading the answer.

A wrong record read to a customer is worse than a question back. Four cases, all
decided with the intent head's probabilities (knowledge.intents, on every hit):

- the history answers, but two intents are about as likely ("has my order shipped
  yet": where it is, or how long delivery takes?): "Just to be sure: is your
  question about where your order is, or how long delivery takes?";
- the best record is too weak to answer from (route unsure), but one intent is
  very likely ("hey i forgot to add the charger to my order, can you put it in the
  same package?"): "Just to be sure: is your question about changing an order?"
  rather than "I don't have information on that";
- the head put its intent's record first, too weak to answer from, over a nearer one
  of another intent ("I just want to know where my package is. Order 88123."): both
  are offered, "delivery options, or where your order is?";
- the head is sure of an intent none of the nearest records is of ("I sent the lamp
  back two weeks ago, when do I get paid back?": where a refund is, 1.0, over records
  of asking for one): the dialogue looks its records up (`unfound_intent`) and asks,
  "where your refund is, or asking for a refund?" (the head's alone when the nearest
  record is too weak to answer from).

The customer's next message is read as the choice (`read_choice`): a leading yes
or no, a short first clause naming an option by place or words ("the first one",
"refund - it already arrived"), "neither", what the reply is about (the intent
head over the reply). What it cannot place is a message of its own.
Labels come from `dialogue.intent_labels`; an intent without one is named by its
id ("track_order" -> "track order").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from assistant.events import Option
from assistant.routing import first_clause, opens_with_yes, reply_to_offer
from knowledge.records import Hit

_FIRST = re.compile(r"\b(?:first|1st|former|top|upper|earlier)\b|^\W*(?:1|one|a|#1|option\s*(?:1|one|a))\W*$",
                    re.IGNORECASE)
_SECOND = re.compile(r"\b(?:second|2nd|latter|last|lower|bottom|other\s+one)\b"
                     r"|^\W*(?:2|two|b|#2|option\s*(?:2|two|b))\W*$", re.IGNORECASE)
# "neither", "none of these", "no, neither", "not really", "something else" (not "nothing went wrong")
_NEITHER = re.compile(r"^\W*(?:no+\W+)?(?:neither|none|not\s+(?:really|quite|exactly|those|these|either|that"
                      r"|them)|(?:it'?s\s+|its\s+)?(?:about\s+)?something\s+else|a\s+different\s+(?:thing|question|issue)"
                      r")\b(?:\s+(?:of\s+)?(?:them|these|those|the\s+two|both|it|that))?", re.IGNORECASE)
# What follows a no or a neither asks something of its own when it is a question or a request
# ("no, how do I return this?", "neither, I want to delete my account"); a statement explains the
# no ("No, I already have one").
_ASKS = re.compile(r"\?|^\W*(?:how|what|where|when|why|who|which|can|could|do|does|did|is|are|will|would"
                   r"|should|may|tell|help|show)\b|\bi\s+(?:just\s+|only\s+|really\s+)?(?:want|need|would\s+like|'?d\s+like"
                   r"|wanna|wish)\b|\b(?:please|pls|plz)\b", re.IGNORECASE)
# Beyond a yes (routing.opens_with_yes), what confirms a single option: "correct", "that's it".
_CONFIRM = re.compile(r"^\W*(?:correct|right|exactly|indeed|that'?s\s+(?:it|right|correct|the\s+one)"
                      r"|thats\s+(?:it|right)|it\s+is)\b", re.IGNORECASE)
_ELSEWHERE = 0.5  # the reply's likeliest intent, not offered, at least this likely: a message of its own
_POSITION_WORDS = 6  # a position word counts only in a short reply ("my first order" is not a choice)
_STEM = 5  # words match on their first letters: "tracking" ~ "track", "cancellation" ~ "cancel"
_STOP = frozenset("""\
about above after again also because been before being both could does doing during
each from have having here into just know like made make more most much need only other over please
same should some such than thank thanks that their them then there these they this those through
very want what which while will with would your yours mine yeah okay sure the and for you are was
were can not but its it's i'm im""".split())  # noqa: SIM905 (a word list reads better as words)


def label(intent: str, labels: Mapping[str, str]) -> str:
    return labels.get(intent) or intent.replace("_", " ").strip()


def clarify_options(hits: Sequence[Hit], unsure: str, *, margin: float, confident: float,
                    labels: Mapping[str, str], exclude: Sequence[str] = (),
                    min_score: float | None = None, likely: float = 1.0,
                    near: float = 1.0) -> tuple[Option, ...]:
    """What to ask about instead of answering (or instead of saying the history has no answer),
    or () to go on. `margin`: the two likeliest intents closer than this in probability, while the
    history answers; `confident`: one intent at least this likely, while the best record is too
    weak ("weak_match"), or at least `likely` while that weak record is of it and at least `near`
    similar. 0 and 1 turn them off. `min_score`: the similarity a record needs to be
    answered from; given, and `margin` not 0, a weak first record put there by the intent head over
    one of another intent that reaches it is asked about too: the head and the search each have a
    candidate. Intents in `exclude` (requests for a person) are never offered."""
    if not hits or not hits[0].intents:
        return ()
    # Only intents the records found are of: the search leaves internal records out, so an
    # intent only the agents' guidelines hold is never named to a customer, and every option
    # has an answer.
    found = {h.record.intent for h in hits}
    likeliest = [(i, p) for i, p in hits[0].intents if i not in exclude and i in found]
    top = hits[0].intents[0][0]
    if not likeliest or likeliest[0][0] != top:  # the likeliest is a person, or no record's
        return ()
    if unsure == "weak_match" and margin > 0 and min_score is not None:
        # Only the head's promotion puts a record first that a later one is more similar than.
        nearer = next((h.record.intent for h in hits[1:] if h.score >= min_score
                       and h.record.intent not in ("", top, *exclude)), None)
        if nearer is not None:
            probability = dict(hits[0].intents)
            pair = sorted((top, nearer), key=lambda i: -probability.get(i, 0.0))
            return tuple(Option(intent=i, label=label(i, labels)) for i in pair)
    if not unsure and margin > 0 and len(likeliest) >= 2 and likeliest[0][1] - likeliest[1][1] < margin:
        pair = [likeliest[0][0], likeliest[1][0]]
        if hits[0].record.intent in pair:  # the record that would be read is one of the two
            return tuple(Option(intent=i, label=label(i, labels)) for i in pair)
    if not unsure and confident < 1 and hits[0].record.intent and hits[0].record.intent != top \
            and (likeliest[0][1] >= confident or ruled_out(hits, confident)):
        # "I sent the lamp back two weeks ago, when do I get paid back?": the head is sure of
        # tracking a refund, the nearest record is of getting one. Each has a candidate: ask. So
        # when the head is as sure that the nearest record's intent is not meant ("I was charged
        # twice for the same order #90312!!": tracking an order, 0.0, nearest by the order number).
        # A record of no intent (an agent's answer to a knowledge gap) is one the head was never
        # shown: its word weighs nothing against it.
        pair = [top] + ([hits[0].record.intent] if hits[0].record.intent not in ("", *exclude) else [])
        return tuple(Option(intent=i, label=label(i, labels)) for i in pair)
    if unsure == "weak_match" and (
            (confident < 1 and likeliest[0][1] >= confident)
            # "stop sending me promo emails": the search and the head agree, both short of sure
            or (likely < 1 and likeliest[0][1] >= likely and hits[0].score >= near
                and hits[0].record.intent == top)):
        return (Option(intent=likeliest[0][0], label=label(likeliest[0][0], labels)),)
    return ()


def unfound_intent(hits: Sequence[Hit], *, sure: float, exclude: Sequence[str] = ()) -> str:
    """The intent the head is at least `sure` of when no record the search found is of it, or "";
    or its likeliest one then, when it is as sure the nearest record's intent is not meant
    (`ruled_out`).

    The search ranks by similarity first and the head only reorders what it found: "I'm at work
    all day. Can the parcel be left in a locker?" is delivery options to the head (1.0) while the
    nearest records are about delivery times. That intent's own records are worth a look."""
    if not hits or not hits[0].intents or sure >= 1:
        return ""
    top, likely = hits[0].intents[0]
    found = {h.record.intent for h in hits}
    wanted = likely >= sure or ruled_out(hits, sure)
    return top if wanted and top not in found and top not in exclude else ""


def ruled_out(hits: Sequence[Hit], sure: float) -> bool:
    """Is the intent head at least `sure` that the nearest record's intent is not what was asked
    (it gives that intent at most 1 - `sure`)? An intent the head's short list leaves out is given
    at most what the list leaves. A record of no intent is never ruled out: the head never saw one."""
    intent = hits[0].record.intent if hits else ""
    if not intent or not hits[0].intents:
        return False
    likely = dict(hits[0].intents)
    return likely.get(intent, 1.0 - sum(likely.values())) <= 1 - sure


def confirm_options(hits: Sequence[Hit], *, intents: Sequence[str], sure: float,
                    labels: Mapping[str, str]) -> tuple[Option, ...]:
    """The record that would be read walks the customer through what cannot be undone (closing an
    account, cancelling an order: an intent of `intents`): ask first, unless the history is sure it is
    what they asked. Sure: the intent head gives that intent at least `sure`, and no record the search
    found nearer is of another intent (the head put it first over it). "my account still has my old
    surname, how do i fix it" read the steps to close the account (head 0.86); "The money left my
    account but the order says unpaid" too, over a nearer payment-problem record. () to go on."""
    if not hits or not intents or hits[0].record.intent not in intents:
        return ()
    intent = hits[0].record.intent
    nearer = any(h.score > hits[0].score and h.record.intent != intent for h in hits[1:])
    likely = dict(hits[0].intents).get(intent, 0.0) if hits[0].intents else 1.0  # no head, no opinion
    if likely >= sure and not nearer:
        return ()
    return (Option(intent=intent, label=label(intent, labels)),)


def question(template: str, options: Sequence[Option]) -> str:
    """The clarifying question: `template` with {options} ("A, or B")."""
    return template.format(options=", or ".join(o.label for o in options))


def read_choice(text: str, options: Sequence[Option],
                likeliest: Sequence[tuple[str, float]] = ()) -> tuple[str, str]:
    """How a reply answers a clarifying question: (intent chosen, what else it says), ("none", "")
    for "neither" or a no, ("", what to read as a message of its own) when it chooses nothing.

    In order: a leading no (then neither, unless what follows picks an option or asks something
    of its own); a yes to a single option; a short first clause that names an option by place or
    by its words ("The first one. I want a refund", "refund - it already arrived"); "neither";
    `likeliest`, the intent head's likeliest intents for the reply ("I just need to know when it
    gets here"); last the options' words anywhere in it."""
    words = " ".join(text.split())
    polarity, rest = reply_to_offer(words)
    if polarity == "decline":  # "no", "no, the second one", "no, how do I return this?"
        if not rest:
            return "none", ""
        asks = _ASKS.search(rest) is not None  # "no, how do I track my order?" names no option
        picked = _by_clause(rest, options, by_words=not asks)
        return (picked, rest) if picked else (("", rest) if asks else ("none", ""))
    if len(options) == 1 and (polarity == "accept" or opens_with_yes(words) or _CONFIRM.match(words)):
        return options[0].intent, rest if polarity == "accept" else words
    if polarity == "accept" and not rest:  # "yes" to "A, or B?" chooses neither of them
        return "", words
    picked = _by_clause(words, options)
    if picked:
        return picked, words
    neither = _NEITHER.match(words)
    if neither:
        after = _after_courtesy(words[neither.end():])
        return ("", after) if after and _ASKS.search(after) else ("none", "")
    offered = {o.intent for o in options}
    if likeliest and likeliest[0][0] in offered:
        return likeliest[0][0], words
    if likeliest and likeliest[0][1] >= _ELSEWHERE:  # clearly about something else
        return "", words
    picked = _by_words(words, options)
    return (picked, words) if picked else ("", words)


def _after_courtesy(text: str) -> str:
    return re.sub(r"^\W*(?:(?:sorry|thanks?|thank\s+you|mate|sir|really|actually|tho|though)\b\W*)*", "",
                  text, flags=re.IGNORECASE).strip()


def _by_clause(text: str, options: Sequence[Option], *, by_words: bool = True) -> str:
    """The option a short first clause names by place (or by its words), or ""."""
    clause = first_clause(text)
    if not clause.strip() or len(clause.split()) > _POSITION_WORDS:
        return ""
    return _by_position(clause, options) or (_by_words(clause, options) if by_words else "")


def _by_position(text: str, options: Sequence[Option]) -> str:
    """The option a short clause names by its place ("the first one", "2", "the latter"), or ""."""
    if len(options) == 2:
        first, second = _FIRST.search(text), _SECOND.search(text)
        if first and not second:
            return options[0].intent
        if second and not first:
            return options[1].intent
    return ""


def _by_words(text: str, options: Sequence[Option]) -> str:
    """The option a reply names by its own words ("the delivery time"), or ""."""
    said = _stems(text)
    named = [_stems(f"{o.label} {o.intent.replace('_', ' ')}") for o in options]
    # only what tells them apart: "order" names both "where your order is" and "changing an order"
    hits = [len(said & (own - set().union(*(n for n in named if n is not own)))) for own in named]
    best = max(hits, default=0)
    return options[hits.index(best)].intent if best and hits.count(best) == 1 else ""


def _stems(text: str) -> set[str]:
    return {w[:_STEM] for w in re.findall(r"[a-z']+", text.lower()) if len(w) >= 4 and w not in _STOP}
