"""What the agents' console saves: a resolved conversation as a new knowledge-base record.

`POST /api/kb/records {conversation_id, request, resolution}` (agent token) redacts
both texts with the [knowledge] redaction rules and hands one Record to the
runtime's knowledge base (`add_records`, the same idempotent path as `kb ingest`),
so the assistant answers the next customer with the same problem from it.
Saving the same conversation again replaces its record: the id is derived from it.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Protocol, runtime_checkable

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from channels.accounts import agent_from_header
from channels.errors import ChannelError
from knowledge.records import Record
from knowledge.redact import Redactor

router = APIRouter()


@runtime_checkable
class KnowledgeWriter(Protocol):
    """The part of the knowledge base this endpoint calls (knowledge.base.KnowledgeBase has it)."""

    def add_records(self, records: list[Record]) -> Any: ...


class NewRecord(BaseModel):
    conversation_id: Annotated[str, Field(min_length=1, max_length=200)]
    request: Annotated[str, Field(max_length=20_000)]  # what the customer asked
    resolution: Annotated[str, Field(max_length=20_000)]  # how the agent resolved it


def build_record(body: NewRecord, agent_name: str, redactor: Redactor, inbox: str = "") -> Record:
    """The record a saved conversation becomes (texts redacted; id stable per conversation)."""
    request, resolution = redactor.redact(body.request.strip()), redactor.redact(body.resolution.strip())
    if not request or not resolution:
        raise ChannelError("A record needs both the customer's request and the resolution.",
                           code="bad_record")
    return Record(
        id=f"console-{body.conversation_id}",
        request=request,
        resolution=resolution,
        tags=tuple(t for t in (f"agent:{agent_name}", f"inbox:{inbox}" if inbox else "") if t),
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        source="console",
        kind="qa",
    )


@router.post("/api/kb/records", status_code=201, tags=["agents"])
async def save_record(request: Request, body: NewRecord,
                      authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """Save a conversation an agent resolved as a historical record (agents only)."""
    service = request.app.state.service
    agent = await agent_from_header(service, authorization)
    info = await service.agent_conversation(agent, body.conversation_id)
    redactor = Redactor(service.settings.knowledge.redact_patterns)
    record = build_record(body, agent.name, redactor, info.inbox)
    knowledge = service.runtime.knowledge
    if not isinstance(knowledge, KnowledgeWriter):
        raise ChannelError("This server's knowledge base cannot take new records.", code="kb_read_only")
    # Embedding is CPU work: keep it off the event loop that serves every socket.
    await run_in_threadpool(knowledge.add_records, [record])
    return {"id": record.id, "request": record.request, "resolution": record.resolution}
