"""Answers composed from the history itself: the best record's resolution, made this customer's.

A resolution's {{Placeholders}} are filled from the [company] config and from what
the customer said in this conversation (the order number they gave), otherwise
with generic words that stay true ("your order", "our website"); the number the
record's own customer gave is never repeated to another, and a sentence holding a
placeholder nothing fills is left out. Nothing is generated, so nothing can be
invented: this is the default answer path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from assistant.grounding import placeholders_in, split_sentences
from knowledge.placeholders import numbered_values, resolution_for
from knowledge.records import Hit


def compose(hit: Hit, company: Mapping[str, str], customer_texts: Sequence[str] = ()) -> str:
    """The record's resolution with its placeholders filled for this customer."""
    if not hit.record.resolution:
        return hit.text.strip()
    values = {**company, **numbered_values(customer_texts)}  # the order number they gave, say
    filled = resolution_for(hit.record.resolution, hit.record.request, values)
    # A placeholder nothing fills ("from [start time] to [end time]") would be read as is: that
    # sentence goes, the rest of the answer stays.
    return "".join(s for s in split_sentences(filled) if not placeholders_in(s)).strip()
