"""Filling {{Placeholders}} in historical answers from the [company] config.

Bitext answers say "log into our {{Website Name}}". `fill` puts in the company's
own value (key `website_name`) when the config sets one, otherwise a generic
phrase that still reads well ("log into our website"). `unpersonalise` first turns
the numbers a record's own customer gave back into placeholders, and
`numbered_values` reads the ones the current customer gives, so an answer speaks
of this customer's order, never another's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

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
    "phone_number": _PHONE, "complaint_phone_number": _PHONE,
    "customer_support_email": _EMAIL, "customer_support_email_address": _EMAIL,
    "customer_service_email": _EMAIL, "customer_service_email_address": _EMAIL,
    "support_email": _EMAIL, "support_email_address": _EMAIL, "email_support": _EMAIL,
    "email_address": _EMAIL, "feedback_email_address": _EMAIL,
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
    "person_name": "the person you mentioned", "refund_amount": "the refund amount",
    "delivery_city": "your city", "delivery_country": "your country",
    "reference_number": "your reference number",
}
ALIASES: dict[str, str] = {"company_name": "name"}  # [company] name = "Acme" also fills {{Company Name}}


def key(name: str) -> str:
    """The [company] config key of a placeholder: "Website Name" -> "website_name"."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def placeholders(text: str) -> list[str]:
    """The distinct placeholder names in text, in order of first appearance: ["Website Name", ...]."""
    return list(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(text)))


_ID = r"([A-Z]{0,4}[-#]?\d[\w-]{2,}\d|\d{3,})"
# What a customer may name by number, the placeholder that stands for it, and the keys it fills.
_NUMBERED: dict[str, tuple[re.Pattern[str], tuple[str, ...]]] = {
    "Order Number": (re.compile(rf"\b(?:order|purchase|ord)\s*(?:number|no\.?|num|nr|id|ref)?\s*[:#]?\s*{_ID}"
                                rf"|(?<![\w#])#\s?(\d{{3,}})\b", re.IGNORECASE),
                     ("order_number", "order_id", "purchase_id", "purchase_number")),
    "Invoice Number": (re.compile(rf"\b(?:invoice|bill)\s*(?:number|no\.?|num|nr|id)?\s*[:#]?\s*{_ID}",
                                  re.IGNORECASE), ("invoice_number", "bill_number")),
    "Tracking Number": (re.compile(rf"\btracking\s*(?:number|no\.?|code|id)?\s*[:#]?\s*{_ID}", re.IGNORECASE),
                        ("tracking_number",)),
}
_ORDER_KEYS = _NUMBERED["Order Number"][1]


def _naming(nouns: str) -> re.Pattern[str]:
    """"the order number {{X}}", "invoice #{{X}}": a noun that names the placeholder after it."""
    return re.compile(rf"\b(?:(?:the|your|this|my)\s+)?(?:{nouns})\s+(?:number\s+|no\.?\s+|#\s*|id\s+)?"
                      r"(\{\{\s*[^}]*?\s*\}\})", re.IGNORECASE)


# A number the answer has no value for: "locating order number {{Order Number}}" reads "locating
# your order", "invoice {{Invoice Number}}" reads "your invoice", and "the purchase with the id
# {{Purchase ID}}" reads "the purchase".
_UNNAMED: list[tuple[re.Pattern[str], str, tuple[str, ...]]] = [
    (_naming("order|purchase"), "your order", _ORDER_KEYS),
    (_naming("invoice|bill"), "your invoice", _NUMBERED["Invoice Number"][1]),
    (re.compile(r"\s+(?:with\s+(?:the\s+)?(?:number|id)|number|#)\s*(\{\{\s*[^}]*?\s*\}\})", re.IGNORECASE),
     "", _ORDER_KEYS),
]


_ID_TOKEN = re.compile(r"(?<![\w-])[A-Za-z]{0,4}-?\d{4,}[\w-]*(?![\w-])")


def numbered_values(texts: Sequence[str]) -> dict[str, str]:
    """Placeholder values a customer gave, the latest mention winning: {"order_number": "48213", …}."""
    values: dict[str, str] = {}
    for text in texts:
        for pattern, keys in _NUMBERED.values():
            for m in pattern.finditer(text):
                values.update(dict.fromkeys(keys, next(g for g in m.groups() if g)))
    return values


def unpersonalise(resolution: str, request: str) -> str:
    """The resolution with the original customer's own numbers put back as placeholders.

    A historical answer repeats the number its customer gave ("cancel order 113542617735902");
    the next customer must read their own number, or "your order", never that one."""
    for name, (pattern, _) in _NUMBERED.items():
        for m in pattern.finditer(request):
            value = next(g for g in m.groups() if g)
            resolution = re.sub(rf"(?<![\w-]){re.escape(value)}(?![\w-])", f"{{{{{name}}}}}", resolution)
    # Any other id-like token of the request (four digits or more) that the answer repeats.
    kind = ("Order Number" if re.search(r"\b(?:order|purchase)", request, re.IGNORECASE)
            else "Invoice Number" if re.search(r"\b(?:invoice|bill)", request, re.IGNORECASE)
            else "Reference Number")
    for token in set(_ID_TOKEN.findall(request)):
        resolution = re.sub(rf"#?(?<![\w-]){re.escape(token)}(?![\w-])", f"{{{{{kind}}}}}", resolution)
    return resolution


def resolution_for(resolution: str, request: str, values: Mapping[str, str]) -> str:
    """A record's resolution as a customer may read it: its own customer's numbers put back as
    placeholders, then every placeholder filled from `values` ([company] and what this customer
    said) or with a generic phrase."""
    return fill(unpersonalise(resolution, request), values)


def fill(text: str, company: Mapping[str, str]) -> str:
    """Replace every {{Placeholder}} by the company's value, or by a readable generic phrase.

    `company` may also hold values the customer gave (an order number): the caller merges them."""
    def unknown(m: re.Match[str], keys: tuple[str, ...]) -> bool:
        name = _PLACEHOLDER.fullmatch(m.group(1))
        base = key(name.group(1)).removesuffix("_anonymized") if name else ""
        return base in keys and _company_value(name.group(1), company) is None  # type: ignore[union-attr]

    # Some answers write a known placeholder in square brackets: "[Customer Support Phone Number]".
    text = _BRACKETED.sub(lambda m: f"{{{{{m.group(1)}}}}}" if _known(m.group(1), company) else m.group(0),
                          text)
    # "visit our website at {{Website URL}}" with no URL reads "visit our website", not "… at our website"
    text = _WEBSITE_AT.sub(lambda m: m.group(0) if _company_value(m.group(2), company) else m.group(1), text)
    for pattern, generic, keys in _UNNAMED:
        def named(m: re.Match[str], generic: str = generic, keys: tuple[str, ...] = keys) -> str:
            return generic if unknown(m, keys) else m.group(0)
        text = pattern.sub(named, text)
    return _PLACEHOLDER.sub(lambda m: _replacement(m, company), text)


def _replacement(m: re.Match[str], company: Mapping[str, str]) -> str:
    value = _company_value(m.group(1), company)
    if value is not None:
        return value
    value = _generic(m.group(1))
    before = m.string[max(0, m.start() - 40):m.start()]
    if _DETERMINER_BEFORE.search(before):  # "our {{Website Name}}" -> "our website", not "our our website"
        value = _DETERMINER_START.sub("", value)
    if not m.string[:m.start()].strip() or _SENTENCE_START.search(before):
        value = value[:1].upper() + value[1:]
    return value


_WEBSITE_AT = re.compile(r"\b(website|site)\s+(?:at|on)\s+\{\{\s*(website[^}]*?)\s*\}\}", re.IGNORECASE)
_BRACKETED = re.compile(r"\[([A-Z][A-Za-z ]{2,40})\]")


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
