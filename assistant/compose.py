"""Answers composed from the history itself: the best record's resolution, made this customer's.

A resolution's {{Placeholders}} are filled from the [company] config and from what
the customer said in this conversation (the order number they gave), otherwise
with generic words that stay true ("your order", "our website"); the number the
record's own customer gave is never repeated to another, and a sentence holding a
placeholder nothing fills is left out: so is one that sends the customer to a phone
number or e-mail address the config does not set ("call our customer support phone
number" helps nobody). Nothing is generated, so nothing can be
invented: this is the default answer path.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence

from assistant.grounding import placeholders_in, renumbered, split_sentences
from knowledge.placeholders import numbered_values, resolution_for, unset_contacts
from knowledge.records import Hit

# The ways to reach the company a customer may ask for by name, by the [company] key that sets each
# (knowledge.placeholders.unset_contacts counts them by that key).
_ASKED_CONTACT = {
    "customer_support_phone_number": ("phone number", re.compile(
        r"\b(?:(?:tele)?phone|hotline|helpline)\b|\b(?:free|toll-free|contact|support|service|assistance)\s+"
        r"(?:phone\s+)?(?:number|no)\b|\bnumber\s+(?:to|I\s+can)\s+(?:call|ring|phone|reach)\b",
        re.IGNORECASE)),
    "customer_support_email": ("e-mail address", re.compile(r"\b(?:e-?)?mail\b", re.IGNORECASE)),
}
# "my phone number", "my new e-mail address": the customer's own, not a way to reach the company
_OWN_CONTACT = re.compile(r"\bmy\s+(?:\w+\s+)?(?:(?:tele|cell\s*|mobile\s+)?phone|e-?mail)"
                          r"(?:\s+(?:number|no|address))?\b", re.IGNORECASE)
THIN = 250  # characters: a resolution this short mostly acknowledges ("Allow me a moment to fetch it.")
NEAR = 0.08  # a fuller record of the same intent this close in score answers instead
_LIST_ITEM = re.compile(r"\s*(?:[-*•]|\d{1,2}[.)])\s")
# A step that said "besides the one before" loses those words when the one before went
_AFTER_DROPPED = re.compile(r"^(\s*(?:[-*•]|\d{1,2}[.)])\s+)(?:Alternatively|Additionally|Also|Otherwise),?"
                            r"\s+(\w)")


def compose_best(references: Sequence[Hit], company: Mapping[str, str],
                 customer_texts: Sequence[str] = (), *, floor: float = 0.0) -> str:
    """The best record composed for this customer, or a record of the same intent that matches
    nearly as well (NEAR) and reads better to a customer: one that says what to do rather than
    only acknowledging the request ("I'm here to help you cancel order 370795561790."), and then
    one that does not ask for details only the agent who wrote it could use ("could you provide
    the order number? With that, I'll check its status": the assistant checks nothing), and last one
    not written to give a phone number or e-mail address that [company] does not set. When every near
    one still reads so, the nearest farther one of the intent that does not, at least `floor` similar
    (the similarity an answer needs, `dialogue.min_score`; any, when the best is below it too: an
    intent the customer chose from a clarifying question), answers instead."""
    if not references:
        return ""
    best = references[0]
    near = [best, *(h for h in references[1:]
                    if h.record.intent == best.record.intent and best.score - h.score <= NEAR)]
    # A record written to give a phone number [company] does not set ("do you have a phone number to
    # contact customer support?") says little else: a near one of its intent reads better.
    locked_out = any(_LOCKED_OUT.search(text) for text in customer_texts)

    def worse(text: str) -> tuple[bool, bool, bool]:  # for this customer: (thin, asks, logs in first)
        return (*_reads_worse(text), locked_out and logs_in_first(text))

    composed = [(compose(hit, company, customer_texts), bool(_unset_contacts_given(hit, company)))
                for hit in near]
    chosen = min(composed, key=lambda pair: (*worse(pair[0]), pair[1]))[0]
    if any(worse(chosen)):
        # Every near one only acknowledges or asks for an order number nobody here can look up ("how long
        # does delivery take?" -> "could you provide your order number? This will allow me to access
        # ..."), or starts by logging in for a customer who cannot: the nearest farther record of the
        # intent that says what to do answers instead.
        # Below the floor the best is itself (the customer chose its intent from a question: "is your
        # question about where your refund is?" "yes"): any record of that intent may answer then.
        limit = floor if best.score >= floor else 0.0
        farther = (compose(h, company, customer_texts) for h in references
                   if h.record.intent == best.record.intent and h not in near and h.score >= limit)
        chosen = next((text for text in farther if not any(worse(text))), chosen)
    return chosen


# A customer who says they cannot get into their account ("locked out", "forgot my password", "can't
# log in"), and steps that start inside it ("1. Log in to your account on our website."): a record
# written for one who knows their password ("3. Look for the Change Password option") does not help.
_LOCKED_OUT = re.compile(
    r"\blocked\s+out\b|\b(?:forg[eo]t+(?:en)?|lost)\s+(?:my\s+|the\s+)?(?:password|pass|pwd|login|pin)\b"
    r"|\b(?:can'?t|cannot|can\s+not|unable\s+to|couldn'?t|not\s+able\s+to)\s+(?:(?:get|log|sign)\s*(?:in|on)"
    r"|access\s+my\s+account|remember\s+(?:my\s+)?(?:password|pass|pwd))\b"
    r"|\b(?:password|pwd)\s+(?:doesn'?t|does\s+not|isn'?t|is\s+not|won'?t)\s+work", re.IGNORECASE)
_LOG_IN = re.compile(r"\b(?:log|sign)\s*(?:in|on)(?:to)?\s+(?:to\s+)?(?:your|the)\s+(?:\w+\s+)?account\b"
                     r"|\baccess\s+your\s+account\b", re.IGNORECASE)


def logs_in_first(text: str) -> bool:
    """Does the answer's first step (or, without numbered steps, its first sentences) have the
    customer log in to their account?"""
    first = re.search(r"^\s*1[.)]\s*(.*)$", text, re.MULTILINE)
    return bool(_LOG_IN.search(first.group(1) if first else " ".join(split_sentences(text)[:2])))


def reads_poorly(text: str) -> bool:
    """Does a composed answer only acknowledge the request or ask for details the assistant cannot
    use, so that another record of its intent may read better (`compose_best`)?"""
    return any(_reads_worse(text))


def _reads_worse(text: str) -> tuple[bool, bool]:
    return len(text) < THIN, asks_for_details(text)


# A request for the customer's details, which the agent who wrote the resolution then used
# ("could you please provide your order number", "please share it with me", "I kindly request you to
# provide", "Once I have this information, I'll ...", "let me know which item you are interested in",
# "may I kindly ask for the order number", "I kindly request additional information such as"):
# the assistant has no system to use them in. ("let me know if you have questions" asks nothing.)
_ASKS = re.compile(r"\b(?:could|can|would|will|may) you(?: please| kindly)?"
                   r" (?:provide|share|send|give|confirm|describe|explain|specify|clarify)\b"
                   r"|\bplease(?: kindly)? (?:provide|share|send|describe|explain|specify|clarify)\b"
                   r"|\b(?:provide|share|send|give)\b(?:\s+[\w/-]+){0,6}?\s+(?:with\s+)?me\b"
                   r"|\b(?:I|we) (?:kindly |would )?(?:request|ask) (?:that )?you\b"
                   r"|\blet me know (?:which|what|your|the)\b"
                   r"|\bmay I (?:kindly |please )?ask (?:you )?(?:for|to)\b"
                   r"|\bonce I (?:have|receive)\b"
                   # "I kindly request additional information such as [...] Once you provide these details"
                   r"|\b(?:I|we) (?:kindly |would )?(?:request|need|require) (?:some |the following "
                   r"|additional |more |a few )?(?:specific )?(?:information|details)\b"
                   r"|\bonce you (?:provide|share|send|give)\b"
                   # "1. Provide us with the specific details of the payment error [...] the card number"
                   r"|\b(?:provide|give) us with\b", re.IGNORECASE)


def missing_contact(references: Sequence[Hit], company: Mapping[str, str], customer_text: str) -> str:
    """The way to reach the company ("phone number", "e-mail address") that the customer asks for
    and that the best records are about, when [company] does not set it; "" otherwise. Composed,
    such a record promises what it cannot give: "I can definitely provide you with a phone number
    to contact our customer support team. [...] please don't hesitate to call." The best record is
    about it when its request names it as the customer does ("do you have a phone number to contact
    customer support?") and its resolution gives it. The customer's own number or address ("the form
    won't accept my phone number") is not one they ask for, in either text."""
    if not references:
        return ""
    asked = _OWN_CONTACT.sub("", customer_text)
    return next((_ASKED_CONTACT[k][0] for k in _unset_contacts_given(references[0], company)
                 if _ASKED_CONTACT[k][1].search(asked)), "")


def _unset_contacts_given(hit: Hit, company: Mapping[str, str]) -> list[str]:
    """The [company] keys of the ways to reach the company that the record was written to give
    (its request asks for one, its resolution holds it) and that [company] does not set."""
    if not hit.record.resolution:
        return []
    request = _OWN_CONTACT.sub("", hit.record.request)
    asked = [k for k, (_, words) in _ASKED_CONTACT.items() if words.search(request)]
    unset = unset_contacts([hit.record.resolution], company) if asked else {}
    return [k for k in asked if k in unset]


def asks_for_details(text: str) -> bool:
    """Does the text ask the customer for details to act on ("please provide me with your order number")?"""
    return bool(_ASKS.search(text))


_DETAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+|(?<![\w-])[A-Za-z]{0,4}[-#]?\d[\w,-]{2,}")  # an e-mail, an id
DETAIL_WORDS = 12  # "it's ORD-77120", "my email is sam@example.com": longer messages say more than that


def gives_details(text: str) -> bool:
    """Is the message (mostly) details such an answer asked for: an order number, an e-mail address?"""
    return len(text.split()) <= DETAIL_WORDS and bool(numbered_values([text]) or _DETAIL.search(text))


def compose(hit: Hit, company: Mapping[str, str], customer_texts: Sequence[str] = ()) -> str:
    """The record's resolution with its placeholders filled for this customer."""
    if not hit.record.resolution:
        return hit.text.strip()
    values = {**company, **numbered_values(customer_texts)}  # the order number they gave, say
    filled = resolution_for(hit.record.resolution, hit.record.request, values, " ".join(customer_texts),
                            generic_contacts=False)
    # A placeholder nothing fills ("from [start time] to [end time]") would be read as is: that
    # sentence goes, the rest of the answer stays, its list steps numbered on without a gap.
    kept = without_unfilled(split_sentences(filled), " ".join(customer_texts),
                            unset_contacts([hit.record.resolution], company))
    # The history's "Of course!" answered its own customer's question, not this one's (asked in any of
    # their messages: after a clarifying question, the last is only "yes").
    if kept and any(asks_yes_or_no(t) for t in customer_texts):
        while kept and (opening := _YES_OPENING.match(kept[0])):  # "Sure, let me help": "Let me help"
            rest = kept[0][opening.end():]
            kept = [rest[:1].upper() + rest[1:], *kept[1:]]
        if kept and _YES.fullmatch(kept[0]):  # "Yes, absolutely! Here's how" reads "Here's how"
            kept = kept[1:]
    return renumbered("".join(kept).strip())[0]


# A question a yes answers: a clause that opens with a verb before its subject ("do u ship to norway",
# "Hi, do you accept Amex?", "..., is that really your policy?", "Could you redirect it to my neighbour?").
_YES_OR_NO = re.compile(r"(?:^|[.!?,;:]\s*)(?:(?:hi|hello|hey)(?:\s+there)?\W*\s*)?"
                        r"(?:can|could|do|does|did|is|are|was|were|will|would|should|may|might|have|has|am)\s+"
                        r"(?:i|we|u|you|it|that|this|there|they|these|those|my|your|ur|the|a|an|sale)\b",
                        re.IGNORECASE)


def asks_yes_or_no(text: str) -> bool:
    """Does the customer ask a question that a bare yes would answer? A record's "Absolutely!" said
    yes to its own customer ("do you ship to Canada?"); read to this one, it confirms what the history
    never said of their question ("I was told 60 days, is that really your policy?" -> "Of course!")."""
    return bool(_YES_OR_NO.search(text.strip()))


# What the agent who wrote a resolution looked up for that customer ("Our system shows that your
# order is in transit and is expected to arrive within the next 2 business days", "I can see that you
# are expecting a refund"): read to another customer, a status nobody checked.
_LOOKED_UP = re.compile(r"\b(?:our|the)\s+(?:system|records?|database)\s+"
                        r"(?:shows?|indicates?|says?|reflects?)\b"
                        r"|\b(?:based\s+on|according\s+to)\s+(?:our|the)\s+(?:system|records?|database)\b"
                        r"|\bI\s+(?:have\s+)?(?:checked|looked\s+(?:it\s+)?up)\b"
                        r"|\bI\s+can\s+see\s+(?:that\s+)?(?:your|you\s+(?:are|have)\s+(?:expecting|ordered|paid))\b",
                        re.IGNORECASE)


# A note to the agent who writes, left in a generated history ("Remember to showcase your in-depth
# product knowledge ... (Role 1: Customer Service Representative)"): never for a customer.
_TO_THE_WRITER = re.compile(r"\(Role\s*\d|\bas\s+a\s+customer\s+service\s+representative\b[^.]*"
                            r"\byou\s+should\b", re.IGNORECASE)


# How the customer a resolution was written for felt ("I'm sorry to hear that you're unsure of how to
# make a complaint", "you might be feeling frustrated because ...", "you're unhappy with your recent
# purchase"): said to another customer, a trouble of mind they never said they had. Such a sentence
# stays only for a customer whose own words name a feeling of the same kind: a doubt for "you're
# unsure", an upset for "your frustration" or "the frustration you must feel" (an angry customer is not
# unsure). Being eager to know ("I understand your eagerness to know when your package will arrive")
# only restates the request: it stays.
_TOLD = (r"\byou(?:'re|\s+are|\s+(?:might|may|must|could)\s+be|\s+seem(?:\s+to\s+be)?|\s+feel)"
         r"(?:\s+(?:feeling|a\s+bit|a\s+little|quite|so|very|really|still|now|rather))*\s+(?:{felt})\b"
         r"|\byour\s+(?:{noun})\b|\bthe\s+(?:{noun})\s+(?:that\s+)?you(?:'re|\s+are|\s+must|\s+feel)")
_FEELINGS = tuple(  # (a sentence tells the customer this feeling, the customer's words name it)
    (re.compile(_TOLD.format(felt=felt, noun=noun), re.IGNORECASE),
     re.compile(rf"\b(?:{said})\b", re.IGNORECASE))
    for felt, noun, said in (
        (r"unsure|uncertain|confused|not\s+(?:certain|sure)", "confusion|uncertainty",
         r"unsure|not\s+(?:so\s+)?sure|uncertain|confus\w*|no\s+idea|(?:don'?t|do\s+not)\s+(?:know|understand)"),
        ("frustrated|unhappy|upset|worried|dissatisfied|disappointed|anxious|annoyed|angry",
         "frustration|disappointment|dissatisfaction|unhappiness|anger|anxiety",
         r"frustrat\w*|annoy\w*|angry|furious|upset|unhappy|dissatisf\w*|disappoint\w*|worr\w*|anxious"
         r"|unacceptable|ridiculous|fed\s+up|sick\s+of"),
    ))
_CONDITION = re.compile(r"\b(?:if|whether|in\s+case|should|when(?:ever)?)\s+$", re.IGNORECASE)


def not_for_this_customer(sentence: str, said: str | None = None) -> bool:
    """Does the sentence report what its writer looked up for their own customer, speak to the
    writer rather than the customer, or (given what this customer `said`) tell them a feeling their
    words do not name?"""
    return bool(_LOOKED_UP.search(sentence) or _TO_THE_WRITER.search(sentence)
                or (said is not None and any(_tells(told, sentence) and not named.search(said)
                                             for told, named in _FEELINGS)))


def _tells(feeling: re.Pattern[str], sentence: str) -> bool:
    """Does the sentence say the customer has the feeling ("you're unsure"), not only in case they
    do ("If you are unsure, contact us")?"""
    return any(not _CONDITION.search(sentence[:m.start()]) for m in feeling.finditer(sentence))


# A sentence that opens by pointing back at the sentence before it ("This email address is checked
# daily.", "It may be listed under Contact Us."; not the "it" of "It would be my pleasure"), or at the
# people it named ("They will be happy to assist you."), and the words that name such people.
_BACK_REFERENCE = re.compile(r"\s*(?:These|Those|This|That|It)(?:'\w+)?\b"
                             r"(?!\s+would\s+be\s+(?:my|our)\s+pleasure)")
_THEY = re.compile(r"\s*(?:They|Them|Their)(?:'\w+)?\b")
# "To do so, please follow these steps:" after "... create a free account for your wife." went: the
# steps stay, introduced without pointing back ("Please follow these steps:").
_TO_DO_SO = re.compile(r"^(\s*)(?:In\s+order\s+to|To)\s+do\s+(?:so|this|that),\s+(\w)")
# "Alternatively, you can also reach out through the live chat" after "You can call {{Phone}}." went:
# the other way is the only one, "You can reach out through the live chat".
_ALTERNATIVELY = re.compile(r"^(\s*)(?:Alternatively|Additionally|If\s+you\s+prefer),\s+(\w)")
_ALSO = re.compile(r"\b(you\s+can|you\s+may|we)\s+also\b", re.IGNORECASE)
_PEOPLE = re.compile(r"\b(?:team|representatives?|agents?|staff|specialists?|experts?|advisors?|support"
                     r"|service|department|them)\b", re.IGNORECASE)


# "4. Click on that option and follow the instructions." after "3. Look for the option to switch to
# a {{Account Type}} account." went: the option it clicks is gone.
_THAT_THING = re.compile(r"\b(?:that|this|the\s+same)\s+(?:option|button|link|tab|section|page|field|menu"
                         r"|setting)s?\b", re.IGNORECASE)


def _points_back_at_nothing(sentence: str, before: str) -> bool:
    """Does the sentence point back at a sentence that went: at it, at a thing that only it named
    ("... Click on that option"), or at people that only it named ("... call us at {{Phone}}. They
    will be more than happy to assist you.")?"""
    return bool(_BACK_REFERENCE.match(sentence) or _THAT_THING.search(sentence)
                or (_THEY.match(sentence) and not _PEOPLE.search(before)))


# A bare yes ("Absolutely!", "Yes, we do!") answers the customer's question with the sentence after it:
# when that sentence goes ("We do offer shipping to {{Delivery Country}}."), the yes goes with it.
_YES_WORDS = r"(?:yes|absolutely|certainly|indeed|of\s+course|definitely|sure)"
_YES = re.compile(rf"\s*{_YES_WORDS}"
                  r"(?:,?\s+(?:we\s+(?:do|can|will|are)|it\s+is|you\s+can|that'?s\s+(?:right|correct)))?"
                  r"\s*[!.]\s*", re.IGNORECASE)


# A promise to give a way to reach the company ("I can definitely provide you with a phone number to
# contact our customer support team."), whose value went with its own sentence when [company] does not
# set it: the promise goes too.
_OFFERS_CONTACT = {kind: re.compile(r"\b(?:provide|give|share|send)\s+you\s+(?:with\s+)?(?:a|the|our)\s+"
                                    rf"(?:[\w-]+\s+){{0,3}}?(?:{words})\b", re.IGNORECASE)
                   for kind, words in (
                       ("phone", r"(?:tele)?phone\s+number|number\s+to\s+call|hotline|helpline"),
                       ("mail", r"e-?mail(?:\s+address)?"))}


def offers_unset_contact(sentence: str, unset: Iterable[str]) -> bool:
    """Does the sentence promise a phone number or e-mail address that is among the `unset`
    contacts (their [company] keys, `unset_contacts`)?"""
    return any(kind in key and pattern.search(sentence)
               for key in unset for kind, pattern in _OFFERS_CONTACT.items())


# ... and one that opens a sentence: "Sure, let me help you with that." (not "Sure enough")
_YES_OPENING = re.compile(rf"\s*{_YES_WORDS}\s*,\s*(?=[a-z])", re.IGNORECASE)


def without_unfilled(sentences: Sequence[str], said: str | None = None,
                     unset: Collection[str] = ()) -> list[str]:
    """The sentences that hold no placeholder, promise no contact that is `unset`, and are for this
    customer (`not_for_this_customer`, which reads what they `said`),
    and not the line that introduced one that went ("Here's the phone number:" when the number is
    not known), unless list items follow it. A list item goes whole: "1. Call {{Phone}}. They are
    available to help." leaves no stray sentence; so does a sentence that points back at one that
    went ("... call us at {{Phone}}. They will be more than happy to assist you."), and a bare yes
    whose answer went ("Absolutely! We ship to {{Delivery Country}}.")."""
    kept: list[tuple[str, bool]] = []  # (sentence, the sentence after it was left out)
    item_gone = False  # the list item this sentence belongs to lost its first sentence
    dropped_item = False  # the list item before this sentence went
    after_dropped = False  # the sentence before this one went
    for sentence in sentences:
        starts_item = bool(_LIST_ITEM.match(sentence))
        if (placeholders_in(sentence) or not_for_this_customer(sentence, said)
                or offers_unset_contact(sentence, unset)
                or (item_gone and not starts_item)
                or (after_dropped and _points_back_at_nothing(sentence, kept[-1][0] if kept else ""))):
            if kept and not after_dropped and _YES.fullmatch(kept[-1][0]):
                kept.pop()
            after_dropped = True
            if kept:
                # the paragraph break after it stays: "Glad to help! To upgrade to {{X}}, follow these
                # steps:\n\n1. Log in" reads "Glad to help!\n\n1. Log in", its list still a list
                trail = sentence[len(sentence.rstrip()):]
                before = kept[-1][0]
                if trail.count("\n") > before[len(before.rstrip()):].count("\n"):
                    before = before.rstrip() + trail
                kept[-1] = (before, True)
            item_gone = (starts_item or item_gone) and not sentence.endswith("\n")
            dropped_item = dropped_item or starts_item
            continue
        if after_dropped:
            sentence = _TO_DO_SO.sub(lambda m: m.group(1) + m.group(2).upper(), sentence, count=1)
            if _ALTERNATIVELY.match(sentence):
                sentence = _ALTERNATIVELY.sub(lambda m: m.group(1) + m.group(2).upper(), sentence, count=1)
                sentence = _ALSO.sub(r"\1", sentence, count=1)
        if starts_item and dropped_item and not (kept and _LIST_ITEM.match(kept[-1][0])):
            # the list's first step went: "1. Call {{Phone}}.\n2. Alternatively, visit ..."
            sentence = _AFTER_DROPPED.sub(lambda m: m.group(1) + m.group(2).upper(), sentence, count=1)
        kept.append((sentence, False))
        item_gone = dropped_item = after_dropped = False
    return [sentence for i, (sentence, lost_next) in enumerate(kept)
            if not (lost_next and sentence.rstrip().endswith(":")
                    and not any(_LIST_ITEM.match(later) for later, _ in kept[i + 1:]))]
