"""Countries a customer may name, with the adjectives an answer uses for them.

A historical answer to "do you ship to Canada?" speaks of "your Canadian address" and "the Canadian
authorities". For the next customer, who asks about Norway, neither is true: `placeholders.unpersonalise`
finds the record's own country here, by its name or its adjective, and takes both out of the answer
unless this customer named the same country.
"""

from __future__ import annotations

import re
from functools import cache

# (names, adjectives): the forms customers and answers use, not an official list.
COUNTRIES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("United States", "United States of America", "USA", "U.S.A.", "US", "U.S.", "America"), ("American",)),
    (("Canada",), ("Canadian",)),
    (("Mexico",), ("Mexican",)),
    (("Brazil",), ("Brazilian",)),
    (("Argentina",), ("Argentine", "Argentinian")),
    (("Chile",), ("Chilean",)),
    (("Colombia",), ("Colombian",)),
    (("Peru",), ("Peruvian",)),
    (("United Kingdom", "UK", "U.K.", "Great Britain", "Britain"), ("British",)),
    (("England",), ()),  # "English" is the language an answer is in
    (("Scotland",), ("Scottish",)),
    (("Wales",), ("Welsh",)),
    (("Ireland",), ("Irish",)),
    (("France",), ("French",)),
    (("Germany",), ("German",)),
    (("Spain",), ("Spanish",)),
    (("Portugal",), ("Portuguese",)),
    (("Italy",), ("Italian",)),
    (("Netherlands", "Holland"), ("Dutch",)),
    (("Belgium",), ("Belgian",)),
    (("Luxembourg",), ("Luxembourgish",)),
    (("Switzerland",), ("Swiss",)),
    (("Austria",), ("Austrian",)),
    (("Denmark",), ("Danish",)),
    (("Norway",), ("Norwegian",)),
    (("Sweden",), ("Swedish",)),
    (("Finland",), ("Finnish",)),
    (("Iceland",), ("Icelandic",)),
    (("Poland",), ("Polish",)),
    (("Czech Republic", "Czechia"), ("Czech",)),
    (("Slovakia",), ("Slovak", "Slovakian")),
    (("Hungary",), ("Hungarian",)),
    (("Romania",), ("Romanian",)),
    (("Bulgaria",), ("Bulgarian",)),
    (("Greece",), ("Greek",)),
    (("Croatia",), ("Croatian",)),
    (("Serbia",), ("Serbian",)),
    (("Slovenia",), ("Slovenian",)),
    (("Ukraine",), ("Ukrainian",)),
    (("Russia",), ("Russian",)),
    (("Turkey", "Türkiye"), ("Turkish",)),
    (("Israel",), ("Israeli",)),
    (("Egypt",), ("Egyptian",)),
    (("Morocco",), ("Moroccan",)),
    (("Nigeria",), ("Nigerian",)),
    (("Kenya",), ("Kenyan",)),
    (("South Africa",), ("South African",)),
    (("Saudi Arabia",), ("Saudi",)),
    (("United Arab Emirates", "UAE"), ("Emirati",)),
    (("India",), ("Indian",)),
    (("Pakistan",), ("Pakistani",)),
    (("China",), ("Chinese",)),
    (("Japan",), ("Japanese",)),
    (("South Korea", "Korea"), ("Korean", "South Korean")),
    (("Taiwan",), ("Taiwanese",)),
    (("Hong Kong",), ()),
    (("Singapore",), ("Singaporean",)),
    (("Malaysia",), ("Malaysian",)),
    (("Indonesia",), ("Indonesian",)),
    (("Thailand",), ("Thai",)),
    (("Vietnam", "Viet Nam"), ("Vietnamese",)),
    (("Philippines",), ("Filipino", "Philippine")),
    (("Australia",), ("Australian",)),
    (("New Zealand",), ("New Zealander",)),
)

# "American Express" is a card, not a country's: answers about payment keep it.
_NOT_AFTER = {"American": r"(?!\s+Express\b)"}
# "South America" and "Latin America" are not the United States.
_NOT_BEFORE = {"America": r"(?<!South\s)(?<!North\s)(?<!Latin\s)(?<!Central\s)"}
# Names that are also ordinary words in lower case ("us", "turkey", "china"): matched only as written,
# as are all adjectives ("polish" is a verb; answers write "Polish").
_CASED = frozenset({"US", "U.S.", "UK", "U.K.", "UAE", "USA", "U.S.A.", "Turkey", "Chile", "China"})
_ADJECTIVES = frozenset(a for _, adjectives in COUNTRIES for a in adjectives)


@cache
def _pattern(word: str) -> re.Pattern[str]:
    flags = 0 if word in _CASED or word in _ADJECTIVES else re.IGNORECASE
    before, after = _NOT_BEFORE.get(word, ""), _NOT_AFTER.get(word, "")
    return re.compile(rf"(?<![\w.]){before}{re.escape(word)}(?!\w){after}", flags)


def named(text: str) -> list[int]:
    """Which countries of COUNTRIES the text names, by name or adjective (indexes, in table order)."""
    return [i for i, (names, adjectives) in enumerate(COUNTRIES)
            if any(_pattern(w).search(text) for w in (*names, *adjectives))]


def forms(index: int) -> tuple[str, ...]:
    """A country's names and adjectives, longest first (so "South African" goes before "South Africa")."""
    names, adjectives = COUNTRIES[index]
    return tuple(sorted((*names, *adjectives), key=len, reverse=True))


def replace(text: str, index: int, by: str) -> str:
    """The text with every name and adjective of the country replaced by `by`."""
    for word in forms(index):
        text = _pattern(word).sub(by, text)
    return text
