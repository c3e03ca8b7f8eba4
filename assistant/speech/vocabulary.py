"""Domain vocabulary for Whisper: the words support calls use, spelled as they should come out.

Whisper reads its prompt as the text said just before the clip, so a short list
of the right spellings ("invoice", "ORD-12345", product names) tips close calls
("in voice") their way. Words come from config and from the knowledge base.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

MAX_PROMPT_CHARS = 400  # Whisper keeps ~220 prompt tokens; stay well inside them

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
_PLACEHOLDER = re.compile(r"\{\{[^}]*\}\}")
# Too common to help: Whisper already hears them right.
_STOPWORD_TEXT = """
about after again also been before being could does doing done from have having help here
just know like make more need some than that their them then there these they this those
through want what when where which while will with would your you'd you're yours should
please thanks thank hello dear can't don't i'm i've it's into only other over same
tell very well were
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def prompt_for(words: Iterable[str], max_chars: int = MAX_PROMPT_CHARS) -> str | None:
    """A comma-separated glossary for Whisper's initial prompt, or None when there are no words."""
    seen: dict[str, str] = {}
    for word in words:
        clean = " ".join(str(word).split())
        if clean and clean.lower() not in seen:
            seen[clean.lower()] = clean
    text = ""
    for word in seen.values():
        candidate = f"{text}, {word}" if text else word
        if len(candidate) + 1 > max_chars:
            break
        text = candidate
    return f"{text}." if text else None


def whisper_prompt(vocabulary: Iterable[str], extra: str | None = None) -> str | None:
    """The initial prompt: the configured glossary, then what the caller adds (e.g. KB words)."""
    parts = [p for p in (prompt_for(vocabulary), extra) if p]
    return " ".join(parts) or None


def words_from_texts(texts: Iterable[str], top: int = 40, min_count: int = 3) -> list[str]:
    """The `top` most frequent content words of support requests, most frequent first.

    Lower-cased, except words the texts spell with inner capitals (iPhone, PDF).
    """
    counts: Counter[str] = Counter()
    spelled: dict[str, Counter[str]] = {}
    for text in texts:
        for word in _WORD.findall(_PLACEHOLDER.sub(" ", text)):
            key = word.lower()
            if key in _STOPWORDS:
                continue
            counts[key] += 1
            spelled.setdefault(key, Counter())[word] += 1
    common = [w for w, n in counts.most_common() if n >= min_count][:top]
    return [_usual_spelling(w, spelled[w]) for w in common]


def _usual_spelling(word: str, forms: Counter[str]) -> str:
    form = forms.most_common(1)[0][0]
    # A capital at the start of a sentence is noise; inner capitals are a name (iPhone, PDF).
    return form if form[1:] != form[1:].lower() else word


def kb_vocabulary(kb: Any, top: int = 40) -> list[str]:
    """words_from_texts over the requests of a knowledge.base.KnowledgeBase's records."""
    return words_from_texts((str(m.get("request", "")) for m in kb.store.metadatas()), top=top)
