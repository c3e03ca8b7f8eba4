"""Redaction of personal data before a record is stored or embedded.

E-mail addresses become [EMAIL], phone numbers [PHONE], Luhn-valid payment card
numbers [CARD] (also written with dots), IBANs with a valid mod-97 check [IBAN],
US social security numbers [SSN] and matches of configured regexes [REDACTED].
Order numbers,
dates, prices, times, postcodes, versions and {{Placeholders}} are left alone:
a number is judged by its shape and by the words just before it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from knowledge.errors import RedactPatternError

__all__ = ["RedactPatternError", "Redactor", "iban_valid", "luhn_valid"]


_PLACEHOLDER = re.compile(r"(\{\{.*?\}\})")
_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)

# A number must not start or end in the middle of a word, a price, a date or a longer number.
_START = r"(?<![\w@.,/:+#-])"
_END = r"(?![\w@]|[.,/:-]?\d)"
# 13 to 19 digits, single spaces, dashes or dots allowed between them.
_CARD = re.compile(_START + r"\d(?:[ .-]?\d){12,18}" + _END)
# Country code, two check digits, then up to 30 letters and digits, in groups of four or not.
_IBAN = re.compile(r"(?<![\w-])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![\w-])",
                   re.IGNORECASE)
# The countries that issue IBANs (SWIFT's registry): another prefix is an order id, whatever its checksum.
_IBAN_COUNTRIES = frozenset(re.findall(r"[A-Z]{2}", """
AD AE AL AT AZ BA BE BG BH BI BR BY CH CR CY CZ DE DJ DK DO EE EG ES FI FK FO FR GB GE GI GL GR GT HR HU
IE IL IQ IS IT JO KW KZ LB LC LI LT LU LV LY MC MD ME MK MN MR MT MU NI NL NO OM PK PL PS PT QA RO RS RU
SA SC SD SE SI SK SM SO ST SV TL TN TR UA VA VG XK YE"""))
# 123-45-6789; nine bare digits only right after "SSN" or "social security".
_SSN = re.compile(_START + r"(\d{3})-(\d{2})-(\d{4})" + _END)
_SSN_BARE = re.compile(r"\b(?:ssn|social security(?: number| no\.?)?)\W{0,3}(?:is\W{1,3})?(\d{9})\b",
                       re.IGNORECASE)
# Digit groups joined by one space, dash or dot, optionally +country code and (area code).
# Groups are possessive (\d++): a long digit run is one group, so no exponential backtracking.
_PHONE = re.compile(
    _START
    + r"(?:\+\s?\d++(?:[ .-]?\(0\))?[ .-]?)?"  # +44 (0) ...
    + r"(?:\(\d++\)[ .-]?|\d++)"  # (977) or the first group
    + r"(?:[ .-]?(?:\(\d++\)|\d++)){0,6}"
    + _END
)
_CARD_WORDS = re.compile(
    r"\b(?:card|visa|mastercard|master card|amex|american express|credit|debit|cc|discover)\b"
)
_ID_WORDS = re.compile(
    # order/purchase without a leading \b: customers type "theorder", "ispurchase", "oder".
    r"(?:(?:order|oder|purchase|invoice)s?\b|\b(?:tracking|ticket|shipment|parcel|package|"
    r"reference|ref|receipt|transaction|booking|confirmation|case|bill|account id|customer id|"
    r"member id|id|sku|serial)\b|#)"
)
_PHONE_WORDS = re.compile(
    r"\b(?:phone|telephone|tel|mobile|cell|cellphone|call|ring|text|sms|whatsapp|fax|landline|"
    r"contact number|number is|reach me)\b"
)
# Digit-group sizes of dates written with one separator: 2024-03-15, 15.03.2024, 3/5/2024.
_DATE_SHAPES = {
    (4, 2, 2), (2, 2, 4), (1, 2, 4), (2, 1, 4), (1, 1, 4), (4, 1, 1), (4, 2, 1), (4, 1, 2), (2, 2, 2),
}
_CONTEXT = 40  # characters before a number that are read for words like "order" or "card"


def luhn_valid(digits: str) -> bool:
    """The check digit rule all payment card numbers follow."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """ISO 13616: the country and check digits moved to the end, letters as 10..35, mod 97 is 1."""
    iban = re.sub(r"\s", "", text).upper()
    if not 15 <= len(iban) <= 34 or iban[:2] not in _IBAN_COUNTRIES:
        return False
    digits = "".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


def _is_ssn(m: re.Match[str]) -> bool:
    """A US social security number's shape and rules (no 000, 666 or 9xx area, no 00 group, no
    0000 serial), unless the words before name it an order or another id."""
    area, group, serial = m.group(1), m.group(2), m.group(3)
    if area in ("000", "666") or area.startswith("9") or group == "00" or serial == "0000":
        return False
    before = _before(m)
    return _last_word(_ID_WORDS, before) < 0 or _last_word(_ID_WORDS, before) < before.rfind("ssn")


def _groups(number: str) -> list[str]:
    return re.findall(r"\d+", number)


def _last_word(pattern: re.Pattern[str], before: str) -> int:
    """Position of the last match of pattern in the text before a number, -1 if none."""
    hits = list(pattern.finditer(before))
    return hits[-1].start() if hits else -1


class Redactor:
    """Replaces personal data in free text: [EMAIL], [PHONE], [CARD], [IBAN], [SSN], [REDACTED]."""

    def __init__(self, extra_patterns: Sequence[str] = ()) -> None:
        self._extra = [_compile(p) for p in extra_patterns]

    def redact(self, text: str) -> str:
        # Placeholders like {{Order Number}} are template slots, never personal data.
        parts = _PLACEHOLDER.split(text)
        return "".join(p if i % 2 else self._redact_plain(p) for i, p in enumerate(parts))

    def _redact_plain(self, text: str) -> str:
        if not text:
            return text
        text = _EMAIL.sub("[EMAIL]", text)
        text = _IBAN.sub(lambda m: "[IBAN]" if iban_valid(m.group()) else m.group(), text)
        text = _SSN.sub(lambda m: "[SSN]" if _is_ssn(m) else m.group(), text)
        text = _SSN_BARE.sub(lambda m: m.group()[:m.start(1) - m.start()] + "[SSN]", text)
        text = _CARD.sub(lambda m: "[CARD]" if _is_card(m) else m.group(), text)
        text = _PHONE.sub(lambda m: "[PHONE]" if _is_phone(m) else m.group(), text)
        for pattern in self._extra:
            text = pattern.sub("[REDACTED]", text)
        return text


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise RedactPatternError(f"redaction pattern {pattern!r} is not a valid regex: {exc}") from None
    if compiled.fullmatch(""):
        raise RedactPatternError(f"redaction pattern {pattern!r} matches the empty string")
    return compiled


def _before(m: re.Match[str]) -> str:
    return m.string[max(0, m.start() - _CONTEXT):m.start()].lower()


def _is_card(m: re.Match[str]) -> bool:
    number = m.group()
    digits = re.sub(r"\D", "", number)
    if not 13 <= len(digits) <= 19 or not luhn_valid(digits):
        return False
    if _grouped_like_card(number):
        return True
    before = _before(m)
    card_at, id_at = _last_word(_CARD_WORDS, before), _last_word(_ID_WORDS, before)
    # The nearer word wins: "order 4111..." is an order, "paid by card for order 4111..." too.
    return card_at > id_at or (card_at == id_at == -1)


def _grouped_like_card(number: str) -> bool:
    seps = set(re.findall(r"\D", number))
    if len(seps) != 1:
        return False  # unseparated, or mixed separators
    sizes = [len(g) for g in _groups(number)]
    if sizes in ([4, 6, 5], [4, 6, 4]):  # American Express, Diners Club
        return True
    return len(sizes) >= 3 and all(s == 4 for s in sizes[:-1]) and 1 <= sizes[-1] <= 4


def _is_phone(m: re.Match[str]) -> bool:
    number = m.group()
    digits = re.sub(r"\D", "", number)
    sizes = tuple(len(g) for g in _groups(number))
    if not 7 <= len(digits) <= 15 or _looks_like_date(number, sizes):
        return False
    if number.startswith("+"):
        return len(digits) >= 8
    before = _before(m)
    phone_at, id_at = _last_word(_PHONE_WORDS, before), _last_word(_ID_WORDS, before)
    if id_at > phone_at:
        return False  # "order 020 7946 0958" is an order number
    if phone_at >= 0 and (len(sizes) > 1 or "(" in number or len(digits) >= 10):
        return True
    return _north_american(number, sizes) or _national_trunk(number, sizes)


def _looks_like_date(number: str, sizes: tuple[int, ...]) -> bool:
    return "(" not in number and sizes in _DATE_SHAPES and len(set(re.findall(r"\D", number))) == 1


def _north_american(number: str, sizes: tuple[int, ...]) -> bool:
    """(977) 625-2661, 977-625-2661, 1-800-555-0199, 977.625.2661."""
    groups = _groups(number)
    if sizes[:1] == (1,) and groups[0] == "1":
        groups, sizes = groups[1:], sizes[1:]
    return sizes == (3, 3, 4) and groups[0][0] in "23456789" and groups[1][0] in "23456789"


def _national_trunk(number: str, sizes: tuple[int, ...]) -> bool:
    """European national formats start with a trunk 0: 020 7946 0958, 01 23 45 67 89, 030 12345678."""
    digits = "".join(_groups(number))
    if digits.startswith("00"):  # the international prefix written out: 0049 30 1234567
        return len(sizes) >= 2 and 11 <= len(digits) <= 15
    return digits.startswith("0") and len(sizes) >= 2 and 10 <= len(digits) <= 12
