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

from assistant.grounding import placeholders_in, renumbered, split_sentences
from knowledge.placeholders import numbered_values, resolution_for
from knowledge.records import Hit

THIN = 250  # characters: a resolution this short mostly acknowledges ("Allow me a moment to fetch it.")
NEAR = 0.08  # a fuller record of the same intent this close in score answers instead


def compose_best(references: Sequence[Hit], company: Mapping[str, str],
                 customer_texts: Sequence[str] = ()) -> str:
    """The best record composed for this customer; if it only acknowledges the request ("I'm here
    to help you cancel order 370795561790.", "Give me a moment to look up invoice #85632."), the
    next record of the same intent that nearly matches as well and actually says what to do."""
    if not references:
        return ""
    best = references[0]
    first = compose(best, company, customer_texts)
    if len(first) >= THIN:
        return first
    for hit in references[1:]:
        if hit.record.intent == best.record.intent and best.score - hit.score <= NEAR:
            fuller = compose(hit, company, customer_texts)
            if len(fuller) >= THIN:
                return fuller
    return first


def compose(hit: Hit, company: Mapping[str, str], customer_texts: Sequence[str] = ()) -> str:
    """The record's resolution with its placeholders filled for this customer."""
    if not hit.record.resolution:
        return hit.text.strip()
    values = {**company, **numbered_values(customer_texts)}  # the order number they gave, say
    filled = resolution_for(hit.record.resolution, hit.record.request, values, " ".join(customer_texts))
    # A placeholder nothing fills ("from [start time] to [end time]") would be read as is: that
    # sentence goes, the rest of the answer stays, its list steps numbered on without a gap.
    return renumbered("".join(s for s in split_sentences(filled) if not placeholders_in(s)).strip())[0]
