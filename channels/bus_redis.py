"""The bus between workers: Redis pub/sub, JSON messages.

Each process holds one subscription connection, whatever the number of sockets:
a reader task receives from Redis and fans out locally (channels.bus.Fanout).
When the connection drops (Redis restarted), the reader reconnects with backoff,
subscribes again to every topic still followed, and then hands each subscriber a
gap marker, since messages published meanwhile are gone; the store has them.
Redis pub/sub channels ignore the database number, so every topic is prefixed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from channels.bus import MAX_QUEUE, BusError, Delivery, Fanout, Subscription, encode

log = logging.getLogger(__name__)


def _redis() -> Any:
    try:
        import redis.asyncio as redis
    except ImportError:
        raise BusError("redis is not installed: pip install 'support-assistant[scale]'",
                       code="dependency_missing") from None
    return redis


class RedisBus:
    def __init__(self, url: str, *, prefix: str = "assistant:", max_queue: int = MAX_QUEUE,
                 subscribe_timeout: float = 10.0) -> None:
        self.url = url
        self.prefix = prefix  # namespaces the Redis channels: one Redis can serve several deployments
        self.max_queue = max_queue  # per local subscriber, as in MemoryBus
        self.subscribe_timeout = subscribe_timeout  # seconds subscribe() waits for Redis to confirm
        self.name = f"assistant-bus-{uuid.uuid4().hex[:8]}"  # CLIENT LIST shows which worker is which
        self._fanout = Fanout()
        self._pub: Any = None
        self._sub: Any = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one (un)subscribe or reconnect on the connection at a time
        self._live: set[str] = set()  # topics Redis confirmed on the current connection
        self._progress = asyncio.Event()
        self._lost: set[str] = set()  # topics followed when the connection dropped: owe a gap
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> RedisBus:
        return cls(url)

    async def open(self) -> None:
        """Connect, failing now (bus_unavailable) if Redis cannot be reached."""
        self._clients()
        try:
            await self._pub.ping()
        except (OSError, _redis().RedisError) as exc:
            raise BusError(f"Redis at {self.url} cannot be reached: {exc}.") from exc
        self._start()

    async def __aenter__(self) -> RedisBus:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        if self._closed:
            raise BusError("The message bus is closed.", code="bus_closed")
        data = encode(message)
        try:
            await self._clients().publish(self.prefix + topic, data)
        except (OSError, _redis().RedisError) as exc:
            raise BusError(f"Redis did not take the message: {exc}.") from exc

    @asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[AsyncIterator[Delivery]]:
        if self._closed:
            raise BusError("The message bus is closed.", code="bus_closed")
        sub = Subscription(topics, self.max_queue)
        self._fanout.add(sub)
        try:
            await self._follow(sub.topics)
            yield sub
        finally:
            gone = self._fanout.remove(sub)
            sub.close()
            if gone and not self._closed:
                await self._unfollow(gone)

    async def close(self) -> None:
        self._closed = True
        self._fanout.close_all()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        await self._drop_connection()
        for client in (self._pub, self._sub):
            if client is not None:
                await client.aclose()
        self._pub = self._sub = None

    # -- the subscription connection -----------------------------------------------

    def _clients(self) -> Any:
        if self._pub is None:
            redis = _redis()
            from redis.asyncio.retry import Retry
            from redis.backoff import ExponentialBackoff, NoBackoff

            # A publish retries on a fresh connection: after a Redis restart the pooled one is dead.
            self._pub = redis.Redis.from_url(self.url, decode_responses=True,
                                             retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 3))
            # No silent retries on the subscription connection: the reader must see a
            # drop, to subscribe again and tell subscribers about the gap.
            self._sub = redis.Redis.from_url(self.url, decode_responses=True, client_name=self.name,
                                             retry=Retry(NoBackoff(), 0), health_check_interval=15)
        return self._pub

    def _start(self) -> None:
        if self._reader is None:
            self._clients()
            self._reader = asyncio.create_task(self._run(), name=f"{self.name}-reader")

    async def _follow(self, topics: frozenset[str]) -> None:
        """Subscribe in Redis and wait for the confirmation (or a reconnect that includes them)."""
        self._start()
        async with self._lock:
            self._live -= topics  # wait for a fresh confirmation, not an old one
            if self._pubsub is not None:
                try:
                    await self._pubsub.subscribe(*(self.prefix + t for t in topics))
                except (OSError, _redis().RedisError):
                    pass  # the reader reconnects and subscribes every followed topic
        try:
            async with asyncio.timeout(self.subscribe_timeout):
                while not topics <= self._live:
                    await self._progress.wait()
        except TimeoutError:
            raise BusError(f"Redis at {self.url} did not confirm the subscription.") from None

    async def _unfollow(self, topics: set[str]) -> None:
        async with self._lock:
            # Someone may have followed them again while we waited for the lock.
            topics = topics - self._fanout.topics()
            if topics and self._pubsub is not None:
                try:
                    await self._pubsub.unsubscribe(*(self.prefix + t for t in topics))
                except (OSError, _redis().RedisError):
                    pass  # a reconnect subscribes only the topics still followed

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            try:
                await self._connect()
                backoff = 0.05
                while True:
                    message = await self._pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._handle(message)
            except (OSError, _redis().RedisError) as exc:
                log.warning("bus: lost Redis (%s); reconnecting in %.2fs", exc, backoff)
                self._lost |= self._fanout.topics()
                self._live.clear()
                await self._drop_connection()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def _connect(self) -> None:
        async with self._lock:
            pubsub = self._sub.pubsub()
            await pubsub.connect()
            topics = self._fanout.topics()
            self._lost &= topics  # nobody left to tell about topics dropped meanwhile
            if topics:
                await pubsub.subscribe(*(self.prefix + t for t in topics))
            self._pubsub = pubsub

    async def _drop_connection(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except (OSError, _redis().RedisError) as exc:
                log.debug("bus: closing a dead connection: %s", exc)

    def _handle(self, message: dict[str, Any]) -> None:
        kind, channel = message["type"], message["channel"]
        if not isinstance(channel, str) or not channel.startswith(self.prefix):
            return
        topic = channel[len(self.prefix):]
        if kind == "message":
            try:
                data = json.loads(message["data"])
            except ValueError:
                log.warning("bus: dropped a message that is not JSON on %s", channel)
                return
            self._fanout.deliver(topic, data)
        elif kind == "subscribe":
            self._live.add(topic)
            if topic in self._lost:
                self._lost.discard(topic)
                self._fanout.gap(topic, "reconnect")
            self._progress.set()
            self._progress = asyncio.Event()
        elif kind == "unsubscribe":
            self._live.discard(topic)
