"""Run a blocking `model.generate` in a worker thread and stream it as async text.

Shared by the local transformers backends. Each request gets its own streamer and
cancel flag (two conversations never share one), and an Admission gate keeps at
most `concurrency` generations running and `queue_size` waiting: a burst waits its
turn instead of thrashing the CPU, and beyond the queue a request is refused at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from assistant.errors import AssistantError, ModelBusy, ModelError

log = logging.getLogger(__name__)


@dataclass
class GenerationStats:
    """What one generation did; handed to `on_finish` when its thread ends."""

    prompt_tokens: int
    new_tokens: int = 0
    cancelled: bool = False  # the consumer went away before the model finished
    error: str = ""
    first_token_s: float = 0.0  # from admission to the first streamed text
    seconds: float = 0.0  # from admission to the end of the thread


class Admission:
    """A fair gate: `concurrency` holders at once, `queue_size` waiters, else ModelBusy.

    Waiters are futures of whatever loop they came from, so one backend serves any
    event loop; a freed slot is handed straight to the oldest waiter.
    """

    def __init__(self, concurrency: int, queue_size: int) -> None:
        self.concurrency = concurrency
        self.queue_size = queue_size
        self.running = 0
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> None:
        with self._lock:
            if self.running < self.concurrency and not self._waiters:
                self.running += 1
                return
            if len(self._waiters) >= self.queue_size:
                raise ModelBusy(f"the model is busy ({self.queue_size} requests already waiting); "
                                "please try again in a moment")
            entry = (asyncio.get_running_loop(), asyncio.get_running_loop().create_future())
            self._waiters.append(entry)
        try:
            await entry[1]
        except asyncio.CancelledError:
            with self._lock:
                queued = entry in self._waiters
                if queued:
                    self._waiters.remove(entry)
            if not queued and entry[1].done() and not entry[1].cancelled():
                self.release()  # the slot reached us just as we were cancelled
            raise

    def release(self) -> None:
        """Thread-safe: hand the slot to the oldest waiter, or free it."""
        with self._lock:
            if not self._waiters:
                self.running -= 1
                return
            loop, fut = self._waiters.popleft()
        try:
            loop.call_soon_threadsafe(self._grant, fut)
        except RuntimeError:  # that waiter's loop is closed: pass the slot on
            self.release()

    def _grant(self, fut: asyncio.Future[None]) -> None:
        if fut.cancelled():
            self.release()
        else:
            fut.set_result(None)


class Generation:
    """One request's bridge: `streamer` and `stop` go to `generate` in the worker
    thread; text comes out of `texts()` on the event loop."""

    def __init__(self, tokenizer: Any, prompt_tokens: int, loop: asyncio.AbstractEventLoop) -> None:
        self.stats = GenerationStats(prompt_tokens=prompt_tokens)
        self.started = time.monotonic()
        self.cancel = threading.Event()
        self._tokenizer = tokenizer
        self._loop = loop
        self._queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        self._ids: list[int] = []
        self._printed = 0
        self._skip_prompt = True

    # -- streamer interface (worker thread) ----------------------------------------
    def put(self, value: Any) -> None:
        if self._skip_prompt:  # generate() first hands the streamer the prompt
            self._skip_prompt = False
            return
        self._ids.extend(int(t) for t in value.reshape(-1).tolist())
        self.stats.new_tokens = len(self._ids)
        text = self._tokenizer.decode(self._ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return  # half of a multi-byte character: wait for the rest
        self._push(text[self._printed:])
        self._printed = len(text)

    def end(self) -> None:
        text = self._tokenizer.decode(self._ids, skip_special_tokens=True)
        self._push(text[self._printed:].replace("\ufffd", ""))

    # -- stopping criterion (worker thread) ------------------------------------------
    def stop(self, input_ids: Any, scores: Any = None, **_: Any) -> Any:
        return input_ids.new_full((input_ids.shape[0],), self.cancel.is_set(), dtype=bool)

    def _push(self, item: str | BaseException | None) -> None:
        if item == "":
            return
        if isinstance(item, str) and not self.stats.first_token_s:
            self.stats.first_token_s = time.monotonic() - self.started
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the consumer's loop is gone: nobody is listening
            self.cancel.set()

    def finish(self, error: BaseException | None) -> None:
        self._push(error)
        self._push(None)

    async def texts(self) -> AsyncGenerator[str, None]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


class ThreadedRunner:
    """Owns the worker threads and the admission gate of one local model."""

    def __init__(self, name: str, concurrency: int, queue_size: int,
                 on_finish: Callable[[GenerationStats], None] | None = None) -> None:
        self.name = name
        self.admission = Admission(concurrency, queue_size)
        self.on_finish = on_finish
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"llm-{name}")

    async def stream(self, run: Callable[[Generation], None], tokenizer: Any,
                     prompt_tokens: int) -> AsyncGenerator[str, None]:
        """Admit, start `run(generation)` in a worker thread, yield its text.

        Closing this iterator (or cancelling its task) sets the cancel flag, which the
        model checks after every token, and waits for the thread to stop."""
        await self.admission.acquire()
        gen = Generation(tokenizer, prompt_tokens, asyncio.get_running_loop())
        try:
            future = self._pool.submit(self._work, run, gen)
        except RuntimeError:
            self.admission.release()
            raise ModelError(f"the {self.name} model has been shut down") from None
        try:
            async with aclosing(gen.texts()) as texts:
                async for text in texts:
                    yield text
        finally:
            gen.cancel.set()
            await asyncio.shield(asyncio.wrap_future(future))

    def _work(self, run: Callable[[Generation], None], gen: Generation) -> None:
        error: BaseException | None = None
        try:
            run(gen)
        except AssistantError as exc:
            error = exc
        except Exception as exc:  # any model failure must end the turn, never hang it
            log.exception("%s generation failed", self.name)
            error = ModelError(f"the {self.name} model failed while answering: {exc}")
        finally:
            self.admission.release()
            gen.stats.cancelled = gen.cancel.is_set()
            gen.stats.error = str(error or "")
            gen.stats.seconds = time.monotonic() - gen.started
            gen.finish(error)
            if self.on_finish is not None:
                self.on_finish(gen.stats)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
