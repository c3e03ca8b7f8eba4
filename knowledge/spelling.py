"""Customers' typos, corrected against the knowledge base's own words before a search.

"how to swich acount", "need invoce for my purchace": a sentence encoder splits a
misspelt word into meaningless pieces, and the request drifts away from every record
about switching accounts or invoices. A word is corrected only when

- it is not an English word the encoder knows whole (its tokenizer's vocabulary), nor a
  contraction ("won't"), and
- one spelling within one edit (two for long words) is a word the history uses ten
  times as often as this one, and ten times as often as any other such spelling
  ("acount" -> "account"; a tie, or only rare candidates, leave the word alone).
  A history has its own typos ("acount" occurs in it too), hence "as often as this one".

The vocabulary is the company's own (requests and resolutions of its records), so the
same rule serves any history; nothing here lists words.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping

WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
MIN_LENGTH = 4  # shorter words have too many neighbours one edit away
LONG = 8  # from this length, two edits are allowed
DOMINANCE = 10  # the correction must be this much more frequent than the word itself
LETTERS = "abcdefghijklmnopqrstuvwxyz"
KEEP = 2  # words seen fewer times are not stored: a correction must be ten times as frequent anyway


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def vocabulary(texts: Iterable[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(words(text))
    return counts


def stored_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """The counts worth storing: words of at least MIN_LENGTH - 1 letters seen KEEP times."""
    return {w: n for w, n in counts.items() if n >= KEEP and len(w) >= MIN_LENGTH - 1}


@functools.cache
def english_words() -> frozenset[str]:
    """Whole words of the packaged MiniLM tokenizer's vocabulary (about 22,000): never typos."""
    from knowledge.embeddings import packaged_minilm_dir

    data = json.loads((packaged_minilm_dir() / "tokenizer.json").read_text(encoding="utf-8"))
    return frozenset(w for w in data["model"]["vocab"] if w.isalpha())


def edits1(word: str) -> set[str]:
    """Every string one deletion, transposition, replacement or insertion away."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    transposes = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in LETTERS}
    inserts = {a + c + b for a, b in splits for c in LETTERS}
    return deletes | transposes | replaces | inserts


def within(a: str, b: str, limit: int) -> bool:
    """Optimal string alignment distance of a and b at most limit (rows stop early)."""
    if abs(len(a) - len(b)) > limit:
        return False
    before: list[int] | None = None
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + cost)
            if before is not None and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return False
        before, row = row, current
    return row[-1] <= limit


class Speller:
    """Corrects words of a query toward the history's vocabulary (see the module doc)."""

    def __init__(self, counts: Mapping[str, int], known: Iterable[str] = ()) -> None:
        self.counts = dict(counts)
        self.known = frozenset(known)  # words that are never typos (the encoder's whole words)
        # Two edits away is searched among frequent long words of the same first letter only
        # (generating every string two edits away would take ~0.1 s a word).
        self.long: dict[str, list[str]] = {}
        for w, n in self.counts.items():
            if n >= DOMINANCE and len(w) >= LONG - 2:
                self.long.setdefault(w[0], []).append(w)

    def correct_word(self, word: str) -> str:
        low = word.lower()
        if len(low) < MIN_LENGTH or low in self.known or "'" in low:
            return word
        floor = max(self.counts.get(low, 0), 1) * DOMINANCE
        near = edits1(low)
        candidates = {w for w in near if self.counts.get(w, 0) >= floor}
        if not candidates and len(low) >= LONG:
            pool = self.long.get(low[0], ())
            candidates = {w for w in pool if self.counts[w] >= floor and within(low, w, 2)}
        if len(candidates) != 1:
            best = sorted(candidates, key=lambda w: -self.counts[w])
            # several: only a clear favourite (ten times the next) is taken
            if len(best) < 2 or self.counts[best[0]] < DOMINANCE * self.counts[best[1]]:
                return word
            candidates = {best[0]}
        fixed = candidates.pop()
        return fixed.capitalize() if word[:1].isupper() else fixed

    def correct(self, text: str) -> str:
        return WORD.sub(lambda m: self.correct_word(m.group(0)), text)
