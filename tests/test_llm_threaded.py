"""The admission gate in front of local models: run N, queue M, refuse the rest, fairly."""

from __future__ import annotations

import asyncio

import pytest

from assistant.errors import ModelBusy
from assistant.llm.threaded import Admission


async def test_admits_up_to_concurrency_then_queues_then_refuses() -> None:
    gate = Admission(concurrency=2, queue_size=1)
    await gate.acquire()
    await gate.acquire()
    queued = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    assert (gate.running, gate.waiting) == (2, 1) and not queued.done()
    with pytest.raises(ModelBusy) as err:
        await gate.acquire()
    assert err.value.code == "model_busy"
    gate.release()  # the slot passes straight to the waiter
    await queued
    assert (gate.running, gate.waiting) == (2, 0)


async def test_waiters_are_served_in_arrival_order() -> None:
    gate = Admission(concurrency=1, queue_size=5)
    await gate.acquire()
    order: list[int] = []

    async def wait(i: int) -> None:
        await gate.acquire()
        order.append(i)

    tasks = [asyncio.create_task(wait(i)) for i in range(3)]
    await asyncio.sleep(0)
    for _ in range(3):
        gate.release()
        await asyncio.sleep(0.01)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]


async def test_a_cancelled_waiter_gives_up_its_place() -> None:
    gate = Admission(concurrency=1, queue_size=1)
    await gate.acquire()
    quitter = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    quitter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await quitter
    assert gate.waiting == 0
    gate.release()
    assert gate.running == 0
    await gate.acquire()  # the slot was not leaked
    assert gate.running == 1


async def test_release_from_a_worker_thread_wakes_the_waiter() -> None:
    gate = Admission(concurrency=1, queue_size=1)
    await gate.acquire()
    waiter = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    await asyncio.to_thread(gate.release)
    await asyncio.wait_for(waiter, 10)
    assert gate.running == 1
