"""The historical support record: what every importer produces and every search returns."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

AUDIENCES = ("customer", "internal")  # a record's audience
Audience = Literal["customer", "any"]  # who reads a search's hits: internal records are for agents only


@dataclass(frozen=True)
class Record:
    """One resolved support case (a ticket, a Q&A pair, a transcript, a policy chunk)."""

    id: str  # stable across re-imports: from the source's own id, or a hash of its content
    request: str  # what the customer asked (redacted)
    resolution: str  # how the agent resolved it (redacted; may hold {{Placeholders}})
    subject: str = ""  # optional ticket subject / policy section title
    intent: str = ""  # fine-grained label, e.g. "cancel_order"
    category: str = ""  # coarse label, e.g. "ORDER"
    tags: tuple[str, ...] = ()  # free labels
    product: str = ""  # product or product line the case is about
    created_at: str = ""  # ISO 8601 date or datetime, when known
    source: str = ""  # where it came from, e.g. "bitext", "abcd:guidelines", a file name
    kind: str = "qa"  # qa | transcript | policy
    attachments: tuple[str, ...] = ()  # names or URLs of files attached to the original case
    transcript: str = ""  # the whole conversation, kept for display (kind = transcript)
    audience: str = "customer"  # customer | internal (agent guidelines: agents see them, customers never)

    def content_hash(self) -> str:
        """Changes whenever anything stored about the record changes."""
        fields = asdict(self)
        if self.audience == "customer":  # records stored before audiences existed keep their hash
            del fields["audience"]
        blob = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def embedding_text(self) -> str:
        """What is embedded: the request carries the meaning customers will search for."""
        if self.kind == "policy":
            return f"{self.subject}\n{self.resolution}".strip()
        return self.request

    def metadata(self) -> dict[str, Any]:
        """Flat, Chroma-compatible metadata (str/int/float/bool values only)."""
        return {
            "request": self.request,
            "resolution": self.resolution,
            "subject": self.subject,
            "intent": self.intent,
            "category": self.category,
            "tags": ",".join(self.tags),
            "product": self.product,
            "created_at": self.created_at,
            "source": self.source,
            "kind": self.kind,
            "attachments": ",".join(self.attachments),
            "transcript": self.transcript,
            "audience": self.audience,
            "hash": self.content_hash(),
        }

    @classmethod
    def from_metadata(cls, record_id: str, meta: dict[str, Any]) -> Record:
        split = lambda v: tuple(x for x in str(v or "").split(",") if x)  # noqa: E731
        return cls(
            id=record_id,
            request=str(meta.get("request", "")),
            resolution=str(meta.get("resolution", "")),
            subject=str(meta.get("subject", "")),
            intent=str(meta.get("intent", "")),
            category=str(meta.get("category", "")),
            tags=split(meta.get("tags")),
            product=str(meta.get("product", "")),
            created_at=str(meta.get("created_at", "")),
            source=str(meta.get("source", "")),
            kind=str(meta.get("kind", "qa")),
            attachments=split(meta.get("attachments")),
            transcript=str(meta.get("transcript", "")),
            audience=str(meta.get("audience") or "customer"),
        )


@dataclass(frozen=True)
class Hit:
    """A search result: the record, its similarity in [0, 1] (1 = same meaning), display text."""

    record: Record
    score: float
    text: str  # the resolution with {{Placeholders}} filled from [company]
    metadata: dict[str, Any] = field(default_factory=dict)
    # The intent head's likeliest intents for the query, with their probabilities (the same on
    # every hit of one search; empty without a head): how sure the history is of what was asked.
    intents: tuple[tuple[str, float], ...] = ()

    @property
    def id(self) -> str:
        return self.record.id

    def to_json(self) -> dict[str, Any]:
        meta = {k: v for k, v in self.metadata.items() if k not in ("request", "resolution", "hash")}
        return {"id": self.id, "score": round(self.score, 4), "text": self.text,
                "request": self.record.request, "metadata": meta}
