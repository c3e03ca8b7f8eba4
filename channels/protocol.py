"""Websocket protocol v1: the frames clients send, parsed strictly.

`parse_client_frame(raw, endpoint)` turns one text frame into a typed, frozen
frame or raises ProtocolError with a stable code (bad_json, unknown_type,
bad_field). Unknown extra fields are ignored so newer clients keep working.
Server frames are log events as a view numbers them (channels.views) or the typed
frames of channels.frames, made JSON only at the socket edge.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, overload

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from channels.errors import ProtocolError

VERSION = 1

Id = Annotated[str, Field(min_length=1, max_length=200)]
Seq = Annotated[int, Field(ge=0)]


class _Frame(BaseModel):
    # strict: "5" is not an int and 1 is not a string; a wrong type is a bad_field.
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


# -- customer frames (/ws/chat) ------------------------------------------------------

class Hello(_Frame):
    type: Literal["hello"]
    conversation_id: Id | None = None  # resume this conversation (with resume_token or identity)
    resume_token: str | None = None
    last_seq: Seq | None = None  # last seq the client has seen; missing = send the whole log
    user_id: Id | None = None  # identity from the site, verified with user_hash (HMAC)
    user_hash: str | None = None
    inbox: Annotated[str, Field(min_length=1, max_length=100)] | None = None  # tenant/inbox


class MessageFrame(_Frame):
    type: Literal["message"]
    text: str = ""
    attachments: list[Id] = []  # upload ids from POST /api/uploads
    client_msg_id: Id  # chosen by the client; a resend with the same id is not processed twice


class Handoff(_Frame):
    type: Literal["handoff"]
    reason: Annotated[str, Field(max_length=200)] = "customer_request"


class FeedbackFrame(_Frame):
    type: Literal["feedback"]
    message_id: Id  # the answer rated
    rating: Literal["up", "down"]
    comment: Annotated[str, Field(max_length=2000)] = ""


class Typing(_Frame):
    type: Literal["typing"]
    conversation_id: Id | None = None  # agents name the conversation; customers have one


class Ping(_Frame):
    type: Literal["ping"]
    nonce: Annotated[str, Field(max_length=100)] | None = None  # echoed in the pong


# -- agent frames (/ws/agent) --------------------------------------------------------

class AgentHello(_Frame):
    type: Literal["hello"]
    token: str = ""  # from the login endpoint; "" = the socket's Authorization: Bearer header


class Subscribe(_Frame):
    type: Literal["subscribe"]
    inboxes: list[Id] = []  # [] = every inbox the agent may see


class Open(_Frame):
    type: Literal["open"]
    conversation_id: Id
    last_seq: Seq | None = None


class Leave(_Frame):
    type: Literal["leave"]
    conversation_id: Id


class _OnConversation(_Frame):
    conversation_id: Id


class TakeOver(_OnConversation):
    type: Literal["take_over"]


class HandBack(_OnConversation):
    type: Literal["hand_back"]


class Close(_OnConversation):
    type: Literal["close"]


class Suggest(_OnConversation):
    type: Literal["suggest"]


class Reply(_OnConversation):
    type: Literal["reply"]
    text: Annotated[str, Field(min_length=1)]


ChatFrame = Hello | MessageFrame | Handoff | FeedbackFrame | Typing | Ping
ConversationFrame = Open | Leave | TakeOver | HandBack | Close | Suggest | Reply | Typing  # name one
AgentFrame = AgentHello | Subscribe | ConversationFrame | Ping

_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "chat": TypeAdapter(Annotated[ChatFrame, Field(discriminator="type")]),
    "agent": TypeAdapter(Annotated[AgentFrame, Field(discriminator="type")]),
}
FRAME_TYPES: dict[str, frozenset[str]] = {
    "chat": frozenset({"hello", "message", "handoff", "feedback", "typing", "ping"}),
    "agent": frozenset({"hello", "subscribe", "open", "leave", "take_over", "hand_back", "close",
                        "suggest", "reply", "typing", "ping"}),
}


@overload
def parse_client_frame(raw: str | bytes, endpoint: Literal["chat"] = "chat") -> ChatFrame: ...


@overload
def parse_client_frame(raw: str | bytes, endpoint: Literal["agent"]) -> AgentFrame: ...


def parse_client_frame(raw: str | bytes,
                       endpoint: Literal["chat", "agent"] = "chat") -> ChatFrame | AgentFrame:
    """One client frame, typed; or ProtocolError(bad_json | bad_text | unknown_type | bad_field)."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested 1,000+ deep
        raise ProtocolError("The frame is not valid JSON.", code="bad_json") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolError("A frame is a JSON object with a string 'type'.", code="bad_json")
    if not _encodable(data):
        raise ProtocolError("The frame holds text that is not valid Unicode (a lone surrogate).",
                            code="bad_text")
    if data["type"] not in FRAME_TYPES[endpoint]:
        known = ", ".join(sorted(FRAME_TYPES[endpoint]))
        raise ProtocolError(f"Unknown frame type '{data['type'][:40]}'; expected one of: {known}.",
                            code="unknown_type")
    try:
        frame: ChatFrame | AgentFrame = _ADAPTERS[endpoint].validate_python(data)
        return frame
    except ValidationError as exc:
        raise ProtocolError(_describe(exc), code="bad_field") from None


def _encodable(value: Any) -> bool:
    """Every string in it can be stored as UTF-8 ("\\udfff" from JSON cannot)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_encodable(k) and _encodable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_encodable(v) for v in value)
    return True


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"][1:]) or "frame"  # loc[0] is the union tag
    return f"Field '{field}': {err['msg']}."
