"""Which language a text is in, by its commonest words: enough to tell whether an answer
speaks the customer's language. Returns an ISO 639-1 code, or "" when it cannot tell."""

from __future__ import annotations

import re


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PROFILES: dict[str, frozenset[str]] = {
    "en": _words("the and you your to is are of for in it my i this that with have can please not"),
    "es": _words("el la los las de que y en un una por para mi es no con se su usted pedido"),
    "fr": _words("le la les de des que et en un une pour mon ma est ne pas vous je commande"),
    "de": _words("der die das und ist nicht ich sie mein meine ein eine zu mit auf für bitte"),
    "it": _words("il la di che e non un una per mio mia sono con del della ordine"),
    "pt": _words("o a os as de que e não um uma para meu minha com do da pedido você"),
    "nl": _words("de het een en is niet ik mijn van voor met op dat je bestelling"),
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def detect(text: str, *, min_hits: int = 2) -> str:
    """The likeliest language, or "" for a text too short or too unusual to tell."""
    words = [w.lower() for w in _WORD.findall(text)]
    scores = {lang: sum(w in profile for w in words) for lang, profile in _PROFILES.items()}
    best = max(scores, key=lambda lang: scores[lang])
    ranked = sorted(scores.values(), reverse=True)
    if ranked[0] < min_hits or ranked[0] == ranked[1]:
        return ""
    return best
