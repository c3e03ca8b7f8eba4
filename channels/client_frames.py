"""Server frames of protocol v1 as typed objects, for Python clients (channels.client).

Log frames (those with a `seq`) become the same frozen events the server stores
(assistant.events); the rest are the small dataclasses below. Fields a newer
server adds are ignored, an unknown frame type is an `Other`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from assistant.events import EVENT_TYPES, Event, Source


@dataclass(frozen=True)
class Ready:
    conversation_id: str
    resume_token: str
    state: str
    last_seq: int
    resumed: bool = False
    protocol: int = 1


@dataclass(frozen=True)
class ServerError:
    """An error about a frame the client sent (not in the log; the socket stays usable)."""

    code: str
    message: str


@dataclass(frozen=True)
class Typing:
    sender: str  # customer | agent
    agent: str = ""


@dataclass(frozen=True)
class Pong:
    nonce: str | None = None


@dataclass(frozen=True)
class Other:
    type: str
    data: dict[str, Any] = field(default_factory=dict)


Frame = Event | Ready | ServerError | Typing | Pong | Other


def parse_server_frame(data: dict[str, Any], conversation_id: str = "") -> Frame:
    """One decoded JSON server frame as a typed object."""
    kind = data.get("type", "")
    if kind == "ready":
        return _build(Ready, data)
    if kind == "error" and "seq" not in data:
        return ServerError(code=str(data.get("code", "internal")), message=str(data.get("message", "")))
    if kind == "typing":
        return Typing(sender=str(data.get("from", "")), agent=str(data.get("agent", "")))
    if kind == "pong":
        return Pong(nonce=data.get("nonce"))
    cls = EVENT_TYPES.get(kind)
    if cls is None or "seq" not in data:
        return Other(type=str(kind), data=data)
    values = dict(data)
    if "sources" in values:
        values["sources"] = tuple(_build(Source, s) for s in values["sources"])
    if "attachments" in values:
        values["attachments"] = tuple(values["attachments"])
    values["conversation_id"] = data.get("conversation_id") or conversation_id
    return _build(cls, values)


def _build(cls: Any, values: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})
