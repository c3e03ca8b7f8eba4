"""The knowledge base as agents use it: searched with internal records included, grown by
the conversations they resolve, and kept clear of wrong lessons.

    knowledge = AgentKnowledge(KnowledgeBase(...), redactor)
    hits = await knowledge.search("refund for a broken kettle", 5)
    record = await knowledge.save_resolved(conversation_id, request, resolution, agent="dana",
                                           intent="track_order")  # optional: one of knowledge.intents()
    lessons = await knowledge.learned()                 # what `kb learn` learned (assistant.learning)
    await knowledge.forget_learned(lessons[0].id)       # and never learns again

The calls run the blocking knowledge base (embedding, Chroma) off the event loop
that serves every socket. A saved conversation is redacted with the [knowledge]
rules, like every import, and goes in through the same idempotent path as
`kb ingest`; its id comes from the conversation, so saving it again replaces it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Sequence
from typing import Protocol

import numpy as np

from assistant.errors import InputError
from assistant.learning import LEARNED_PREFIX, Learned, Lessons, forget, learned_records, lessons
from knowledge.records import Hit, Record
from knowledge.redact import Redactor


class Added(Protocol):
    """What an ingest reports (knowledge.ingest.IngestReport), as far as this reads it."""

    added: int


class KnowledgeBase(Lessons, Protocol):
    """What this needs of knowledge.base.KnowledgeBase (blocking): search, lessons, and these."""

    def add_records(self, records: Sequence[Record]) -> Added: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def intents(self) -> list[str]: ...


class AgentKnowledge:
    def __init__(self, knowledge: KnowledgeBase, redactor: Redactor) -> None:
        self.knowledge = knowledge
        self.redactor = redactor

    async def search(self, query: str, k: int) -> list[Hit]:
        """The k records nearest to the query; agents see internal records (guidelines) too."""
        return await asyncio.to_thread(self.knowledge.search, query, k, audience="any")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of the texts (blocking: call it off the loop)."""
        return self.knowledge.embed(texts)

    async def intents(self) -> list[str]:
        """The intents a saved record may be given: those of the history (sorted)."""
        return await asyncio.to_thread(self.knowledge.intents)

    async def save_resolved(self, conversation_id: str, request: str, resolution: str, *,
                            agent: str, inbox: str = "", intent: str = "") -> Record:
        """The conversation as a new record (texts redacted; InputError bad_record when either
        text is empty once redacted), stored and searchable for the next customer. With an
        `intent` of the history's (InputError unknown_intent otherwise), the intent head learns
        the customer's words for it at once (docs/understanding.md, "Learning from the
        conversations")."""
        if intent and intent not in await self.intents():
            raise InputError(f"{intent!r} is not an intent of this knowledge base.", code="unknown_intent")
        record = resolved_record(conversation_id, request, resolution, self.redactor,
                                 agent=agent, inbox=inbox, intent=intent)
        await asyncio.to_thread(self.knowledge.add_records, [record])
        return record

    async def learned(self) -> list[Record]:
        """What `assistant kb learn` learned from the conversations, newest first."""
        return await asyncio.to_thread(lessons, self.knowledge)

    async def learn(self, found: Sequence[Learned], *, exclude: Collection[str] = (),
                    dry_run: bool = False) -> tuple[list[Record], list[Learned], int]:
        """What `assistant kb learn` does with the messages its conversations confirmed
        (assistant.learning.learned_from): (the lessons, the messages left out, how many lessons
        are new); a dry run stores nothing."""
        def run() -> tuple[list[Record], list[Learned], int]:
            records, left_out = learned_records(found, self.knowledge, self.redactor, exclude=exclude)
            added = 0 if dry_run or not records else self.knowledge.add_records(records).added
            return records, left_out, added

        return await asyncio.to_thread(run)

    async def lesson(self, record_id: str) -> Record:
        """One learned record (InputError not_learned for an id that is not a learned record's,
        lesson_not_found when no such record is stored)."""
        if not record_id.startswith(LEARNED_PREFIX):
            raise InputError(f"{record_id!r} is not a learned record.", code="not_learned")
        found = await asyncio.to_thread(lessons, self.knowledge, [record_id])
        if not found:
            raise InputError(f"No learned record {record_id!r} is stored.", code="lesson_not_found")
        return found[0]

    async def forget_learned(self, record_id: str) -> None:
        """Take out one learned record and keep it out of every later `kb learn` (the errors of
        lesson())."""
        await self.lesson(record_id)
        await asyncio.to_thread(forget, self.knowledge, [record_id])


def resolved_record(conversation_id: str, request: str, resolution: str, redactor: Redactor, *,
                    agent: str, inbox: str = "", intent: str = "") -> Record:
    """The record a resolved conversation becomes (texts redacted; id stable per conversation)."""
    request, resolution = redactor.redact(request.strip()), redactor.redact(resolution.strip())
    if not request or not resolution:
        raise InputError("A record needs both the customer's request and the resolution.", code="bad_record")
    return Record(
        id=f"console-{conversation_id}",
        request=request,
        resolution=resolution,
        intent=intent,
        tags=tuple(t for t in (f"agent:{agent}", f"inbox:{inbox}" if inbox else "") if t),
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        source="console",
        kind="qa",
    )
