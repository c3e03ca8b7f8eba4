"""Answers composed from the history itself: the best record's resolution, made this customer's.

A resolution's {{Placeholders}} are filled from the [company] config and from what
the customer said in this conversation (the order number they gave), otherwise
with generic words that stay true ("your order", "our website"). Nothing is
generated, so nothing can be invented: this is the default answer path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from knowledge.placeholders import fill
from knowledge.records import Hit

_ID = r"([A-Z]{0,4}[-#]?\d[\w-]{2,}\d|\d{3,})"
# What a customer may name by number, and the placeholder keys each fills.
_NUMBERED: dict[str, tuple[re.Pattern[str], tuple[str, ...]]] = {
    "order": (re.compile(rf"\b(?:order|purchase|ord)\s*(?:number|no\.?|num|nr|id|ref)?\s*[:#]?\s*{_ID}"
                         rf"|(?<![\w#])#\s?(\d{{3,}})\b", re.IGNORECASE),
              ("order_number", "order_id", "purchase_id", "purchase_number")),
    "invoice": (re.compile(rf"\b(?:invoice|bill)\s*(?:number|no\.?|num|nr|id)?\s*[:#]?\s*{_ID}",
                           re.IGNORECASE),
                ("invoice_number", "bill_number")),
    "tracking": (re.compile(rf"\btracking\s*(?:number|no\.?|code|id)?\s*[:#]?\s*{_ID}", re.IGNORECASE),
                 ("tracking_number",)),
}


def customer_values(texts: Sequence[str]) -> dict[str, str]:
    """Placeholder values the customer gave, the latest mention winning: {"order_number": "48213"}."""
    values: dict[str, str] = {}
    for text in texts:
        for pattern, keys in _NUMBERED.values():
            for m in pattern.finditer(text):
                value = next(g for g in m.groups() if g)
                values.update(dict.fromkeys(keys, value))
    return values


def compose(hit: Hit, company: Mapping[str, str], customer_texts: Sequence[str] = ()) -> str:
    """The record's resolution with its placeholders filled for this customer."""
    resolution = hit.record.resolution or hit.text
    return fill(resolution, {**company, **customer_values(customer_texts)}).strip()
