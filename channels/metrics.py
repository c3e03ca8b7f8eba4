"""Prometheus metrics of one app, in a registry of its own (tests build many apps).

Served as text at GET /metrics. Names are public: dashboards depend on them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Seconds: streaming should start within a second or two on a CPU box.
_TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64)


class Metrics:
    """Also what the turn runner reports to (assistant.ports.TurnObserver)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections = Gauge("assistant_connections", "Open websocket connections.",
                                 ["endpoint"], registry=r)
        self.turns = Counter("assistant_turns", "Customer turns processed, by outcome.",
                             ["outcome"], registry=r)
        self.ttft = Histogram("assistant_time_to_first_token_seconds",
                              "From a customer message to the first answer delta.",
                              buckets=_TTFT_BUCKETS, registry=r)
        self.transcription = Histogram("assistant_transcription_seconds",
                                       "From a voice message to its transcript.",
                                       buckets=_TTFT_BUCKETS, registry=r)
        self.errors = Counter("assistant_errors", "Errors sent to clients, by code.", ["code"], registry=r)

    def error(self, code: str) -> None:
        self.errors.labels(code=code).inc()

    def first_delta(self, seconds: float) -> None:
        self.ttft.observe(seconds)

    def transcribed(self, seconds: float) -> None:
        self.transcription.observe(seconds)

    def turn_ended(self, outcome: str) -> None:
        self.turns.labels(outcome=outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
