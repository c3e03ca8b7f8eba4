"""Filling {{Placeholders}} in historical answers from the [company] config.

Bitext answers say "log into our {{Website Name}}". `fill` puts in the company's
own value (key `website_name`) when the config sets one, otherwise a generic
phrase that still reads well ("log into our website"). `unpersonalise` first turns
the numbers a record's own customer gave back into placeholders, and
`numbered_values` reads the ones the current customer gives, so an answer speaks
of this customer's order, never another's. Amounts ("a refund of $299") and
times ("6 weeks ago") from the record's request are treated the same way; where
no generic words can stand for one (NO_GENERIC), the placeholder stays and the
composer leaves its sentence out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from knowledge import countries

_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_DETERMINER_BEFORE = re.compile(r"\b(?:the|a|an|our|your|my|their|this|that)\s+$", re.IGNORECASE)
_DETERMINER_START = re.compile(r"^(?:the|our|your)\s+")
_SENTENCE_START = re.compile(r"(?:[.!?]\s+|\n\s*(?:\d+\.\s+|[-*]\s+)?)$")

_WEBSITE = "our website"
_PHONE = "our customer support phone number"
_EMAIL = "our customer support email address"
_HOURS = "during our business hours"
_ORDER = "your order number"

# Generic phrases for the placeholders that appear most often in the Bitext answers
# (counted over demo/bitext/records.csv); anything else falls back to "the <name>".
GENERIC: dict[str, str] = {
    "website_name": _WEBSITE, "website": _WEBSITE, "website_url": _WEBSITE,
    "website_or_app": "our website or app", "website_app_name": "our website or app",
    "company_website": _WEBSITE, "service_website": _WEBSITE,
    "mobile_app": "our mobile app", "mobile_app_name": "our mobile app",
    "company_name": "our company",
    "customer_support_phone_number": _PHONE, "customer_service_phone_number": _PHONE,
    "support_phone_number": _PHONE, "customer_assistance_phone_number": _PHONE,
    "phone_number": _PHONE, "complaint_phone_number": _PHONE, "phone": _PHONE,
    "customer_support_email": _EMAIL, "customer_support_email_address": _EMAIL,
    "customer_service_email": _EMAIL, "customer_service_email_address": _EMAIL,
    "support_email": _EMAIL, "support_email_address": _EMAIL, "email_support": _EMAIL,
    "email_address": _EMAIL, "feedback_email_address": _EMAIL, "email": _EMAIL,
    "customer_support_email_or_phone_number": "our customer support email or phone number",
    "customer_support_contact_information": "our customer support contact details",
    "live_chat": "live chat", "chat": "live chat",
    "customer_support": "our customer support team", "customer_service": "our customer service team",
    "support": "our support team",
    "customer_support_availability": _HOURS, "customer_support_hours": _HOURS,
    "customer_service_hours": _HOURS, "customer_assistance_hours": _HOURS,
    "support_team_availability": _HOURS, "working_hours": _HOURS, "operating_hours": _HOURS,
    "business_hours": _HOURS,
    "order_number": _ORDER, "order_id": _ORDER, "purchase_id": _ORDER, "purchase_number": _ORDER,
    "invoice_number": "your invoice number", "bill_number": "your invoice number",
    "tracking_number": "your tracking number",
    "purchase_date": "your purchase date", "payment_method": "your payment method",
    "name_field": "your name", "number_of_days": "the number of days stated in our policy",
    "person_name": "the person you mentioned",
    "reference_number": "your reference number",
}
# Placeholders no generic phrase can stand for ("in your case, the period is {{Period}}").
# A place is another: "we do offer shipping to {{Delivery Country}}" read "... to your country" promises
# what the history never said of this customer's country; so is a share of a refund ("{{Percentage}}
# refund will be issued" read "The percentage refund will be issued").
NO_GENERIC = frozenset({"period", "refund_amount", "amount", "account_type", "someone", "delivery_city",
                        "delivery_country", "percentage", "refund_percentage", "percentage_or_full"})
_SERIES = re.compile(r"[a-z]_\d+$")  # "review_website_1"; not a bare number ("113542617735902")
# Ways to reach the company that only its own value makes usable: "call our customer support phone
# number" tells a customer nothing. An answer composed for a customer (`generic_contacts=False`)
# leaves out the sentence that points to one the config does not set; a reference text that a
# model or an agent reads keeps the generic words.
CONTACTS = frozenset(k for k, v in GENERIC.items() if v in (_PHONE, _EMAIL)) | {
    "customer_support_email_or_phone_number", "customer_support_contact_information"}
# Another history names its own: "{{Complaint Email Address}}", "{{Billing Phone}}". Read "via email at
# the complaint email address", such a name tells a customer nothing either.
_CONTACT_NAME = re.compile(r"(?:^|_)(?:(?:tele)?phone(?:_number)?|e_?mail(?:_address)?|hotline|helpline)$")


def is_contact(base: str) -> bool:
    """Is this placeholder (its key, "complaint_email_address") a way to reach the company that
    only its own value makes usable?"""
    return base in CONTACTS or bool(_CONTACT_NAME.search(base))


# Such generic words already in a record: "our (the) customer support (phone) number", "our customer
# service email address", "the provided (support) phone number" (provided where? nowhere), "our
# toll-free helpline".
_LITERAL_CONTACT = re.compile(r"\b(?:(?:our|the)\s+customer\s+(?:support|service)\s+"
                              r"|(?:our|the)\s+provided\s+(?:customer\s+(?:support|service)\s+|support\s+)?)"
                              r"(?:(?:phone\s+)?(number)|(e-?mail)(?:\s+address)?)\b"
                              r"|\bour\s+toll[- ]free\s+(?:help\s?line|(number)|line)\b", re.IGNORECASE)
# One of two ways to reach the company: "at {{Phone}} or through {{Live Chat}}", "through {{Live
# Chat}} or by calling {{Phone}}". When the config does not set it, the other way is the answer.
_GERUND = r"(?:calling|phoning|emailing|dialing|contacting)\s+(?:us\s+at\s+)?"
_VALUE = r"(?:(?:our|the)\s+)?\{\{\s*([^}]*?)\s*\}\}"
# The first way needs words of its own ("at", "by calling") to be cut out cleanly: "Email {{Email}}
# or use the chat" has none, and its sentence goes whole.
# The way's own name before it goes too: "by phone at {{Phone}} or through the chat" reads "through
# the chat", not "by phone through the chat".
_HOTLINE = r"(?:our|the)\s+(?:customer\s+(?:service|support)\s+|support\s+)?(?:hotline|helpline|phone\s+line)"
_BY_WAY = (r"(?:\s+(?:by|via|over)\s+(?:the\s+)?(?:(?:tele)?phone|e-?mail)"
           rf"|\s+(?:through|via|on|using)\s+{_HOTLINE})?")
_FIRST_WAY = re.compile(rf"{_BY_WAY}\s+(?:(at|on|via|by|through|using|to)\s+(?:{_GERUND})?|{_GERUND}){_VALUE}"
                        r"\s*,?\s+or\s+(?=(\w+))", re.IGNORECASE)
_OTHER_WAY = re.compile(rf",?\s+or\s+(?:(at|on|via|by|through|using|to)\s+)?"
                        rf"(?:{_GERUND}|(?:call|contact)\s+)?(?:{_HOTLINE}\s+at\s+)?{_VALUE}", re.IGNORECASE)
# The same way last, in words of its own: "through our live chat on the website, or you can reach them
# directly at {{Phone}}.", "... or can be contacted at {{Phone}}.", "... or by calling our dedicated
# {{Phone}}." Only a clause of plain words that ends its sentence, in a sentence that names another way
# before it: what stays is that way ("Get in touch with our team through our live chat on the website.").
_LAST_WAY = re.compile(rf",?\s+or\s+(?:[\w'/-]+,?\s+){{0,8}}?{_VALUE}(?=\s*[.!](?:\s|$))", re.IGNORECASE)
_A_WAY = re.compile(r"\b(?:(?:live\s+)?chat|website|web\s+site|(?:contact|online|web)\s+form|social\s+media|"
                    r"\{\{\s*Live\s+Chat[^}]*\}\})", re.IGNORECASE)
# The phone named as a way without its number ("either by phone or through our online chat", "via
# phone or live chat", "through our customer support hotline or by initiating a live chat"): with no
# number set, it sends the customer to a line nobody gave them. As the first of two ways it goes, and
# the other stays; as the last (", or by phone."), too, unless it ends a longer list.
_PHONE_WAY = (r"(?:(?:the|our|a|an)\s+)?(?:(?:customer\s+)?(?:support|service)\s+)?(?:dedicated\s+)?"
              r"(?:(?:tele)?phone(?:\s+(?:support|line|call))?(?!\s+(?:number|no)\b)"
              r"|(?:hotline|helpline)(?:\s+number)?)")
_PHONE_FIRST = re.compile(rf"(,)?\s+(?:either\s+)?(?:(by|via|over|through|using|on)\s+)?{_PHONE_WAY}"
                          r"\s*,?\s+or\s+(?=(\w+))", re.IGNORECASE)
_PHONE_LAST = re.compile(rf",?\s+or\s+(?:(?:by|via|over|through|using|on)\s+)?{_PHONE_WAY}(?=\s*[.!)])",
                         re.IGNORECASE)
_PREPOSITION = frozenset(["at", "on", "via", "by", "through", "using", "to", "with", "in", "from"])
# Words that start a way named as a thing ("or the live chat", "or email"), which the first way's
# preposition then governs; any other word starts a clause of its own ("or reach out through ...").
_THING = frozenset(["the", "our", "a", "an", "your", "live", "email", "e-mail", "chat", "online", "social",
                    "web", "website", "text", "sms", "whatsapp", "messenger"])


def _names_a_way_before(m: re.Match[str]) -> bool:
    """Does the sentence before the match name another way to reach the company (live chat, a form),
    and not as one of a list the match ends ("via live chat, email, or phone at {{Phone}}": cut, it
    would read "via live chat, email.")?"""
    before = m.string[:m.start()]
    start = max(before.rfind(". "), before.rfind("! "), before.rfind("? "), before.rfind("\n"))
    sentence = before[start + 1:]
    listed = m.group(0).startswith(",") and _LIST_BEFORE.search(before)
    # "either through our live chat" would be left waiting for its "or"
    return bool(_A_WAY.search(sentence)) and not listed and not re.search(r"\beither\b", sentence, re.I)


_LIST_BEFORE = re.compile(r",\s*(?:[\w'-]+\s+){0,2}[\w'-]+$")


def _other_way(m: re.Match[str], group: int = 1) -> str:
    """What stays of "through {{Phone}} or the {{Live Chat}}": "through the {{Live Chat}}" (the
    preposition stays when the other way is a thing without one of its own); of "using {{Phone}}
    or reach out through the chat": "or reach out through the chat". `group`: the preposition's
    group; the next word's is the last."""
    preposition, following = m.group(group), m.group(m.re.groups).lower()
    if following in _PREPOSITION:
        return " "
    if following in _THING:
        return f" {preposition} " if preposition else " "
    return " or "


# The [company] key that fills a placeholder when its own key is not set: `name = "Acme"` also fills
# {{Company Name}}, and a history's many names for one thing ({{Customer Service Phone Number}},
# {{Support Phone Number}}, {{Phone}}; {{Customer Support Email Address}}, {{Email}}) are filled by
# the one key a support lead sets (`customer_support_phone_number`, `customer_support_email`).
CANONICAL = {_PHONE: "customer_support_phone_number", _EMAIL: "customer_support_email",
             _HOURS: "customer_support_hours", _WEBSITE: "website_name"}
ALIASES: dict[str, str] = {"company_name": "name"} | {
    k: CANONICAL[v] for k, v in GENERIC.items() if v in CANONICAL and k != CANONICAL[v]}


def key(name: str) -> str:
    """The [company] config key of a placeholder: "Website Name" -> "website_name"."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def unset_contacts(resolutions: Sequence[str], company: Mapping[str, str]) -> dict[str, int]:
    """How many of these resolutions send the customer to a phone number or e-mail address that
    `company` does not set, by the [company] key that would fill it: their composed answers leave
    those sentences out ("call our customer support phone number" tells a customer nothing)."""
    counts: dict[str, int] = {}
    for text in resolutions:
        # read as fill reads it: "our customer support phone number", "[Customer Service Email]"
        text = _braced(_literal_contacts(text), company)
        named = {ALIASES.get(base, base) for base in (key(name).removesuffix("_anonymized")
                                                      for name in placeholders(text))
                 if is_contact(base) and _company_value(base, company) is None}
        for k in named:
            if _company_value(k, company) is None:
                counts[k] = counts.get(k, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _literal_contacts(text: str) -> str:
    """A record's own generic words for a contact ("our customer support phone number") as the
    placeholder they stand for."""
    return _LITERAL_CONTACT.sub(lambda m: "{{Customer Support Email}}" if m.group(2)
                                else "{{Customer Support Phone Number}}", text)


def _braced(text: str, company: Mapping[str, str]) -> str:
    """A known placeholder some answers write in square brackets ("[Customer Support Phone Number]")
    in braces."""
    return _BRACKETED.sub(lambda m: f"{{{{{m.group(1)}}}}}" if _known(m.group(1), company) else m.group(0),
                          text)


def placeholders(text: str) -> list[str]:
    """The distinct placeholder names in text, in order of first appearance: ["Website Name", ...]."""
    return list(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(text)))


# "ORD-55102", "771-2290", "48213", "4471-B", and "40,981" (speech to text writes numbers with commas)
_ID = r"(\d{1,3}(?:,\d{3})+\b|(?:[A-Z]{0,4}[-#]?\d[\w-]{2,}\d|\d{3,})(?:-[A-Za-z]{1,3}\b)?)"
# What a customer may name by number, the placeholder that stands for it, and the keys it fills.
_AMOUNT_IN_WORDS = r"\d[\d,]*(?:\.\d\d)?\s?(?:dollars|euros|pounds|usd|eur|gbp)\b"  # "299 dollars"
_NUMBERED: dict[str, tuple[re.Pattern[str], tuple[str, ...]]] = {
    # "order 48213", "purchase no. 48213", "#48213", and an id that is its own keyword: "ORD-55102"
    "Order Number": (re.compile(rf"\b(?:order|purchase|ord(?![-#]?\d))\s*(?:number|no\.?|num|nr|id|ref)?\s*"
                                rf"(?:is\s+|was\s+)?[:#]?\s*{_ID}|\b(ord[-#]?\d[\w-]*\d)\b"
                                rf"|(?<![\w#])#\s?(\d{{3,}})\b", re.IGNORECASE),
                     ("order_number", "order_id", "purchase_id", "purchase_number")),
    "Invoice Number": (re.compile(rf"\b(?:invoice|bill)\s*(?:number|no\.?|num|nr|id)?\s*[:#]?\s*{_ID}",
                                  re.IGNORECASE), ("invoice_number", "bill_number")),
    "Tracking Number": (re.compile(rf"\btracking\s*(?:number|no\.?|code|id)?\s*[:#]?\s*{_ID}", re.IGNORECASE),
                        ("tracking_number",)),
    # "$299", "160 dollars": a refund of another customer's amount must not be promised to this one
    "Refund Amount": (re.compile(rf"([$€£]\s?\d[\d,]*(?:\.\d\d)?|\b{_AMOUNT_IN_WORDS})", re.IGNORECASE),
                      ("refund_amount", "amount")),
    # "invoices from 6 weeks ago", "the invoice from last year"
    "Period": (re.compile(r"\b(\d{1,3}\s+(?:days?|weeks?|months?|years?)\s+ago|last\s+(?:year|month|week)"
                          r"|yesterday)\b", re.IGNORECASE), ("period",)),
}
_ORDER_KEYS = _NUMBERED["Order Number"][1]
_NUMBER_KEYS = (*_ORDER_KEYS, *_NUMBERED["Invoice Number"][1])  # an order's or an invoice's number


def _naming(nouns: str) -> re.Pattern[str]:
    """"the order number {{X}}", "your bill with the number {{X}}": a noun that names the placeholder."""
    return re.compile(rf"\b(?:(the|your|this|my)\s+)?({nouns})\s+"
                      r"(?:with\s+(?:the\s+)?(?:number|id)\s+|numbered\s+|number\s+|no\.?\s+|#\s*|id\s+)?"
                      r"(\{\{\s*[^}]*?\s*\}\})", re.IGNORECASE)


_TYPING = re.compile(r"\b(?:enter|type|input|paste|key\s+in|fill\s+in)\s+$", re.IGNORECASE)
_DETERMINED = re.compile(r"\b(?:the|your|this|my|a|an)\s+"
                         r"(?:(?!(?:to|with|in|of|from|for|on|by)\s)[\w-]+\s+){0,2}$", re.IGNORECASE)


def _noun_only(m: re.Match[str]) -> str:
    """The naming noun without its number: "locating order number {{X}}" reads "locating your order",
    "the specific invoice with the number {{X}}" reads "the specific invoice"."""
    determiner, noun = m.group(1), m.group(2)
    if _TYPING.search(m.string[:m.start()]):  # "Enter the order number {{X}} in the field": "Enter your
        return f"your {noun.lower()} number"   # order number in the field", not "Enter your order in …"
    if determiner:  # "the order {{X}}" with no number is this customer's: "your order"
        if determiner.lower() == "the":  # "The invoice {{X}} is ready" reads "Your invoice is ready"
            determiner = "Your" if determiner[0].isupper() else "your"
        return f"{determiner} {noun}"
    return noun if _DETERMINED.search(m.string[:m.start()]) else f"your {noun}"


# A number the answer has no value for: "locating order number {{Order Number}}" reads "locating
# your order", "invoice {{Invoice Number}}" reads "your invoice", and "the purchase with the id
# {{Purchase ID}}" reads "the purchase". A replacement of None keeps the naming noun (_noun_only).
_NAME_KEYS = ("name_field", "name", "customer_name", "client_name", "first_name", "client_first_name",
              "customer_first_name")
_UNNAMED: list[tuple[re.Pattern[str], str | None, tuple[str, ...]]] = [
    # what a record's own order was labeled: "Locate the order labeled {{Order Number}}", "the invoice
    # labeled with the number {{X}}" and "the order bearing the number {{X}}" read "Locate the order",
    # "the invoice" and "the order" (a tab or a button labeled with it keeps the words: below)
    (re.compile(r"(?:(?<=\border)|(?<=\bpurchase)|(?<=\binvoice)|(?<=\bbill))\s+(?:labell?ed|marked|titled|bearing)\s+"
                r"(?:(?:with\s+)?(?:the\s+)?(?:reference\s+|order\s+)?(?:number|id|ID)\s+)?"
                r"([\"']?)#?(\{\{\s*[^}]*?\s*\}\})\1", re.IGNORECASE), "", _NUMBER_KEYS),
    # "the bill number, which is {{X}}, into the field" reads "the bill number into the field"
    (re.compile(r",?\s+which\s+is\s+#?(\{\{\s*[^}]*?\s*\}\}),?", re.IGNORECASE), "", _NUMBER_KEYS),
    # either noun with either number: "the invoice for order {{Invoice Number}}" reads "the invoice for
    # your order", not "for order your invoice number"
    (_naming("order|purchase|invoice|bill"), None, _NUMBER_KEYS),
    # "Search for the specific invoice using the number {{X}}" reads "... using its number"
    (re.compile(r"(?:(?<=\busing)|(?<=\bby)|(?<=\bvia)|(?<=\bquoting))\s+the\s+(?:reference\s+)?number\s+#?"
                r"(\{\{\s*[^}]*?\s*\}\})", re.IGNORECASE), " its number", _NUMBER_KEYS),
    (re.compile(r"\s+(?:with\s+(?:the\s+)?(?:reference\s+|order\s+)?(?:number|id)|number|#)\s*"
                r"(\{\{\s*[^}]*?\s*\}\})", re.IGNORECASE), "", _NUMBER_KEYS),
    # a number quoted to be typed: 'Enter the invoice number "#{{Invoice Number}}" in the search field'
    # reads "Enter the invoice number in the search field", not "… number "#your invoice number" in …"
    (re.compile(r"(?<=\bnumber),?\s*([\"'])#?(\{\{\s*[^}]*?\s*\}\}),?\1,?", re.IGNORECASE), "", _NUMBER_KEYS),
    # "a refund for an amount of {{Refund Amount}}" reads "a refund", "after paying {{Refund Amount}}
    # for a product" reads "after paying for a product"
    (re.compile(r"(?:\s+(?:of|for|in)(?:\s+(?:an?|the)\s+(?:specific\s+|total\s+|full\s+)?amount\s+of)?"
                r"|(?<=\byour)|(?<=\bthe)|(?<=\ba)|(?<=\bpaying)|(?<=\bpaid))\s+(\{\{\s*[^}]*?\s*\}\})",
                re.IGNORECASE), "", ("refund_amount", "amount")),
    # "invoices from {{Period}}" and "a purchase made {{Period}}" read "invoices" and "a purchase";
    # elsewhere the sentence goes (NO_GENERIC), as does "find the ones from {{Period}}" ("find the
    # ones" names nothing)
    (re.compile(r"(?<!\bones)(?<!\bthose)\s+(?:from|made)\s+(\{\{\s*[^}]*?\s*\}\})", re.IGNORECASE), "",
     ("period",)),
    # The customer's name said to them: "No worries, {{Name Field}}, I'm here" reads "No worries, I'm
    # here", not "No worries, your name, I'm here"
    (re.compile(r",\s*(\{\{\s*[^}]*?\s*\}\})(?=\s*[,.!?])"), "", _NAME_KEYS),
]


_LABEL = re.compile(r'(?:"|\b((?:labeled|labelled|titled|named|called)\s+))\{\{\s*([^}]*?)\s*\}\}"?'
                    r'(?:(\s+or\s+)"?\{\{\s*([^}]*?)\s*\}\}"?)?', re.IGNORECASE)
# Values with words of their own ("our website", "your order number"), never read as a label
_NOT_LABELS = frozenset(GENERIC) | frozenset(k for _, keys in _NUMBERED.values() for k in keys)
_INFINITIVE = re.compile(r"\b((?:option|button|link|ability|way)s?\s+to\s+)\{\{\s*([^}]*?)\s*\}\}"
                         r"(?:(\s+or\s+)\{\{\s*([^}]*?)\s*\}\})?", re.IGNORECASE)

BRACED_ID = re.compile(r"\{\{\s*([A-Za-z]{0,4}-?\d[\w-]*)\s*\}\}")
_ID_TOKEN = re.compile(r"(?<![\w-])[A-Za-z]{0,4}-?\d{4,}[\w-]*(?![\w-])")
_NAMED_NUMBER = re.compile(r"\b((?:order|purchase|invoice|bill|reference|number)\s+"
                           r"(?:number\s+|no\.?\s*)?[:#]?\s*)\d{6,}(?![\w-])", re.IGNORECASE)
_THIS_CASE_AMOUNT = re.compile(r"\s*\((?:in\s+this\s+case|e\.g\.|for\s+example)[,:]?\s*[$€£]\s?\d[\d,.]*\)",
                               re.IGNORECASE)
# An amount written onto the word before it, as Bitext has it: "a compensation of350 dollars".
_GLUED_AMOUNT = re.compile(_AMOUNT_IN_WORDS, re.IGNORECASE)
# Twelve or more letters and digits, both mixed in ("7C23D0EF3E8A2D89…", "A1B2C3D4E5F6"): no word.
_CODE_ID = re.compile(r"(?<![\w-])(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z\d]{12,}(?![\w-])")
# The kind of account a record's own customer named is theirs, not the next customer's. A kind is
# a word between a determiner (or "new") and "account": "a platinum account", "my free account",
# "new gold account"; "create account" and "delete my account" name none, nor do the words below.
_ACCOUNT_KIND = re.compile(r"\b(?:an?|the|my|your|our|this|that|new)\s+(?:new\s+)?([A-Za-z][\w-]*)"
                           r"(?=\s+accounts?\b)", re.IGNORECASE)
_BEFORE_ACCOUNT = re.compile(r"\b([A-Za-z][\w-]*)(?=\s+accounts?\b)")  # any word: "switch to premium account"
_NOT_A_KIND = frozenset(re.findall(r"\w+", """
a an the my your our their his her its this that these those any another other same one each every no
which whose what new old own existing current first second online user customer
"""))
# "your {{Account Type}} account" is this customer's account, whatever its kind: "your account".
# Elsewhere the kind is what the sentence is about ("Gold accounts offer ..."): no generic
# words keep it true, so that sentence is left out (NO_GENERIC).
_YOUR_KIND = re.compile(r"\b(your|my)\s+\{\{\s*Account Type\s*\}\}\s+(?=accounts?\b)", re.IGNORECASE)
# Nor does one being created or switched to: "help you create a {{Account Type}} account" reads
# "help you create an account", "switch to the {{Account Type}} account" reads "switch to another
# account type", whichever kind this customer wants (a free plan to leave Premium for, too).
_NEW_KIND = re.compile(r"\b((?:create|creating|created|open|opening|opened|register|registering)\s+)"
                       r"(an?\s+(?:new\s+)?)\{\{\s*Account Type\s*\}\}\s+(?=accounts?\b)", re.IGNORECASE)
_TO_KIND = re.compile(r"\b((?:switch|switching|change|changing|upgrade|upgrading|downgrade|downgrading|move"
                      r"|moving)\s+to)\s+(?:the|an?)\s+\{\{\s*Account Type\s*\}\}\s+account\b", re.IGNORECASE)


# A month (not "May": "you may"), a weekday or a year.
_WHEN = re.compile(r"\b(January|February|March|April|June|July|August|September|October|November|December"
                   r"|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|(?:19|20)\d\d)\b",
                   re.IGNORECASE)


def without_thousands(text: str) -> str:
    """Numbers without thousands separators: speech to text writes a spoken order number as
    "order 40,981"; the customer means 40981."""
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)


def numbered_values(texts: Sequence[str]) -> dict[str, str]:
    """Placeholder values a customer gave, the latest mention winning: {"order_number": "48213", …}."""
    values: dict[str, str] = {}
    amounts: set[str] = set()
    for text in texts:
        for name, (pattern, keys) in _NUMBERED.items():
            for m in pattern.finditer(text):
                value = next(g for g in m.groups() if g)
                if name != "Refund Amount":  # an amount keeps its own form: "$1,299.00"
                    value = without_thousands(value)
                values.update(dict.fromkeys(keys, value))
                if name == "Refund Amount":
                    amounts.add(_digits(value))
    if len(amounts) > 1:  # "I paid $50 and got $20 back": which one is the refund is not ours to guess
        for k in _NUMBERED["Refund Amount"][1]:
            values.pop(k, None)
    return values


def _digits(text: str) -> str:
    return "".join(re.findall(r"\d", text.split(".")[0]))


def unpersonalise(resolution: str, request: str, said: str = "") -> str:
    """The resolution with the original customer's own numbers put back as placeholders.

    A historical answer repeats the number its customer gave ("cancel order 113542617735902");
    the next customer must read their own number, or "your order", never that one. The same
    for the kind of account they named ("Creating a new platinum account is a great choice!"),
    unless this customer, in `said`, named it too."""
    # An id the dataset wrote in braces ("{{370795561790}}") is an id like any other.
    resolution = BRACED_ID.sub(r"\1", resolution)
    kind = ("Order Number" if re.search(r"\b(?:order|purchase)", request, re.IGNORECASE)
            else "Invoice Number" if re.search(r"\b(?:invoice|bill)", request, re.IGNORECASE)
            else "Reference Number")
    # A code of letters and digits is always someone's: the dataset's anonymiser put a hash where one
    # customer's order number was ("cancel order 3707955617" answered "the order with the number
    # 7C23D0EF3E8A…"), which no rule below can tie to the request.
    resolution = _CODE_ID.sub(f"{{{{{kind}}}}}", resolution)
    # A long number an answer calls an order's, a purchase's or just "the number" is one customer's,
    # even when the dataset's request gave another ("cancelling purchase 0000458" answered "the
    # order number 732201349959").
    resolution = _NAMED_NUMBER.sub(lambda m: m.group(1) + f"{{{{{kind}}}}}", resolution)
    # "the amount you are requesting (in this case, $1200)": that case was the record's customer's.
    resolution = _THIS_CASE_AMOUNT.sub("", resolution)
    for name, (pattern, _) in _NUMBERED.items():
        if name == "Refund Amount":
            # The record's customer named an amount: every amount of the answer is theirs ("$299" in
            # the request, "299 dollars" in the answer; Bitext even cut some requests short:
            # "rebating $1" answered "a rebate of $160").
            if pattern.search(request) or _GLUED_AMOUNT.search(request):
                resolution = pattern.sub("{{Refund Amount}}", resolution)
            continue
        for m in pattern.finditer(request):
            value = next(g for g in m.groups() if g)
            resolution = re.sub(rf"(?<![\w-]){re.escape(value)}(?![\w-])", f"{{{{{name}}}}}", resolution)
    # Any other id-like token of the request (four digits or more) that the answer repeats.
    for token in set(_ID_TOKEN.findall(request)):
        resolution = re.sub(rf"#?(?<![\w-]){re.escape(token)}(?![\w-])", f"{{{{{kind}}}}}", resolution)
    # The month, day or year the record's customer asked about ("invoices from October") is theirs.
    for when in {m.group(1).lower() for m in _WHEN.finditer(request)}:
        if not re.search(rf"\b{when}\b", said, re.IGNORECASE):
            resolution = re.sub(rf"\b{when}\b", "{{Period}}", resolution, flags=re.IGNORECASE)
    # So is how long ago ("an invoice from 5 purchases ago" answered "from a purchase made five
    # transactions ago"), unless this customer said the same.
    if said and _AGO.search(request):
        ours_ago = {_ago(m) for m in _AGO.finditer(said)}
        resolution = _AGO.sub(lambda m: m.group(0) if _ago(m) in ours_ago else "{{Period}}", resolution)
    # The person the record's customer named ("create a free account for my wife") is theirs: "Ask your
    # wife to check her email" is not for a customer who asks for their flatmate, or for themselves.
    ours = {m.group(1).lower() for m in _PERSON.finditer(said)}
    for person in {m.group(1).lower() for m in _PERSON.finditer(request)} - ours:
        resolution = re.sub(rf"\b{person}(?='?s\b|\b)", "{{Someone}}", resolution, flags=re.IGNORECASE)
    # The name the importer knew (Bitext's person_name: "my invoice from Mr. Smith") reads "the person
    # you mentioned", true only of a customer who mentioned someone ("the delivery man didn't leave an
    # invoice" mentioned no one whose invoice it is): otherwise its sentences go. (These two rules read
    # a customer's words: the record's text for no customer in particular, `Hit.text`, which a model
    # reads and an answer is checked against, keeps both.)
    if said and not (_PERSON.search(said) or _SOMEONE.search(said)):
        resolution = _PERSON_NAME.sub("{{Someone}}", resolution)
    resolution = _place(resolution, request, said)
    theirs = {w.lower() for w in _BEFORE_ACCOUNT.findall(said)} - _NOT_A_KIND  # what this customer named
    for word in {w.lower() for w in _ACCOUNT_KIND.findall(request)} - _NOT_A_KIND - theirs:
        resolution = re.sub(rf"\b{re.escape(word)}(?=\s+accounts?\b)", "{{Account Type}}", resolution,
                            flags=re.IGNORECASE)
    # An importer that knew the kind (Bitext's account_type) stored {{Account Type}} already: the
    # kind is this customer's too when both named it right before "account" ("switch to premium
    # account" and "switching to premium account").
    same = [w for w in _BEFORE_ACCOUNT.findall(request) if w.lower() in theirs]
    if same:
        resolution = re.sub(r"\{\{\s*Account Type\s*\}\}", same[0], resolution)
    return resolution


_NUMBER_WORDS = {"a": "1", "an": "1"} | {w: str(i) for i, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve"))}
_AGO = re.compile(r"\b(a\s+few|a\s+couple\s+of|several|\d+|" + "|".join(_NUMBER_WORDS) + r")\s+"
                  r"(purchase|transaction|order|invoice|bill|payment|day|week|month|year)s?\s+ago\b",
                  re.IGNORECASE)
_PURCHASE = frozenset({"purchase", "transaction", "order", "invoice", "bill", "payment"})


def _ago(m: re.Match[str]) -> tuple[str, str]:
    """How long ago, read the same however written: ("5", "purchase") for "five transactions ago"."""
    count, unit = " ".join(m.group(1).lower().split()), m.group(2).lower()
    return _NUMBER_WORDS.get(count, count), "purchase" if unit in _PURCHASE else unit


_PLACE = re.compile(r"\{\{\s*Delivery\s+(?:City|Country)\s*\}\}", re.IGNORECASE)
# A name written with capitals, not where a sentence starts: "Valencia", "New York", "Canada".
_PROPER = re.compile(r"(?<![.!?]\s)(?<!^)(?<![.!?])\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+)*)\b")


def _place(resolution: str, request: str, said: str) -> str:
    """The place the record's customer asked about is theirs: "We do offer shipping to Canada" is not
    for a customer who asks about Norway, nor is "your Canadian address". A country is found by its
    name or adjective (knowledge.countries); an importer that knew the place (Bitext's delivery_city
    and delivery_country) stored a {{Delivery City}} or {{Delivery Country}} placeholder instead. The
    place comes back only when this customer named it too; otherwise its sentences go (NO_GENERIC)."""
    ours = set(countries.named(said))
    for i in countries.named(request):
        if i not in ours:
            resolution = countries.replace(resolution, i, "{{Delivery Country}}")
    if _PLACE.search(resolution):
        named = {m.group(1) for m in _PROPER.finditer(request)
                 if re.search(rf"(?<!\w){re.escape(m.group(1))}(?!\w)", said, re.IGNORECASE)}
        if len(named) == 1:
            resolution = _PLACE.sub(named.pop(), resolution)
    return resolution


# People a customer may ask for ("for my wife", "my daughter's account"), one word each.
_PERSON = re.compile(r"\b(wife|husband|spouse|partner|fianc[eé]e?|boyfriend|girlfriend|mother|mum|mom|father"
                     r"|dad|son|daughter|kid|child|children|brother|sister|grand(?:mother|father|ma|pa|son|daughter)"
                     r"|aunt|uncle|niece|nephew|cousin|friend|flatmate|roommate|colleague|boss)(?:'?s)?\b",
                     re.IGNORECASE)
# Other ways a customer names someone: a title before a name, or a role.
_SOMEONE = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+[A-Z]|\b(?:someone|somebody|person|manager|accountant"
                      r"|client|employee|supplier|vendor|seller|merchant)\b", re.IGNORECASE)
_PERSON_NAME = re.compile(r"\{\{\s*Person\s+Name\s*\}\}", re.IGNORECASE)
_ANY_KIND = re.compile(r"(?:\b(an?)\s+)?\{\{\s*Account Type\s*\}\}\s+(?=accounts?\b)", re.IGNORECASE)


def without_account_kind(text: str) -> str:
    """A reference text (what a model or an agent reads, not the customer) with the kind of
    account nobody here named left out: "switch to the {{Account Type}} account" reads "switch to
    the account", "a {{Account Type}} account" reads "an account"."""
    text = _ANY_KIND.sub(lambda m: f"{m.group(1)[0]}n " if m.group(1) else "", text)
    return re.sub(r"(^|[.!?]\s+|\n\s*)(accounts?\b)", lambda m: m.group(1) + m.group(2).capitalize(), text)


def resolution_for(resolution: str, request: str, values: Mapping[str, str], said: str = "", *,
                   generic_contacts: bool = True) -> str:
    """A record's resolution as a customer may read it: its own customer's numbers put back as
    placeholders, then every placeholder filled from `values` ([company] and what this customer
    said) or with a generic phrase. `said`: this customer's own words."""
    return fill(unpersonalise(resolution, request, said), values, generic_contacts=generic_contacts)


def fill(text: str, company: Mapping[str, str], *, generic_contacts: bool = True) -> str:
    """Replace every {{Placeholder}} by the company's value, or by a readable generic phrase.

    `company` may also hold values the customer gave (an order number): the caller merges them.
    `generic_contacts=False`: a phone number or e-mail address (`is_contact`) the company has not set
    stays a placeholder, like those of NO_GENERIC, so the composer leaves its sentence out."""
    def kept(name: str) -> bool:
        # In an answer for a customer, one of a numbered series ("{{Review Website 1}}, {{Review Website
        # 2}}") has no generic words either: "the review website 1" names nothing.
        base = key(name).removesuffix("_anonymized")
        numbered = not generic_contacts and bool(_SERIES.search(base))
        return ((base in NO_GENERIC or numbered or (not generic_contacts and is_contact(base)))
                and _company_value(name, company) is None)

    # Some answers write a known placeholder in square brackets: "[Customer Support Phone Number]".
    text = _braced(text, company)
    if not generic_contacts:
        # A record that already reads "our customer support phone number" is read as the placeholder;
        # of "call {{Phone}} or use {{Live Chat}}", the other way stays true alone.
        text = _literal_contacts(text)
        text = _FIRST_WAY.sub(lambda m: _other_way(m) if kept(m.group(2)) else m.group(0), text)
        text = _OTHER_WAY.sub(lambda m: "" if kept(m.group(2)) else m.group(0), text)
        text = _LAST_WAY.sub(lambda m: "" if kept(m.group(1)) and _names_a_way_before(m) else m.group(0),
                             text)
        if kept("Customer Support Phone Number"):
            # "via email, phone, or live chat" reads "via email or live chat"
            text = _PHONE_FIRST.sub(lambda m: " or " if m.group(1) else _other_way(m, 2), text)
            text = _PHONE_LAST.sub(lambda m: m.group(0) if _LIST_BEFORE.search(m.string[:m.start()])
                                   else "", text)

    def unknown(m: re.Match[str], keys: tuple[str, ...]) -> bool:
        name = _PLACEHOLDER.fullmatch(m.group(m.lastindex or 0))
        base = key(name.group(1)).removesuffix("_anonymized") if name else ""
        return base in keys and _company_value(name.group(1), company) is None  # type: ignore[union-attr]

    # "visit our website at {{Website URL}}" with no URL reads "visit our website", not "… at our website"
    text = _WEBSITE_AT.sub(lambda m: m.group(0) if _company_value(m.group(2), company) else m.group(1), text)
    text = _unset_hours_and_days(text, company)
    for pattern, generic, keys in _UNNAMED:
        def named(m: re.Match[str], generic: str | None = generic, keys: tuple[str, ...] = keys) -> str:
            if not unknown(m, keys):
                return m.group(0)
            return _noun_only(m) if generic is None else generic
        text = pattern.sub(named, text)

    # A button or section the record names: '"{{Edit}}" or "{{Change}}"', "labeled {{Cancel Order}}"
    # read '"Edit" or "Change"', 'labeled "Cancel Order"', not '"the edit"', "labeled the cancel order"
    def label(m: re.Match[str]) -> str:
        names = [name for name in (m.group(2), m.group(4)) if name]
        if any(kept(name) or _company_value(name, company) or key(name).removesuffix("_anonymized")
               in _NOT_LABELS for name in names):  # "labeled {{Invoice Number}}" is no label
            return m.group(0)
        return (m.group(1) or "") + (m.group(3) or "").join(f'"{name}"' for name in names)
    text = _LABEL.sub(label, text)

    # "the option to {{Edit Order}}" names what the option does, not a thing: "the option to edit
    # order", not "the option to the edit order"
    def infinitive(m: re.Match[str]) -> str:
        names = [name for name in (m.group(2), m.group(4)) if name]
        if any(kept(name) or _company_value(name, company) for name in names):
            return m.group(0)
        return m.group(1) + (m.group(3) or "").join(name.lower() for name in names)
    text = _INFINITIVE.sub(infinitive, text)

    # "on our website, {{Website Name}}" with no name reads "on our website", not "… website, our website"
    def repeated(m: re.Match[str]) -> str:
        generic = _generic(m.group(4)).split()
        said_already = _company_value(m.group(4), company) is None and not kept(m.group(4)) and (
            generic[-1:] == [m.group(1).lower()] or (m.group(2) == "," and m.group(1).lower() in generic))
        return m.group(1) if said_already else m.group(0)
    text = _REPEAT.sub(repeated, text)

    # "our {{Website Name}} website" with no name reads "our website"
    def repeated_after(m: re.Match[str]) -> str:
        said_next = _company_value(m.group(2), company) is None and not kept(m.group(2)) and \
            _generic(m.group(2)).split()[-1:] == [m.group(3).lower()]
        return m.group(3) if said_next else m.group(0)
    text = _REPEAT_AFTER.sub(repeated_after, text)
    if _company_value("Account Type", company) is None:
        text = _YOUR_KIND.sub(r"\1 ", text)
        text = _NEW_KIND.sub(lambda m: m.group(1) + ("an " if m.group(2).strip().lower() == "a"
                                                      else m.group(2)), text)
        text = _TO_KIND.sub(r"\1 another account type", text)
    return _PLACEHOLDER.sub(lambda m: m.group(0) if kept(m.group(1)) else _replacement(m, company), text)


def _replacement(m: re.Match[str], company: Mapping[str, str]) -> str:
    value = _company_value(m.group(1), company)
    if value is not None:
        return value
    if key(m.group(1)) in NO_GENERIC:
        return m.group(0)  # no generic words say it truly: the composer leaves the sentence out
    value = _generic(m.group(1))
    before = m.string[max(0, m.start() - 40):m.start()]
    if _DETERMINER_BEFORE.search(before):  # "our {{Website Name}}" -> "our website", not "our our website"
        value = _DETERMINER_START.sub("", value)
    last = re.search(r"(\w+)\s+$", before)  # "during {{Hours}}" must not read "during during …"
    if last and value.lower().startswith(last.group(1).lower() + " "):
        value = value[len(last.group(1)) + 1:]
    if not m.string[:m.start()].strip() or _SENTENCE_START.search(before):
        value = value[:1].upper() + value[1:]
    return value


_REPEAT = re.compile(r"\b(\w+)(,?)\s+(\{\{\s*([^}]*?)\s*\}\})")
_REPEAT_AFTER = re.compile(r"(\{\{\s*([^}]*?)\s*\}\})\s+(\w+)\b")
# ... "our official website at {{Company Website}}", "our website homepage at", "our online store at"
_WEBSITE_AT = re.compile(r"\b(website(?:\s+homepage)?|site|(?:online\s+)?store)\s+(?:at|on)\s+"
                         r"\{\{\s*((?:company\s+|service\s+)?website[^}]*?)\s*\}\}", re.IGNORECASE)
_BRACKETED = re.compile(r"\[([A-Z][A-Za-z ]{2,40})\]")
_HOURS_KEYS = frozenset(k for k, v in GENERIC.items() if v == _HOURS)
# Unset, "available from {{Hours}}" reads "available during our business hours"; ", which are
# {{Hours}}" after "during our business hours" says nothing more; "{{Number of Days}} business days"
# reads "the number of business days stated in our policy", not "... stated in our policy business days".
_HOURS_AFTER = re.compile(r",?\s+which\s+are\s+(?:from\s+)?(\{\{\s*([^}]*?)\s*\}\})"
                          r"|\b(?:from|through|on|at|between)\s+(\{\{\s*([^}]*?)\s*\}\})", re.IGNORECASE)
_DAYS_OF = re.compile(r"\{\{\s*(Number\s+of\s+Days)\s*\}\}\s+days\s+of\b", re.IGNORECASE)
# "after the {{number of days}}-day window" reads "after the window stated in our policy", not "after the
# number of days stated in our policy-day window"; "a {{number of days}}-day guarantee" "a guarantee"
_DAYS_LONG = re.compile(r"\{\{\s*(Number\s+of\s+Days)\s*\}\}-day\s+(window|period|money[- ]back\s+guarantee"
                        r"|guarantee|return\s+policy|trial)\b", re.IGNORECASE)
_DAYS_AFTER = re.compile(r"\{\{\s*(Number\s+of\s+Days)\s*\}\}\s+"
                         r"((?:business\s+|working\s+|calendar\s+)?days)\b", re.IGNORECASE)


def _unset_hours_and_days(text: str, company: Mapping[str, str]) -> str:
    """The history's words around an unset hours or days placeholder that its generic phrase repeats."""
    def hours(m: re.Match[str]) -> str:
        name = m.group(2) or m.group(4)
        if key(name).removesuffix("_anonymized") not in _HOURS_KEYS or _company_value(name, company):
            return m.group(0)
        return "" if m.group(1) else m.group(3)  # the restating clause goes; the preposition goes
    text = _HOURS_AFTER.sub(hours, text)
    # "a refund within {{Number of Days}} days of your purchase" reads "within the period our policy
    # allows from your purchase", not "within the number of days stated in our policy of your purchase"
    text = _DAYS_OF.sub(lambda m: m.group(0) if _company_value(m.group(1), company)
                        else "the period our policy allows from", text)
    def days_long(m: re.Match[str]) -> str:
        if _company_value(m.group(1), company):
            return m.group(0)
        return m.group(2) + (" stated in our policy" if m.group(2).lower() in ("window", "period") else "")
    text = _DAYS_LONG.sub(days_long, text)
    return _DAYS_AFTER.sub(lambda m: m.group(0) if _company_value(m.group(1), company)
                           else f"the number of {m.group(2).lower()} stated in our policy", text)


def _known(name: str, company: Mapping[str, str]) -> bool:
    return key(name) in GENERIC or _company_value(name, company) is not None


def _company_value(name: str, company: Mapping[str, str]) -> str | None:
    k = key(name)
    base = k.removesuffix("_anonymized")
    for candidate in (k, base, ALIASES.get(base, "")):
        value = str(company.get(candidate, "") or "").strip() if candidate else ""
        if value:
            return value
    return None


def _generic(name: str) -> str:
    base = key(name).removesuffix("_anonymized")
    if base in GENERIC:
        return GENERIC[base]
    if re.fullmatch(r"[\w-]*\d[\w-]*", name):
        return name  # an id left in braces by the anonymiser, e.g. {{113542617735902}}
    words = [w if (w.isupper() and len(w) > 1) else w.lower() for w in name.split()]
    words = [w for w in words if w != "anonymized"]
    return "the " + " ".join(words) if words else ""
