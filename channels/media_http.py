"""Uploads read back: the images and voice notes of a conversation, for the widget and the console.

`GET /api/uploads/{id}` answers the stored bytes to the conversation's customer
(`X-Resume-Token`) or to an agent allowed on it (`Authorization: Bearer`). The
content type was sniffed from the bytes on upload (images and audio only), and
the response forbids the browser from sniffing or running anything else.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from channels.access import caller_is_agent

router = APIRouter()

_SAFE_HEADERS = {
    "Cache-Control": "private, max-age=3600",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Content-Disposition": "inline",
}


@router.get("/api/uploads/{attachment_id}", tags=["conversations"])
async def get_upload(request: Request, attachment_id: str,
                     x_resume_token: Annotated[str | None, Header(alias="X-Resume-Token")] = None,
                     authorization: Annotated[str | None, Header()] = None) -> Response:
    """An uploaded image or voice note, to its conversation's customer or an agent."""
    service = request.app.state.service
    attachment = await service.store.get_attachment(attachment_id)
    await caller_is_agent(service, attachment.conversation_id, x_resume_token, authorization)
    return Response(attachment.data, media_type=attachment.content_type, headers=_SAFE_HEADERS)
