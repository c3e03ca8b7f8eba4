"""Server frames of protocol v1 that are not log events, typed once for both ends.

The server builds these and turns them into JSON (`to_wire`) only at the socket
edge (channels.outbox); Python clients get the same classes back from
`parse_server_frame`, where log frames (those with a `seq`) become the stored
events themselves (assistant.events). Fields a newer server adds are ignored,
and an unknown frame type is an `Other`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from assistant.events import EVENT_TYPES, Event, Source, State
from assistant.store.base import ConversationInfo
from channels.protocol import VERSION

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_D = TypeVar("_D", bound="DataclassInstance")


@dataclass(frozen=True)
class Ready:
    """The answer to `hello` on /ws/chat; last_seq is the newest seq of the customer's view."""

    type: ClassVar[str] = "ready"
    conversation_id: str
    resume_token: str
    state: State
    last_seq: int
    resumed: bool = False  # True when hello named a conversation to resume
    protocol: int = VERSION

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "conversation_id": self.conversation_id,
                "resume_token": self.resume_token, "state": self.state, "last_seq": self.last_seq,
                "resumed": self.resumed, "protocol": self.protocol}


@dataclass(frozen=True)
class AgentReady:
    """The answer to `hello` on /ws/agent."""

    type: ClassVar[str] = "ready"
    agent: str
    inboxes: tuple[str, ...]  # "*" = every inbox
    protocol: int = VERSION

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "agent": self.agent, "inboxes": list(self.inboxes),
                "protocol": self.protocol}


@dataclass(frozen=True)
class ServerError:
    """An error about a frame the client sent (not in the log; the socket stays usable).
    A turn that failed is a log event instead (assistant.events.ErrorEvent, with a seq)."""

    type: ClassVar[str] = "error"
    code: str  # stable, for programs
    message: str  # for people

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class TypingNotice:
    """Someone else in the conversation is typing (outside the log). What a client
    sends to say it is typing is channels.protocol.Typing."""

    type: ClassVar[str] = "typing"
    conversation_id: str
    sender: str  # customer | agent (`from` on the wire)
    agent: str = ""  # the agent's name; on the wire only when an agent types

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"type": self.type, "conversation_id": self.conversation_id,
                                "from": self.sender}
        if self.sender == "agent":
            wire["agent"] = self.agent
        return wire


@dataclass(frozen=True)
class Pong:
    """The answer to `ping`."""

    type: ClassVar[str] = "pong"
    nonce: str | None = None  # the ping's, echoed (null when it had none)

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "nonce": self.nonce}


@dataclass(frozen=True)
class ConversationSummary:
    """A conversation as the console's list shows it: sent live as it changes, and as
    the answer to `open`."""

    type: ClassVar[str] = "conversation"
    conversation_id: str
    state: State
    inbox: str
    last_seq: int  # the store's seq, which is the agent view's
    handoff_reason: str = ""
    agent: str = ""  # who has taken over, if anyone
    waiting_since: float = 0.0  # 0 when not waiting for a person
    updated_at: float = 0.0

    @classmethod
    def of(cls, info: ConversationInfo) -> ConversationSummary:
        return cls(conversation_id=info.id, state=info.state, inbox=info.inbox, last_seq=info.last_seq,
                   handoff_reason=info.handoff_reason, agent=info.agent,
                   waiting_since=info.waiting_since, updated_at=info.updated_at)

    @classmethod
    def from_item(cls, data: Mapping[str, Any]) -> ConversationSummary:
        """Inverse of `item`; other keys (`type`, a bus message's `kind`) are ignored."""
        return _build(cls, data)

    def item(self) -> dict[str, Any]:
        """The summary without `type`: an entry of `conversations`, and the body of the
        inbox topic's bus message (channels.views)."""
        return {"conversation_id": self.conversation_id, "state": self.state, "inbox": self.inbox,
                "last_seq": self.last_seq, "handoff_reason": self.handoff_reason, "agent": self.agent,
                "waiting_since": self.waiting_since, "updated_at": self.updated_at}

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, **self.item()}


@dataclass(frozen=True)
class ConversationList:
    """The answer to `subscribe`: the conversations of the subscribed inboxes."""

    type: ClassVar[str] = "conversations"
    conversations: tuple[ConversationSummary, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "conversations": [c.item() for c in self.conversations]}


@dataclass(frozen=True)
class Other:
    """A frame this client does not know (from a newer server), kept as it came."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)


# What the server sends besides log frames (those go out as channels.views builds them).
ServerFrame = Ready | AgentReady | ServerError | TypingNotice | Pong | ConversationSummary | ConversationList
# What a client gets back from parse_server_frame.
Frame = Event | ServerFrame | Other


def parse_server_frame(data: dict[str, Any], conversation_id: str = "") -> Frame:
    """One decoded JSON server frame as a typed object; log frames without their own
    `conversation_id` (the customer's view) get the one given."""
    kind = data.get("type", "")
    if kind == "ready" and "conversation_id" not in data:
        return AgentReady(agent=data["agent"], inboxes=tuple(data["inboxes"]),
                          protocol=data.get("protocol", VERSION))
    if kind == "ready":
        return _build(Ready, data)
    if kind == "error" and "seq" not in data:
        return ServerError(code=str(data.get("code", "internal")), message=str(data.get("message", "")))
    if kind == "typing":
        return TypingNotice(conversation_id=str(data.get("conversation_id") or conversation_id),
                            sender=str(data.get("from", "")), agent=str(data.get("agent", "")))
    if kind == "pong":
        return Pong(nonce=data.get("nonce"))
    if kind == "conversation":
        return ConversationSummary.from_item(data)
    if kind == "conversations":
        listed = data.get("conversations", ())
        return ConversationList(tuple(ConversationSummary.from_item(c) for c in listed))
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


def _build(cls: type[_D], values: Mapping[str, Any]) -> _D:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})
