"""An intent classifier learned from the stored records, used to pick the top hit.

Plain nearest-neighbour search puts a record of the wrong intent first when a
request is worded like another intent's ("create account" vs "registration
problems"). A softmax regression over the same embeddings, trained on every
record that has an intent, separates them better (Bitext hold-out, hit@1: 0.978
-> 0.996; see benchmarks/retrieval.py). The head is retrained after each
ingest that changes the collection and is stored beside it in Chroma (one row
per intent: weights in the metadata), so an HTTP-mode server sees it too.

A history's requests are often worded one way (a generator's templates, one
product's jargon) and its customers another; its resolutions say what each
intent is about in plainer words ("To track your order, ..."). So a second
softmax regression learns each intent from the opening of its resolutions (a
sample of ANSWERS_PER_INTENT records an intent), and the two heads' log
probabilities are mixed (ANSWER_WEIGHT). Measured through the service on messages
of our own that no rule was written from (docs/understanding.md): realistic hit@1
0.818 -> 0.836, dev 0.792 -> 0.812, Bitext hold-out unchanged (0.996). A history
whose records hold no resolution of some intent (BANKING77: requests only) keeps the
request head alone.

An embedding weighs the topic of a message more than the one word that names its intent: "is
there a fee if I cancel my order?" lies near the cancel-order requests. So a word that, in the
history's requests, nearly always means one intent ("fee": the cancellation-fee requests; at
least KEYWORD_MIN requests, KEYWORD_SHARE of them one intent; no function words) raises that
intent's log probability by KEYWORD_WEIGHT when the query holds it. Measured through the
service on the demo history (docs/understanding.md): dev hit@1 0.792 -> 0.804, realistic 0.833 ->
0.839 (no message made wrong by a keyword); BANKING77 (frozen embeddings, the head alone) 0.926 ->
0.927. Words count by their first KEYWORD_STEM letters, so a customer's "complain" is the history's
"complaint" (realistic hit@1 0.8485 -> 0.8515, dev 0.815 -> 0.819, BANKING77 unchanged).

A company names its intents for its customers ("where your order is", "how long delivery takes":
`dialogue.intent_labels`, which the clarifying question reads). Those names say in a customer's
words what each intent is about, which neither a generator's templates nor the resolutions always
do. So LABEL_WEIGHT times a third log distribution is added to the head's: the query's similarity
to each intent's name (its label, or for an intent without one its identifier read as words:
"track order"). Added rather than mixed, since a mix flattens the head's odds, which the
clarifying question's thresholds were chosen on. When no intent of the history has a label,
nothing is added: identifiers alone moved our sets both ways (head alone, frozen embeddings: dev
+0.005, realistic -0.008, fresh +0.026, BANKING77 -0.0006) and some mean nothing ("timing_4").

A support lead lists more than one name: the ways customers say each intent
(`dialogue.intent_examples`: "do you accept bank transfers?", "can I pay in instalments?"). With
them, each intent is as near to a query as its name or its nearest example, and EXAMPLE_WEIGHT
times that log distribution is added too (`with_examples`; an intent without examples counts by
its name). Chosen on the two development sets, then measured on the held-out ones
(docs/understanding.md, "The ways customers say it"): realistic route accuracy 0.924 -> 0.953,
fresh 0.9375 -> 0.969, fresh_2 0.875 -> 0.931.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

log = logging.getLogger(__name__)

MAX_PER_INTENT = 1000  # training rows per intent: bounds training time on big collections
MIN_PER_INTENT = 2  # an intent with fewer records is not learned
_SCALE = 10.0  # logits = scale * cosine-like score: unit vectors need a temperature
_STEPS = 100  # Adam steps; full batch
_LR = 0.05
_L2 = 1e-4
_SEED = 0
ANSWERS_PER_INTENT = 60  # resolutions embedded per intent for the answer head (dev: 30 < 60 = 1000)
ANSWER_WEIGHT = 0.3  # share of the answer head in the mixed log probability (dev: 0.3 >= 0.5)
ANSWER_SENTENCES = 2  # the resolution's opening: as good as the whole on dev, a sixth of the embedding time
KEYWORD_MIN = 10  # requests holding a word before it may name an intent (dev: 10 >= 5, 20)
KEYWORD_SHARE = 0.8  # share of them of one intent (dev: 0.8 = 0.9)
KEYWORD_WEIGHT = 1.0  # added to that intent's log probability (dev: 1.0 > 0.5)
LABEL_WEIGHT = 0.3  # times the names' log probability, added (dev: 0.3 = 1.0 > 0.2 = 0.5)
EXAMPLE_WEIGHT = 3.0  # times the names-or-examples log probability, added (dev + dev_2 hit@1: 1.0 < 1.5 <
# 2.0 = 3.0 > 5.0; route accuracy 3.0 > 2.0)
KEYWORD_STEM = 6  # words count by their first letters: "complain" ~ "complaint" (dev: 6 = 5 > 7;
# BANKING77: 6 = 7 > 5)
_WORD = re.compile(r"[a-z]+")
# Words too common to name an intent, though a generator's templates may put them mostly in one.
_FUNCTION_WORDS = frozenset(_WORD.findall("""
about above after again against all also and any are because been before being below between both
but can cannot could did does doing down during each few for from further had has have having her
here hers herself him himself his how however into its itself just may might more most must myself
nor not now off once only other ought our ours ourselves out over own same shall she should some
such than that the their theirs them themselves then there these they this those through too under
until very was were what when where which while who whom why will with would yet you your yours
yourself yourselves get got want wanna need like help please pls let know see
"""))


@dataclass(frozen=True)
class IntentHead:
    """Linear softmax classifier: intent probabilities from a unit query vector."""

    labels: tuple[str, ...]
    weights: np.ndarray  # (dim, len(labels)) float32
    bias: np.ndarray  # (len(labels),) float32
    # The answer head (same labels), learned from resolutions; None when some intent has none.
    answer_weights: np.ndarray | None = None
    answer_bias: np.ndarray | None = None
    # Words of the history's requests that name one intent, by their stems (`stems`):
    # {"fee": "check_cancellation_fee", "compla": "complaint"}; None for a head stored before
    # keywords were learned (the next ingest retrains it).
    keywords: Mapping[str, str] | None = field(default_factory=dict)
    # The embedded names of the intents, one row per label (`named`); not stored with the head:
    # the names are configuration, read by the process that searches.
    names: np.ndarray | None = None
    # The embedded ways customers say each intent (`dialogue.intent_examples`, `with_examples`), and
    # the index in `labels` of the intent each row says; configuration too.
    examples: np.ndarray | None = None
    example_intents: np.ndarray | None = None

    def named(self, vectors: np.ndarray) -> IntentHead:
        """This head, reading also how near a query is to each intent's embedded name."""
        if vectors.shape[0] != len(self.labels):
            raise ValueError(f"{vectors.shape[0]} names for {len(self.labels)} intents")
        return replace(self, names=vectors.astype(np.float32))

    def with_examples(self, vectors: np.ndarray, intents: Sequence[str]) -> IntentHead:
        """This head, reading also how near a query is to the ways customers say each intent (one
        vector per example, `intents` the intent each says); examples of an intent it does not know
        are left out. Read only with the names (`named`): an intent without examples counts by its name."""
        if vectors.shape[0] != len(intents):
            raise ValueError(f"{vectors.shape[0]} examples for {len(intents)} intents")
        index = {label: i for i, label in enumerate(self.labels)}
        known = [row for row, intent in enumerate(intents) if intent in index]
        if not known:
            return replace(self, examples=None, example_intents=None)
        return replace(self, examples=vectors[known].astype(np.float32),
                       example_intents=np.array([index[intents[row]] for row in known], dtype=np.int64))

    def probabilities(self, vectors: np.ndarray, texts: Sequence[str] = ()) -> np.ndarray:
        """Intent probabilities per vector; with the texts the vectors embed, their keywords count too."""
        logits = _log_softmax((vectors @ self.weights) * _SCALE + self.bias)
        if self.answer_weights is not None and self.answer_bias is not None:
            answers = _log_softmax((vectors @ self.answer_weights) * _SCALE + self.answer_bias)
            logits = (1 - ANSWER_WEIGHT) * logits + ANSWER_WEIGHT * answers
        index = {label: i for i, label in enumerate(self.labels)}
        named = self.keywords or {}
        for row, text in enumerate(texts):
            for word in stems(text):
                if named.get(word) in index:
                    logits[row, index[named[word]]] += KEYWORD_WEIGHT
        if self.names is not None:  # added, not mixed: a flat names distribution leaves the odds as they were
            named = vectors @ self.names.T
            logits += LABEL_WEIGHT * _log_softmax(named * _SCALE)
            if self.examples is not None and self.example_intents is not None:
                # each intent as near as its name or its nearest example
                np.maximum.at(named.T, self.example_intents, (vectors @ self.examples.T).T)
                logits += EXAMPLE_WEIGHT * _log_softmax(named * _SCALE)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, vectors: np.ndarray, texts: Sequence[str] = ()) -> list[tuple[str, float]]:
        """(intent, probability) of the likeliest intent per vector."""
        return [top[0] for top in self.likeliest(vectors, 1, texts)]

    def likeliest(self, vectors: np.ndarray, n: int = 3,
                  texts: Sequence[str] = ()) -> list[tuple[tuple[str, float], ...]]:
        """The n likeliest (intent, probability) per vector, likeliest first."""
        p = self.probabilities(vectors, texts)
        order = np.argsort(-p, axis=1)[:, :n]
        return [tuple((self.labels[i], float(p[row, i])) for i in best) for row, best in enumerate(order)]

    def to_rows(self) -> tuple[list[str], list[dict[str, str | float]]]:
        """One Chroma row per intent: id, and metadata holding its weight column."""
        ids = [f"intent:{label}" for label in self.labels]
        metas: list[dict[str, str | float]] = [
            {"intent": label, "bias": float(self.bias[i]), "weights": _encode(self.weights[:, i])}
            for i, label in enumerate(self.labels)
        ]
        if self.answer_weights is not None and self.answer_bias is not None:
            for i, meta in enumerate(metas):
                meta["answer_bias"] = float(self.answer_bias[i])
                meta["answer_weights"] = _encode(self.answer_weights[:, i])
        if self.keywords is not None:  # None: a head from before keywords stays one
            for meta in metas:
                meta["keywords"] = " ".join(sorted(w for w, i in self.keywords.items()
                                                   if i == meta["intent"]))
        return ids, metas

    @classmethod
    def from_rows(cls, metas: Sequence[dict]) -> IntentHead | None:
        if len(metas) < 2:
            return None
        metas = sorted(metas, key=lambda m: str(m["intent"]))
        answers = all("answer_weights" in m for m in metas)  # a head stored before them has none
        return cls(labels=tuple(str(m["intent"]) for m in metas),
                   weights=np.stack([_decode(m["weights"]) for m in metas], axis=1),
                   bias=np.array([float(m["bias"]) for m in metas], dtype=np.float32),
                   answer_weights=(np.stack([_decode(m["answer_weights"]) for m in metas], axis=1)
                                   if answers else None),
                   answer_bias=(np.array([float(m["answer_bias"]) for m in metas], dtype=np.float32)
                                if answers else None),
                   # stems; a head stored before them holds whole words, read as their stems
                   keywords=({w[:KEYWORD_STEM]: str(m["intent"]) for m in metas
                              for w in str(m["keywords"]).split()}
                             if all("keywords" in m for m in metas) else None))


def _encode(column: np.ndarray) -> str:
    return base64.b64encode(column.astype("<f4").tobytes()).decode()


def _decode(text: object) -> np.ndarray:
    return np.frombuffer(base64.b64decode(str(text)), dtype="<f4").astype(np.float32)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def opening(resolution: str, sentences: int = ANSWER_SENTENCES) -> str:
    """The first sentences of a resolution: where it says what the request was about."""
    parts = re.split(r"(?<=[.?!:])\s+", " ".join(resolution.split()))
    return " ".join(parts[:sentences])


def answer_sample(intents: Sequence[str], resolutions: Sequence[str],
                  limit: int = ANSWERS_PER_INTENT) -> np.ndarray | None:
    """Rows whose resolutions teach the answer head (seeded, at most `limit` an intent), or None
    when some learnable intent has fewer than MIN_PER_INTENT records with a resolution: the
    mixed head would then wrong that intent, so the request head is used alone."""
    learnable = {intents[i] for i in sample(intents)}
    with_answer = [intent if resolution.strip() else "" for intent, resolution
                   in zip(intents, resolutions, strict=True)]
    rows = sample(with_answer, limit)
    return rows if len(rows) and {with_answer[i] for i in rows} == learnable else None


def sample(intents: Sequence[str], limit: int = MAX_PER_INTENT, seed: int = _SEED) -> np.ndarray:
    """Row indices to train on: every labelled row, at most `limit` per intent (seeded)."""
    rng = np.random.default_rng(seed)
    by: dict[str, list[int]] = {}
    for i, intent in enumerate(intents):
        if intent:
            by.setdefault(intent, []).append(i)
    keep: list[int] = []
    for rows in by.values():
        if len(rows) >= MIN_PER_INTENT:
            keep += rows if len(rows) <= limit else list(rng.choice(rows, limit, replace=False))
    return np.array(sorted(keep), dtype=np.int64)


def content_words(text: str) -> set[str]:
    """The words of a text that may name an intent: lower case, three letters or more, no function words."""
    return {w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in _FUNCTION_WORDS}


def stems(text: str) -> set[str]:
    """The content words of a text by their first KEYWORD_STEM letters: a customer's "complain",
    "refundable" or "registering" counts as the history's "complaint", "refund", "registration"."""
    return {word[:KEYWORD_STEM] for word in content_words(text)}


def keywords(requests: Sequence[str], intents: Sequence[str]) -> dict[str, str]:
    """The words (stems) that, in these labelled requests, nearly always mean one intent: {stem: intent}."""
    counts: dict[str, Counter[str]] = {}
    for request, intent in zip(requests, intents, strict=True):
        if intent:
            for word in stems(request):
                counts.setdefault(word, Counter())[intent] += 1
    named = {}
    for word, by_intent in counts.items():
        intent, most = by_intent.most_common(1)[0]
        if sum(by_intent.values()) >= KEYWORD_MIN and most >= KEYWORD_SHARE * sum(by_intent.values()):
            named[word] = intent
    return named


def train(vectors: np.ndarray, intents: Sequence[str], answer_vectors: np.ndarray | None = None,
          answer_intents: Sequence[str] = (), requests: Sequence[str] = ()) -> IntentHead | None:
    """A head over the labelled rows, or None when fewer than two intents can be learned.

    `answer_vectors` (embedded resolution openings, rows of `answer_sample`) with their intents
    add the answer head, when they cover every intent the request head learns. `requests`, the
    rows' texts, give the keywords."""
    rows = sample(intents)
    labels = tuple(sorted({intents[i] for i in rows}))
    if len(labels) < 2:
        return None
    started = time.perf_counter()
    index = {label: i for i, label in enumerate(labels)}
    eye = np.eye(len(labels), dtype=np.float32)
    weights, bias = _fit(vectors[rows].astype(np.float32), eye[[index[intents[i]] for i in rows]])
    named = {w: i for w, i in keywords(requests, intents).items() if i in index} if requests else {}
    head = IntentHead(labels=labels, weights=weights, bias=bias, keywords=named)
    if answer_vectors is not None and len(answer_vectors) and set(answer_intents) == set(labels):
        answer_weights, answer_bias = _fit(answer_vectors.astype(np.float32),
                                           eye[[index[intent] for intent in answer_intents]])
        head = replace(head, answer_weights=answer_weights, answer_bias=answer_bias)
    log.info("intent head: %d intents from %d records%s, %d keywords, in %.1f s", len(labels), len(rows),
             f" and {len(answer_intents)} resolutions" if head.answer_weights is not None else "",
             len(named), time.perf_counter() - started)
    return head


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Full-batch Adam on the softmax cross-entropy: a few hundred ms for thousands of rows."""
    w = np.zeros((x.shape[1], y.shape[1]), dtype=np.float32)
    b = np.zeros(y.shape[1], dtype=np.float32)
    moments: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros_like(w), np.zeros_like(w)),
                                                    (np.zeros_like(b), np.zeros_like(b))]
    for step in range(1, _STEPS + 1):
        logits = (x @ w) * _SCALE + b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        grad = (p - y) / len(x)
        grads = (x.T @ grad * _SCALE + _L2 * w, grad.sum(axis=0))
        for param, g, (m, v) in zip((w, b), grads, moments, strict=True):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            param -= _LR * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return w, b
