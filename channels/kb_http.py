"""What the agents' console saves: a resolved conversation as a new knowledge-base record.

`POST /api/kb/records {conversation_id, request, resolution}` (agent token) hands
both texts to the runtime's agent knowledge (assistant.agent_knowledge), which
redacts them with the [knowledge] rules and adds one record through the same
idempotent path as `kb ingest`, so the assistant answers the next customer with
the same problem from it. Saving the same conversation again replaces its record.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field

from channels.accounts import agent_from_header
from channels.service import Service

router = APIRouter()


class NewRecord(BaseModel):
    conversation_id: Annotated[str, Field(min_length=1, max_length=200)]
    request: Annotated[str, Field(max_length=20_000)]  # what the customer asked
    resolution: Annotated[str, Field(max_length=20_000)]  # how the agent resolved it


@router.post("/api/kb/records", status_code=201, tags=["agents"])
async def save_record(request: Request, body: NewRecord,
                      authorization: Annotated[str | None, Header()] = None) -> dict[str, str]:
    """Save a conversation an agent resolved as a historical record (agents only)."""
    service: Service = request.app.state.service
    agent = await agent_from_header(service, authorization)
    info = await service.agent_conversation(agent, body.conversation_id)
    record = await service.runtime.agent_knowledge.save_resolved(
        body.conversation_id, body.request, body.resolution, agent=agent.name, inbox=info.inbox)
    return {"id": record.id, "request": record.request, "resolution": record.resolution}
