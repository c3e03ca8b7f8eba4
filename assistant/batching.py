"""Blocking model calls of concurrent turns, run together.

Embedding a question, or running the handoff classifier over it, has a large fixed
cost per call: eight questions in one call cost far less than eight calls (the
classifier: 15 ms of CPU a message alone, 8 ms in a batch of eight). On a busy
server many customers write at once, so:

    classify = Batcher(person.probabilities)       # run_many: list of inputs -> list of results
    p = await classify("can I talk to someone?")

At most `concurrency` (2) calls run at a time, each in a worker thread. Inputs that
arrive while they run wait and go together in the next call (at most `max_batch`,
and only inputs with the same `key`: a batch must give what a lone call gives). A
lone input is run at once, so a quiet server answers as fast as before; a busy
one does less work per input and does not pile up parallel model runs on two
cores. When a batch fails, its inputs are run one by one, so one bad input fails
only its own turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

I = TypeVar("I")  # noqa: E741 - an input
R = TypeVar("R")  # its result

MAX_BATCH = 16  # past this, a batch's latency grows faster than the work per input shrinks
# Two calls at once: an input that comes while one runs need not wait for it (on the
# load benchmark's 2 cores, p99 time to first delta 49-53 ms against 68-72 ms with one).
CONCURRENCY = 2


@dataclass(eq=False)  # each request is itself: batches are taken out by identity
class _Request(Generic[I, R]):
    item: I
    key: Hashable
    done: asyncio.Future[R] = field(repr=False)


class Batcher(Generic[I, R]):
    def __init__(self, run_many: Callable[[list[I]], Sequence[R]], *,
                 key: Callable[[I], Hashable] = lambda _: None,
                 max_batch: int = MAX_BATCH, concurrency: int = CONCURRENCY) -> None:
        self.run_many = run_many  # blocking; called in a worker thread
        self.key = key
        self.max_batch = max_batch
        self.concurrency = concurrency  # calls (batches) running at once
        self._waiting: list[_Request[I, R]] = []
        self._runners: set[asyncio.Task[None]] = set()
        self.batches = 0  # calls made, for tests and benchmarks
        self.done = 0  # inputs answered

    async def __call__(self, item: I) -> R:
        """What run_many([item]) gives for this input."""
        request: _Request[I, R] = _Request(item, self.key(item), asyncio.get_running_loop().create_future())
        self._waiting.append(request)
        # A finished runner stays in the set until its done-callback runs: count live ones.
        if sum(not r.done() for r in self._runners) < self.concurrency:
            runner = asyncio.create_task(self._run())
            self._runners.add(runner)
            runner.add_done_callback(self._runners.discard)
        # A turn cancelled while it waits cancels only its own future: the batch goes on
        # for the others and its result for this one is dropped.
        return await request.done

    async def _run(self) -> None:
        batch: list[_Request[I, R]] = []
        try:
            while self._waiting:
                key = self._waiting[0].key
                batch = [r for r in self._waiting if r.key == key][: self.max_batch]
                self._waiting = [r for r in self._waiting if r not in batch]
                await self._call(batch)
        finally:  # cancelled (the server is stopping): nobody may wait for ever
            others = [r for r in self._runners if r is not asyncio.current_task() and not r.done()]
            for request in batch if others else [*batch, *self._waiting]:
                if not request.done.done():
                    request.done.cancel()

    async def _call(self, batch: list[_Request[I, R]]) -> None:
        try:
            results = await asyncio.to_thread(self.run_many, [r.item for r in batch])
        except Exception as exc:  # noqa: BLE001 - each input gets its own outcome below
            if len(batch) == 1:
                _settle(batch[0], exc=exc)
                return
            # One bad input must not fail the others: run them one by one.
            log.debug("batched call failed (%s); running one by one", exc)
            for request in batch:
                await self._call([request])
            return
        self.batches += 1
        self.done += len(batch)
        for request, result in zip(batch, results, strict=True):
            _settle(request, result=result)


def _settle(request: _Request[I, R], *, result: R | None = None, exc: BaseException | None = None) -> None:
    if request.done.done():  # its turn went away
        return
    if exc is not None:
        request.done.set_exception(exc)
    else:
        request.done.set_result(result)  # type: ignore[arg-type]
