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
carried their inbox, only agents of every inbox see), `POST /api/kb/learn {dry_run?, days?}`
learns from those conversations now, as `assistant kb learn` does, and
`DELETE /api/kb/learned/{id}` takes a wrong one out for good, as `kb learn --forget ID` does
(docs/understanding.md).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field

from assistant.clarify import label
from assistant.learning import learned_from, tag
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


def _visible(agent: AgentIdentity, record: Record) -> bool:
    inbox = tag(record, "inbox")
    return may_see(agent, inbox) if inbox else "*" in agent.inboxes


def _lesson(record: Record, labels: dict[str, str]) -> dict[str, str]:
    return {"id": record.id, "request": record.request, "intent": record.intent,
            "label": label(record.intent, labels), "signal": tag(record, "learned"),
            "inbox": tag(record, "inbox"), "created_at": record.created_at}


@router.get("/api/kb/learned", tags=["agents"])
async def learned(request: Request, authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """The lessons learned from the conversations of the agent's inboxes, newest first: each
    customer's words (redacted), the intent they were confirmed for and how (agents only)."""
    service: Service = request.app.state.service
    agent = await agent_from_header(service, authorization)
    labels = service.settings.dialogue.intent_labels
    return {"lessons": [_lesson(r, labels) for r in await service.runtime.agent_knowledge.learned()
                        if _visible(agent, r)]}


class Learn(BaseModel):
    dry_run: bool = False  # list what would be learned; store nothing
    days: Annotated[int | None, Field(ge=1, le=3660)] = None  # only conversations of the last N days


@router.post("/api/kb/learn", tags=["agents"])
async def learn(request: Request, body: Learn,
                authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """`assistant kb learn` over the conversations of the agent's inboxes (agents only): the
    lessons they confirm, and how many of them are new."""
    service: Service = request.app.state.service
    agent = await agent_from_header(service, authorization)
    inboxes = () if "*" in agent.inboxes else tuple(agent.inboxes)
    since = 0.0 if body.days is None else time.time() - body.days * 86400.0
    found = await learned_from(service.store, since, inboxes=inboxes)
    records, left_out, added = await service.runtime.agent_knowledge.learn(
        found, exclude=service.settings.dialogue.handoff_intents, dry_run=body.dry_run)
    labels = service.settings.dialogue.intent_labels
    return {"confirmed": len(found), "learned": len(records), "left_out": len(left_out), "added": added,
            "dry_run": body.dry_run, "lessons": [_lesson(r, labels) for r in records]}


@router.delete("/api/kb/learned/{record_id}", tags=["agents"])
async def forget(request: Request, record_id: str,
                 authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """Take one lesson out and never learn it again (agents of its inbox only)."""
    service: Service = request.app.state.service
    agent = await agent_from_header(service, authorization)
    knowledge = service.runtime.agent_knowledge
    if not _visible(agent, await knowledge.lesson(record_id)):  # not_learned, lesson_not_found
        raise AccessError("That lesson comes from an inbox you do not handle.", code="forbidden")
    await knowledge.forget_learned(record_id)
    return {"id": record_id, "forgotten": True}
