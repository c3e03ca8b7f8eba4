"""One client's view of a conversation log, and the bus messages that carry it.

The store numbers every event of a conversation (1, 2, 3, …), private ones
(suggestion, note) included. A customer must see consecutive seqs without the
private events, so the customer view renumbers: its seq counts only the events
a customer can see. The agent view sees everything and keeps the store's
numbers. Both are folds over the same log, so a replay always numbers alike.
"""

from __future__ import annotations

from typing import Any

from assistant.events import PRIVATE_TYPES, Event, event_from_dict
from channels.frames import ConversationSummary, TypingNotice


def conv_topic(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


def inbox_topic(inbox: str) -> str:
    return f"inbox:{inbox}"


def event_message(event: Event) -> dict[str, Any]:
    """What goes on the bus for a stored event. The event itself rides along (frozen, so
    subscribers share it safely): the in-process bus hands it over as it is, and a bus
    between processes encodes it with `to_wire` (channels.bus.encode)."""
    return {"kind": "event", "conversation_id": event.conversation_id, "event": event}


def ephemeral_message(frame: TypingNotice) -> dict[str, Any]:
    """A frame outside the log (typing) for everyone following the conversation."""
    return {"kind": "ephemeral", "conversation_id": frame.conversation_id, "frame": frame.to_wire()}


def summary_message(summary: ConversationSummary) -> dict[str, Any]:
    """What goes on an inbox topic when one of its conversations changes."""
    return {"kind": "conversation", **summary.item()}


def summary_of(message: dict[str, Any]) -> ConversationSummary | None:
    if message.get("kind") != "conversation":
        return None
    return ConversationSummary.from_item(message)


def event_of(message: dict[str, Any]) -> Event | None:
    if message.get("kind") != "event":
        return None
    event = message["event"]
    return event if isinstance(event, Event) else event_from_dict(message["conversation_id"], event)


class Gap(Exception):
    """An event arrived whose predecessor this view has not seen: re-read the store."""


class View:
    """Numbers the events of one conversation for one client, in order, without duplicates."""

    def __init__(self, *, agent: bool) -> None:
        self.agent = agent  # sees private events and the store's own numbering
        self.store_seq = 0  # last store seq taken in
        self.seq = 0  # last seq of this view

    def start_after(self, store_seq: int) -> None:
        """Agent views may skip ahead: their numbering is the store's."""
        assert self.agent, "a customer view must fold the log from the start"
        self.store_seq = self.seq = store_seq

    def take(self, event: Event) -> dict[str, Any] | None:
        """The frame for the next event, or None if this view does not show it (or has it).
        Raises Gap when events in between are missing."""
        if event.seq <= self.store_seq:
            return None
        if event.seq != self.store_seq + 1:
            raise Gap(event.seq)
        self.store_seq = event.seq
        if not self.agent and event.type in PRIVATE_TYPES:
            return None
        self.seq = event.seq if self.agent else self.seq + 1
        frame = event.to_wire()
        frame["seq"] = self.seq
        if self.agent:
            frame["conversation_id"] = event.conversation_id
        return frame


def customer_last_seq(events: list[Event]) -> int:
    """The customer view's last seq after these events (from the start of the log)."""
    return sum(1 for e in events if e.type not in PRIVATE_TYPES)
