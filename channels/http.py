"""The HTTP API: uploads, conversation history, knowledge search, health, metrics.

Customers prove a conversation is theirs with its resume token (`X-Resume-Token`);
agents send `Authorization: Bearer <token>`. Errors are `{"code", "message"}`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile as StarletteUpload

from channels.access import caller_is_agent
from channels.accounts import agent_from_header
from channels.errors import ChannelError
from channels.service import Service
from channels.uploads import read_upload
from channels.views import View, customer_last_seq

router = APIRouter()

ResumeToken = Annotated[str | None, Header(alias="X-Resume-Token")]
Authorization = Annotated[str | None, Header()]


def _service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary"},
                   "conversation_id": {"type": "string",
                                       "description": "when not in the query (then checked after the body)"}},
}}}}}


@router.post("/api/uploads", tags=["conversations"], openapi_extra=_UPLOAD_BODY)
async def upload(request: Request,
                 conversation_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
                 x_resume_token: ResumeToken = None, authorization: Authorization = None) -> dict[str, str]:
    """Store an image or a voice note for a conversation; reference its id in a `message`.

    With `conversation_id` in the query (as the widget sends it), the caller's right to the
    conversation is checked before the body is read: a stranger's upload is refused unread.
    The form field `conversation_id` still works, checked once the body is in."""
    service = _service(request)
    if conversation_id is not None:
        await caller_is_agent(service, conversation_id, x_resume_token, authorization)
    form = await request.form(max_files=1, max_fields=2)
    try:
        file, named = form.get("file"), form.get("conversation_id")
        if not isinstance(file, StarletteUpload):
            raise ChannelError("Send the file as the multipart field 'file'.", code="bad_request")
        if conversation_id is None:
            if not isinstance(named, str) or not named:
                raise ChannelError("Name the conversation: ?conversation_id=… (or a form field).",
                                   code="bad_request")
            conversation_id = named
            await caller_is_agent(service, conversation_id, x_resume_token, authorization)
        elif named not in (None, conversation_id):
            raise ChannelError("The query and the form name different conversations.", code="bad_request")
        data, content_type = await read_upload(file, service.settings)
        stored = await service.store.put_attachment(conversation_id, data, content_type, file.filename or "")
    finally:
        await form.close()
    return {"id": stored.id, "content_type": stored.content_type}


@router.get("/api/conversations/{conversation_id}/events", tags=["conversations"])
async def history(request: Request, conversation_id: str,
                  after: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                  x_resume_token: ResumeToken = None, authorization: Authorization = None) -> dict[str, Any]:
    """The log after `after`, in the caller's view (customers do not see agents' private events)."""
    service = _service(request)
    agent = await caller_is_agent(service, conversation_id, x_resume_token, authorization)
    view = View(agent=agent)
    if agent:
        view.start_after(after)
        events = await service.store.events(conversation_id, after=after)
        last_seq = (await service.store.get(conversation_id)).last_seq
    else:  # the customer's numbering is a fold from the start
        events = await service.store.events(conversation_id)
        last_seq = customer_last_seq(events)
    frames = [f for f in (view.take(e) for e in events) if f is not None and f["seq"] > after]
    return {"events": frames[:limit], "last_seq": last_seq, "has_more": len(frames) > limit}


@router.get("/api/kb/search", tags=["agents"])
async def kb_search(request: Request, q: Annotated[str, Query(min_length=1, max_length=2000)],
                    k: Annotated[int, Query(ge=1, le=50)] = 5,
                    authorization: Authorization = None) -> dict[str, Any]:
    """Search the resolved tickets, as the assistant does (agents only)."""
    service = _service(request)
    await agent_from_header(service, authorization)
    hits = await service.runtime.agent_knowledge.search(q, k)  # internal records (guidelines) too
    return {"query": q, "hits": [h.to_json() for h in hits]}


@router.get("/healthz", tags=["ops"])
async def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz", tags=["ops"])
async def readyz(request: Request) -> JSONResponse:
    """200 once models and stores are loaded and the server is not shutting down."""
    service = getattr(request.app.state, "service", None)
    if service is None:
        return JSONResponse({"ready": False, "components": {}}, status_code=503)
    ready, components = service.readiness()
    ready = ready and not service.shutting_down
    return JSONResponse({"ready": ready, "components": components}, status_code=200 if ready else 503)


@router.get("/metrics", tags=["ops"])
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this worker."""
    m = request.app.state.metrics
    return Response(m.render(), media_type=m.content_type)
