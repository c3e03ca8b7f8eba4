"""Blocking calls of concurrent turns run together (assistant.batching), each input getting
what a lone call gives it; the handoff classifier batched gives the same probabilities."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from assistant.batching import Batcher


class Slow:
    """Doubles numbers, 20 ms a call whatever its size; records each call's inputs."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.lock = threading.Lock()

    def __call__(self, items: list[int]) -> list[int]:
        with self.lock:
            self.calls.append(list(items))
        time.sleep(0.02)
        if -1 in items:
            raise ValueError("a bad input")
        return [2 * i for i in items]


async def test_inputs_that_wait_go_together_and_each_gets_its_own_result() -> None:
    run = Slow()
    batcher = Batcher(run, concurrency=1)
    first = asyncio.create_task(batcher(0))
    while not run.calls:  # the first call is running
        await asyncio.sleep(0.001)
    results = await asyncio.gather(first, *(batcher(i) for i in range(1, 10)))
    assert results == [2 * i for i in range(10)]
    assert run.calls == [[0], list(range(1, 10))]  # the nine that waited went in one call
    assert (batcher.batches, batcher.done) == (2, 10)


async def test_a_batch_holds_one_key_only() -> None:
    run = Slow()
    batcher = Batcher(run, key=lambda i: i % 2, concurrency=1)
    assert await asyncio.gather(*(batcher(i) for i in range(6))) == [0, 2, 4, 6, 8, 10]
    assert all(len({i % 2 for i in call}) == 1 for call in run.calls)


async def test_one_bad_input_fails_only_its_own_call() -> None:
    batcher = Batcher(Slow(), concurrency=1)
    results = await asyncio.gather(batcher(1), batcher(-1), batcher(3), return_exceptions=True)
    assert results[0] == 2 and results[2] == 6
    assert isinstance(results[1], ValueError)


async def test_a_finished_runner_not_yet_dropped_does_not_hold_a_place() -> None:
    # A runner that has finished stays in the set until its done-callback runs; an input
    # given in that moment must start a new runner, not wait for ever behind a dead one.
    batcher = Batcher(Slow(), concurrency=1)
    finished = asyncio.create_task(asyncio.sleep(0))
    await finished
    batcher._runners.add(finished)  # the moment before the callback removes it
    assert await asyncio.wait_for(batcher(4), 10) == 8


@pytest.mark.model
async def test_the_handoff_classifier_batched_gives_what_it_gives_alone() -> None:
    from assistant.handoff_model import PersonClassifier

    person = PersonClassifier()
    texts = ["can I talk to a real person please", "where is my parcel",
             "the agent I spoke to yesterday said it was refunded", "get me someone from your team"]
    alone = [person.probabilities([t])[0] for t in texts]
    batcher = Batcher(lambda items: list(person.probabilities(items)), concurrency=1)
    together = await asyncio.gather(*(batcher(t) for t in texts))
    assert together == pytest.approx(alone, abs=1e-4)
    assert [p >= 0.5 for p in together] == [True, False, False, True]
