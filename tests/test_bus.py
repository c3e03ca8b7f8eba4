"""The message bus: MemoryBus in one process, RedisBus against the real Redis server.

Every Redis test uses its own channel prefix, so parallel runs never hear each other.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from channels.bus import GAP, BusError, MemoryBus, create_bus
from channels.bus_redis import RedisBus

BACKENDS = ["memory", pytest.param("redis", marks=pytest.mark.service)]


async def take(messages: AsyncIterator[Any], n: int) -> list[Any]:
    """The next n messages; a hang (a message that never comes) fails after 10 s."""
    async def collect() -> list[Any]:
        return [await anext(messages) for _ in range(n)]
    return await asyncio.wait_for(collect(), 10)


@pytest.fixture(params=BACKENDS)
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., Any]]:
    """Opened buses that share one network: one MemoryBus, or RedisBus workers."""
    opened: list[Any] = []
    shared = MemoryBus(max_queue=5)
    prefix = f"test:{uuid.uuid4().hex}:"
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""

    async def make(max_queue: int = 1000) -> Any:
        if not url:
            shared.max_queue = max_queue
            return shared
        bus = RedisBus(url, prefix=prefix, max_queue=max_queue)
        await bus.open()
        opened.append(bus)
        return bus

    yield make
    for bus in [shared, *opened]:
        await bus.close()


async def test_every_subscriber_receives_in_order(make_bus):
    bus = await make_bus()
    async with bus.subscribe("conv:1") as first, bus.subscribe("conv:1", "conv:2") as second:
        for i in range(20):
            await bus.publish("conv:1", {"n": i})
            await bus.publish("conv:2", {"n": i, "other": True})
        got_first = await take(first, 20)
        got_second = await take(second, 40)
    assert got_first == [("conv:1", {"n": i}) for i in range(20)]
    assert [m["n"] for t, m in got_second if t == "conv:1"] == list(range(20))
    assert [m["n"] for t, m in got_second if t == "conv:2"] == list(range(20))


async def test_only_subscribed_topics_and_only_after_subscribing(make_bus):
    bus = await make_bus()
    await bus.publish("conv:1", {"n": "before"})
    async with bus.subscribe("conv:1") as messages:
        await bus.publish("conv:other", {"n": "elsewhere"})
        await bus.publish("conv:1", {"n": "after", "nested": [1, {"a": None}]})
        assert await take(messages, 1) == [("conv:1", {"n": "after", "nested": [1, {"a": None}]})]


async def test_leaving_the_context_unsubscribes(make_bus):
    bus = await make_bus()
    async with bus.subscribe("conv:1") as messages:
        pass
    await bus.publish("conv:1", {"n": 1})
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(messages), 10)
    async with bus.subscribe("conv:1") as again:  # the topic can be followed again
        await bus.publish("conv:1", {"n": 2})
        assert await take(again, 1) == [("conv:1", {"n": 2})]


async def test_a_slow_subscriber_gets_a_gap_and_blocks_nobody(make_bus):
    bus = await make_bus(max_queue=5)
    async with bus.subscribe("conv:1") as slow, bus.subscribe("conv:1") as fast:
        received = []
        for i in range(20):
            await asyncio.wait_for(bus.publish("conv:1", {"n": i}), 10)
            received += await take(fast, 1)  # the fast one keeps up while the slow one sleeps
        assert [m["n"] for _, m in received] == list(range(20))
        await asyncio.sleep(0)
        gap, *rest = await take(slow, 6)
    assert gap == ("conv:1", {"kind": GAP, "reason": "slow_subscriber", "dropped": 15})
    assert [m["n"] for _, m in rest] == [15, 16, 17, 18, 19]


async def test_the_publisher_changing_its_dict_changes_nothing_delivered(make_bus):
    bus = await make_bus()
    async with bus.subscribe("t") as messages:
        message = {"text": "hello", "sources": ["a", "b"]}
        await bus.publish("t", message)
        message["text"] = "changed"
        assert await take(messages, 1) == [("t", {"text": "hello", "sources": ["a", "b"]})]


async def test_a_stored_event_crosses_either_bus_and_reads_back_the_same(make_bus):
    """The in-process bus hands the frozen event over without JSON; Redis carries its wire form."""
    from assistant.events import AnswerCompleted, Source
    from channels.views import event_message, event_of

    event = AnswerCompleted(conversation_id="c1", seq=4, message_id="a1", text="Hello",
                            sources=(Source(id="r1", score=0.9),))
    bus = await make_bus()
    async with bus.subscribe("conv:c1") as messages:
        await bus.publish("conv:c1", event_message(event))
        [(_, message)] = await take(messages, 1)
    assert event_of(message) == event


async def test_closed_bus_refuses_and_ends_subscriptions(make_bus):
    bus = await make_bus()
    async with bus.subscribe("t") as messages:
        await bus.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(messages), 10)
    with pytest.raises(BusError) as err:
        await bus.publish("t", {})
    assert err.value.code == "bus_closed"


@pytest.mark.service
async def test_two_redis_workers_see_each_others_messages(redis_url):
    prefix = f"test:{uuid.uuid4().hex}:"
    customer_worker, agent_worker = RedisBus(redis_url, prefix=prefix), RedisBus(redis_url, prefix=prefix)
    for bus in (customer_worker, agent_worker):
        await bus.open()
    try:
        async with customer_worker.subscribe("conv:9") as at_customer, \
                agent_worker.subscribe("conv:9") as at_agent:
            await customer_worker.publish("conv:9", {"from": "customer"})
            await agent_worker.publish("conv:9", {"from": "agent"})
            assert [m for _, m in await take(at_agent, 2)] == [{"from": "customer"}, {"from": "agent"}]
            assert [m for _, m in await take(at_customer, 2)] == [{"from": "customer"}, {"from": "agent"}]
        # One Redis subscription per worker, however many sockets: and none once they left.
        import redis.asyncio as redis

        client = redis.Redis.from_url(redis_url)
        assert await client.pubsub_numsub(prefix + "conv:9") == [((prefix + "conv:9").encode(), 0)]
        await client.aclose()
    finally:
        await customer_worker.close()
        await agent_worker.close()


@pytest.mark.service
async def test_redis_bus_ignores_a_foreign_non_json_message(redis_url):
    bus = RedisBus(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
    await bus.open()
    try:
        async with bus.subscribe("t") as messages:
            await bus._clients().publish(bus.prefix + "t", "not json {")
            await bus.publish("t", {"ok": True})
            assert await take(messages, 1) == [("t", {"ok": True})]
    finally:
        await bus.close()


async def test_unreachable_redis_fails_at_open():
    bus = RedisBus(f"redis://127.0.0.1:{_free_port()}/0")
    with pytest.raises(BusError) as err:
        await bus.open()
    assert err.value.code == "bus_unavailable"
    await bus.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_redis(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc
        except OSError:
            subprocess.run(["sleep", "0.05"], check=True)
    proc.kill()
    raise RuntimeError("redis-server did not start")


@pytest.mark.service
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
async def test_redis_bus_survives_a_redis_restart():
    port = _free_port()
    server = _start_redis(port)
    bus = RedisBus(f"redis://127.0.0.1:{port}/0")
    try:
        await bus.open()
        async with bus.subscribe("conv:1") as messages:
            await bus.publish("conv:1", {"n": "before"})
            assert await take(messages, 1) == [("conv:1", {"n": "before"})]
            server.terminate()
            server.wait()
            server = _start_redis(port)
            # Whatever was published meanwhile is lost: the subscriber is told so.
            assert await take(messages, 1) == [("conv:1", {"kind": GAP, "reason": "reconnect", "dropped": 0})]
            await bus.publish("conv:1", {"n": "after"})
            assert await take(messages, 1) == [("conv:1", {"n": "after"})]
    finally:
        await bus.close()
        server.terminate()
        server.wait()


def test_create_bus_from_settings(settings):
    assert isinstance(create_bus(settings), MemoryBus)
    redis_settings = settings.model_copy(update={"bus": settings.bus.model_copy(update={"backend": "redis"})})
    bus = create_bus(redis_settings)
    assert isinstance(bus, RedisBus) and bus.url == settings.bus.url
