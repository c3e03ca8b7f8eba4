"""An intent classifier learned from the stored records, used to pick the top hit.

Plain nearest-neighbour search puts a record of the wrong intent first when a
request is worded like another intent's ("create account" vs "registration
problems"). A softmax regression over the same embeddings, trained on every
record that has an intent, separates them better (Bitext hold-out, hit@1: 0.978
-> 0.996; see benchmarks/retrieval.py). The head is retrained after each
ingest that changes the collection and is stored beside it in Chroma (one row
per intent: weights in the metadata), so an HTTP-mode server sees it too.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

MAX_PER_INTENT = 1000  # training rows per intent: bounds training time on big collections
MIN_PER_INTENT = 2  # an intent with fewer records is not learned
_SCALE = 10.0  # logits = scale * cosine-like score: unit vectors need a temperature
_STEPS = 100  # Adam steps; full batch
_LR = 0.05
_L2 = 1e-4
_SEED = 0


@dataclass(frozen=True)
class IntentHead:
    """Linear softmax classifier: intent probabilities from a unit query vector."""

    labels: tuple[str, ...]
    weights: np.ndarray  # (dim, len(labels)) float32
    bias: np.ndarray  # (len(labels),) float32

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = (vectors @ self.weights) * _SCALE + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, vectors: np.ndarray) -> list[tuple[str, float]]:
        """(intent, probability) of the likeliest intent per vector."""
        p = self.probabilities(vectors)
        best = p.argmax(axis=1)
        return [(self.labels[i], float(p[row, i])) for row, i in enumerate(best)]

    def to_rows(self) -> tuple[list[str], list[dict[str, str | float]]]:
        """One Chroma row per intent: id, and metadata holding its weight column."""
        ids = [f"intent:{label}" for label in self.labels]
        metas: list[dict[str, str | float]] = [
            {"intent": label, "bias": float(self.bias[i]),
             "weights": base64.b64encode(self.weights[:, i].astype("<f4").tobytes()).decode()}
            for i, label in enumerate(self.labels)
        ]
        return ids, metas

    @classmethod
    def from_rows(cls, metas: Sequence[dict]) -> IntentHead | None:
        if len(metas) < 2:
            return None
        metas = sorted(metas, key=lambda m: str(m["intent"]))
        columns = [np.frombuffer(base64.b64decode(str(m["weights"])), dtype="<f4") for m in metas]
        return cls(labels=tuple(str(m["intent"]) for m in metas),
                   weights=np.stack(columns, axis=1).astype(np.float32),
                   bias=np.array([float(m["bias"]) for m in metas], dtype=np.float32))


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


def train(vectors: np.ndarray, intents: Sequence[str]) -> IntentHead | None:
    """A head over the labelled rows, or None when fewer than two intents can be learned."""
    rows = sample(intents)
    labels = tuple(sorted({intents[i] for i in rows}))
    if len(labels) < 2:
        return None
    started = time.perf_counter()
    x = vectors[rows].astype(np.float32)
    index = {label: i for i, label in enumerate(labels)}
    y = np.eye(len(labels), dtype=np.float32)[[index[intents[i]] for i in rows]]
    weights, bias = _fit(x, y)
    log.info("intent head: %d intents from %d records in %.1f s", len(labels), len(rows),
             time.perf_counter() - started)
    return IntentHead(labels=labels, weights=weights, bias=bias)


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
