"""`GET /api/reports?days=N&inbox=I`: the support lead's figures and knowledge gaps (agents only).

The same JSON as `assistant report --json` (assistant.reports; docs/reports.md). An
agent sees the inboxes they handle: all of them together, or one with `inbox`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request

from channels.accounts import agent_from_header, may_see
from channels.errors import AccessError
from channels.service import Service

router = APIRouter()


@router.get("/api/reports", tags=["agents"])
async def reports(request: Request, days: Annotated[int, Query(ge=1, le=366)] = 30,
                  inbox: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
                  gaps: Annotated[int, Query(ge=0, le=100)] = 20,
                  authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """Outcomes, daily figures and the top knowledge gaps of the conversations started in the
    last `days` days (UTC days, today included)."""
    from assistant.reports import report

    service: Service = request.app.state.service
    agent = await agent_from_header(service, authorization)
    if inbox is not None and not may_see(agent, inbox):
        raise AccessError("That inbox is not one you handle.", code="forbidden")
    allowed = tuple(agent.inboxes)
    settings = service.settings
    return await report(service.store, days=days, inbox=inbox,
                        inboxes=() if "*" in allowed else allowed,
                        embed=service.runtime.agent_knowledge.embed,
                        resolved_after=settings.reports.resolved_after,
                        gap_similarity=settings.reports.gap_similarity, gap_limit=gaps)
