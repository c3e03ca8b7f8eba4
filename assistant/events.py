"""Conversation events: the append-only log that is the conversation.

Every event is frozen and typed. The store gives each a per-conversation `seq`
(1, 2, 3, …) when it is appended; the current state is a fold over the log
(`fold_state`), and the same log is what a reconnecting client replays. Events
serialise to JSON only at the edge (`to_wire`), with a `type` field.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

State = Literal["bot", "waiting_human", "human", "closed"]

# Allowed state changes; anything else is a ConversationError (bad_transition).
TRANSITIONS: dict[str, frozenset[str]] = {
    "bot": frozenset({"waiting_human", "human", "closed"}),
    "waiting_human": frozenset({"human", "bot", "closed"}),
    "human": frozenset({"bot", "closed"}),
    "closed": frozenset({"bot"}),  # a customer writing again reopens it
}


@dataclass(frozen=True, kw_only=True)
class Event:
    type: ClassVar[str] = "event"
    conversation_id: str
    seq: int = 0  # 0 until the store appends it
    at: float = field(default_factory=time.time)

    def to_wire(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("conversation_id")
        for key, value in list(data.items()):
            if isinstance(value, tuple):
                data[key] = list(value)
        return {"type": self.type, **data}


@dataclass(frozen=True, kw_only=True)
class Source:
    """A record an answer used, as a client shows it."""

    id: str
    score: float
    intent: str = ""
    category: str = ""
    title: str = ""  # request or subject of the record, for display
    audience: str = "customer"  # customer | internal (internal sources appear only in agents' suggestions)


@dataclass(frozen=True, kw_only=True)
class Option:
    """One answer a clarifying question offers ("where your order is"): a client may show it as a
    button that sends the label."""

    intent: str
    label: str


@dataclass(frozen=True, kw_only=True)
class UserMessage(Event):
    """What a customer sent. Before it is stored (seq 0) it is the dialogue's input, with no
    message_id yet: the dialogue manager gives it one when it appends it."""

    type: ClassVar[str] = "message"
    message_id: str = ""
    text: str = ""
    attachments: tuple[str, ...] = ()  # upload ids (images, audio)
    client_msg_id: str = ""  # chosen by the client; a resend with the same id is ignored
    user_id: str = ""  # verified customer identity, when there is one


@dataclass(frozen=True, kw_only=True)
class VoiceTranscript(Event):
    type: ClassVar[str] = "transcript"
    message_id: str  # the user message whose voice note this is
    text: str
    language: str = ""
    duration: float = 0.0


@dataclass(frozen=True, kw_only=True)
class ImageText(Event):
    type: ClassVar[str] = "image_text"
    message_id: str
    attachment: str
    text: str  # OCR text or a vision model's description
    method: str = "ocr"  # ocr | vlm


@dataclass(frozen=True, kw_only=True)
class AnswerStarted(Event):
    type: ClassVar[str] = "answer_started"
    message_id: str  # id of the answer, shared by its deltas


@dataclass(frozen=True, kw_only=True)
class AnswerDelta(Event):
    type: ClassVar[str] = "delta"
    message_id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class AnswerCompleted(Event):
    type: ClassVar[str] = "answer"
    message_id: str
    text: str
    sources: tuple[Source, ...] = ()
    interrupted: bool = False  # generation stopped early (shutdown, cancel); text is what was said
    grounded: bool = True  # False: the history held no answer, and the text says so (route "unsure")
    # A clarifying question ("is your question about where your order is, or how long delivery
    # takes?"): what it offers. The customer's next message is read as the choice.
    options: tuple[Option, ...] = ()


@dataclass(frozen=True, kw_only=True)
class StatusChanged(Event):
    type: ClassVar[str] = "status"
    state: State
    reason: str = ""  # customer_request | low_confidence | trigger:<pattern> | agent | closed | …
    agent: str = ""  # name of the agent who took over, when there is one
    detail: str = ""  # which signal fired on what, e.g. "classifier 0.93: get me a person"


@dataclass(frozen=True, kw_only=True)
class AgentMessage(Event):
    type: ClassVar[str] = "agent_message"
    message_id: str
    text: str
    agent: str


@dataclass(frozen=True, kw_only=True)
class Suggestion(Event):
    """A draft for the agent (state human); never shown to the customer."""

    type: ClassVar[str] = "suggestion"
    message_id: str
    text: str
    sources: tuple[Source, ...] = ()
    internal: bool = False  # drawn on internal records (guidelines): the agent rewords it, not sends it


@dataclass(frozen=True, kw_only=True)
class Note(Event):
    type: ClassVar[str] = "note"
    text: str
    author: str = ""


@dataclass(frozen=True, kw_only=True)
class Feedback(Event):
    type: ClassVar[str] = "feedback"
    message_id: str  # the answer rated
    rating: Literal["up", "down"]
    comment: str = ""


@dataclass(frozen=True, kw_only=True)
class ErrorEvent(Event):
    type: ClassVar[str] = "error"
    code: str
    message: str
    message_id: str = ""  # the customer's message whose turn it ended, when there is one
    answer_id: str = ""  # the answer it ended, when one had started (that answer gets no other close)


# Events an agent-only view sees but the customer does not.
PRIVATE_TYPES = frozenset({"suggestion", "note"})

EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (UserMessage, VoiceTranscript, ImageText, AnswerStarted, AnswerDelta, AnswerCompleted,
                StatusChanged, AgentMessage, Suggestion, Note, Feedback, ErrorEvent)
}


def event_from_dict(conversation_id: str, data: dict[str, Any]) -> Event:
    """Inverse of to_wire, for stores and buses."""
    data = dict(data)
    cls = EVENT_TYPES[data.pop("type")]
    if "sources" in data:
        data["sources"] = tuple(Source(**s) for s in data["sources"])
    if "options" in data:
        data["options"] = tuple(Option(**o) for o in data["options"])
    if "attachments" in data:
        data["attachments"] = tuple(data["attachments"])
    return cls(conversation_id=conversation_id, **data)


def fold_state(events: list[Event] | tuple[Event, ...]) -> State:
    """The conversation's state after these events (a new conversation is with the bot)."""
    state: State = "bot"
    for event in events:
        if isinstance(event, StatusChanged):
            state = event.state
    return state
