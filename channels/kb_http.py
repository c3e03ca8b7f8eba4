"""What the agents' console saves: a resolved conversation as a new knowledge-base record.

`POST /api/kb/records {conversation_id, request, resolution, intent?}` (agent token) hands
both texts to the runtime's agent knowledge (assistant.agent_knowledge), which
redacts them with the [knowledge] rules and adds one record through the same
idempotent path as `kb ingest`, so the assistant answers the next customer with
the same problem from it. Saving the same conversation again replaces its record.
An `intent` (one of `GET /api/kb/intents`) makes the customer's words an example of
it for the intent head as well.

`GET /api/kb/learned` lists what `assistant kb learn` learned from the conversations of the
agent's inboxes (a lesson from an inbox the agent does not handle, or from before lessons
carried their inbox, only agents of every inbox see), and `DELETE /api/kb/learned/{id}` takes
a wrong one out for good, as `kb learn --forget ID` does (docs/understanding.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field

from assistant.clarify import label
from channels.accounts import AgentIdentity, agent_from_header, may_see
from channels.errors import AccessError
from channels.service import Service
from knowledge.records import Record

router = APIRouter()


class NewRecord(BaseModel):
    conversation_id: Annotated[str, Field(min_length=1, max_length=200)]
    request: Annotated[str, Field(max_length=20_000)]  # what the customer asked
    resolution: Annotated[str, Field(max_length=20_000)]  # how the agent resolved it
    intent: Annotated[str, Field(max_length=200)] = ""  # what it was about: one of /api/kb/intents, or ""


@router.post("/api/kb/records", status_code=201, tags=["agents"])
async def save_record(request: Request, body: NewRecord,
                      authorization: Annotated[str | None, Header()] = None) -> dict[str, str]:
    """Save a conversation an agent resolved as a historical record (agents only)."""
    service: Service = request.app.state.service
    agent = await agent_from_header(service, authorization)
    info = await service.agent_conversation(agent, body.conversation_id)
    record = await service.runtime.agent_knowledge.save_resolved(
        body.conversation_id, body.request, body.resolution, agent=agent.name, inbox=info.inbox,
        intent=body.intent)
    return {"id": record.id, "request": record.request, "resolution": record.resolution,
            "intent": record.intent}


@router.get("/api/kb/intents", tags=["agents"])
async def intents(request: Request, authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """The history's intents, each with the label customers read (`dialogue.intent_labels`; the
    id's words without one), for naming what a saved conversation was about (agents only)."""
    service: Service = request.app.state.service
    await agent_from_header(service, authorization)
    labels = service.settings.dialogue.intent_labels
    return {"intents": [{"intent": i, "label": label(i, labels)}
                        for i in await service.runtime.agent_knowledge.intents()]}


def _inbox(record: Record) -> str:
    return next((t.removeprefix("inbox:") for t in record.tags if t.startswith("inbox:")), "")


def _visible(agent: AgentIdentity, record: Record) -> bool:
    inbox = _inbox(record)
    return may_see(agent, inbox) if inbox else "*" in agent.inboxes


@router.get("/api/kb/learned", tags=["agents"])
async def learned(request: Request, authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """The lessons learned from the conversations of the agent's inboxes, newest first: each
    customer's words (redacted), the intent they were confirmed for and how (agents only)."""
    service: Service = request.app.state.service
    agent = await agent_from_header(service, authorization)
    labels = service.settings.dialogue.intent_labels
    return {"lessons": [
        {"id": r.id, "request": r.request, "intent": r.intent, "label": label(r.intent, labels),
         "signal": next((t.removeprefix("learned:") for t in r.tags if t.startswith("learned:")), ""),
         "inbox": _inbox(r), "created_at": r.created_at}
        for r in await service.runtime.agent_knowledge.learned() if _visible(agent, r)]}


@router.delete("/api/kb/learned/{record_id}", tags=["agents"])
async def forget(request: Request, record_id: str,
                 authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """Take one lesson out and never learn it again (agents of its inbox only)."""
    service: Service = request.app.state.service
    agent = await agent_from_header(service, authorization)
    knowledge = service.runtime.agent_knowledge
    record = next((r for r in await knowledge.learned() if r.id == record_id), None)
    if record is not None and not _visible(agent, record):
        raise AccessError("That lesson comes from an inbox you do not handle.", code="forbidden")
    await knowledge.forget_learned(record_id)  # not_learned, lesson_not_found
    return {"id": record_id, "forgotten": True}
