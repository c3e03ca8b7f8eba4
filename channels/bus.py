"""The pub/sub bus that carries stored events to every socket following a conversation.

`MemoryBus` serves one process; `RedisBus` (channels.bus_redis) connects workers.
The bus is a live feed, not a log: the store is the log. A subscriber that falls
behind never blocks a publisher or the other subscribers: its oldest messages are
dropped and it receives a gap marker, `(topic, {"kind": "gap", "reason": …,
"dropped": n})`, before the messages that follow; it then re-reads the store
after the last seq it has (the websocket feed does). RedisBus sends the same
marker on every topic after it reconnects to Redis, since messages published
while it was away are lost.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from assistant.errors import ConfigError
from assistant.events import Event
from assistant.settings import Settings
from channels.errors import ChannelError

Delivery = tuple[str, dict[str, Any]]  # (topic, message) as a subscriber receives it

GAP = "gap"  # the `kind` of a gap marker
MAX_QUEUE = 1000  # messages held for a subscriber before its oldest are dropped


class BusError(ChannelError):
    """The bus cannot deliver (Redis unreachable) or was closed."""

    code = "bus_unavailable"


class Bus(Protocol):
    async def open(self) -> None:
        """Connect (Redis); the app opens the bus in its lifespan and closes it on shutdown."""
        ...

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Deliver a message (JSON values, or objects with `to_wire`: see `encode`) to every
        current subscriber of the topic."""
        ...

    def subscribe(self, *topics: str) -> AbstractAsyncContextManager[AsyncIterator[Delivery]]:
        """Messages published on these topics from the moment the context is entered
        until it exits (which unsubscribes). Treat the message dicts as read-only."""
        ...

    async def close(self) -> None: ...


def encode(message: dict[str, Any]) -> str:
    """A message as JSON for a bus between processes: a stored event inside it (channels.views)
    goes as its wire form, which the receiving side's views decode again."""
    return json.dumps(message, separators=(",", ":"), default=_wire)


def _wire(value: object) -> Any:
    if isinstance(value, Event):
        return value.to_wire()
    raise TypeError(f"{type(value).__name__} cannot go on the bus")


def gap_marker(reason: str, dropped: int = 0) -> dict[str, Any]:
    return {"kind": GAP, "reason": reason, "dropped": dropped}


class Subscription:
    """One subscriber's bounded buffer; iterate it for (topic, message)."""

    def __init__(self, topics: Iterable[str], max_queue: int = MAX_QUEUE) -> None:
        self.topics = frozenset(topics)
        self.max_queue = max_queue
        self._queue: deque[Delivery] = deque()
        self._gaps: dict[str, dict[str, Any]] = {}  # topic -> marker still to deliver
        self._wakeup = asyncio.Event()
        self._closed = False

    def put(self, topic: str, message: dict[str, Any]) -> None:
        """Never blocks: a full buffer drops its oldest message and owes a gap marker."""
        if self._closed:
            return
        if len(self._queue) >= self.max_queue:
            old_topic, _ = self._queue.popleft()
            self.gap(old_topic, "slow_subscriber", 1)
        self._queue.append((topic, message))
        self._wakeup.set()

    def gap(self, topic: str, reason: str, dropped: int = 0) -> None:
        marker = self._gaps.setdefault(topic, gap_marker(reason))
        marker["dropped"] += dropped
        self._wakeup.set()

    def close(self) -> None:
        self._closed = True
        self._queue.clear()
        self._wakeup.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Delivery:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._gaps:
                # The marker goes before what is still queued: those came after the loss.
                topic = next(iter(self._gaps))
                return topic, self._gaps.pop(topic)
            if self._queue:
                return self._queue.popleft()
            self._wakeup.clear()
            await self._wakeup.wait()


class Fanout:
    """Local delivery: topic -> the subscriptions that want it (shared by both buses)."""

    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = {}

    def topics(self) -> set[str]:
        return set(self._subs)

    def add(self, sub: Subscription) -> set[str]:
        """Register; returns the topics nobody here followed before."""
        new = {t for t in sub.topics if t not in self._subs}
        for topic in sub.topics:
            self._subs.setdefault(topic, set()).add(sub)
        return new

    def remove(self, sub: Subscription) -> set[str]:
        """Unregister; returns the topics nobody here follows any more."""
        gone = set()
        for topic in sub.topics:
            subs = self._subs.get(topic, set())
            subs.discard(sub)
            if not subs:
                self._subs.pop(topic, None)
                gone.add(topic)
        return gone

    def deliver(self, topic: str, message: dict[str, Any]) -> None:
        for sub in tuple(self._subs.get(topic, ())):
            sub.put(topic, message)

    def gap(self, topic: str, reason: str) -> None:
        for sub in tuple(self._subs.get(topic, ())):
            sub.gap(topic, reason)

    def close_all(self) -> None:
        for sub in {s for subs in self._subs.values() for s in subs}:
            sub.close()
        self._subs.clear()


class MemoryBus:
    """In-process bus: one worker, or tests."""

    def __init__(self, max_queue: int = MAX_QUEUE) -> None:
        self.max_queue = max_queue
        self._fanout = Fanout()
        self._closed = False

    @classmethod
    def from_url(cls, url: str = "") -> MemoryBus:
        return cls()

    async def open(self) -> None:
        pass

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        if self._closed:
            raise BusError("The message bus is closed.", code="bus_closed")
        # Handed over as it is, in a dict of its own (a publisher changing its dict afterwards
        # changes nothing delivered); an event in it is frozen. No JSON: that is for the socket.
        self._fanout.deliver(topic, dict(message))

    @asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[AsyncIterator[Delivery]]:
        sub = Subscription(topics, self.max_queue)
        self._fanout.add(sub)
        try:
            yield sub
        finally:
            self._fanout.remove(sub)
            sub.close()

    async def close(self) -> None:
        self._closed = True
        self._fanout.close_all()


# config bus.backend -> "module:factory"; the factory takes the bus URL.
BUSES = {
    "memory": "channels.bus:MemoryBus.from_url",
    "redis": "channels.bus_redis:RedisBus.from_url",
}


def create_bus(settings: Settings) -> Bus:
    """The bus that [bus] names, not yet opened (call `await bus.open()`)."""
    import importlib

    backend, url = settings.bus.backend, settings.bus.url
    if backend not in BUSES:
        raise ConfigError(f"unknown bus '{backend}'; choose one of: {', '.join(sorted(BUSES))}")
    module, _, attr = BUSES[backend].partition(":")
    cls_name, _, method = attr.partition(".")
    factory = getattr(getattr(importlib.import_module(module), cls_name), method)
    bus: Bus = factory(url)
    return bus
