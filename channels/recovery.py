"""Closing the answers of workers that died mid-stream, on a live worker.

Every store holds a lease while it is open (assistant.store.leases). The server
sweeps twice per lease: answers left open by a worker whose lease ran out get an
`answer` event with `interrupted: true` and the text streamed so far, stored once
and published like any other event, so a customer who resumed on this worker
sees the answer end instead of hanging, and the console sees it too.

    async with sweeping(service):
        ...  # serve
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from assistant.events import AnswerCompleted, ErrorEvent

if TYPE_CHECKING:
    from channels.service import Service

log = logging.getLogger(__name__)


async def sweep_once(service: Service, lease: float) -> int:
    """Close and publish what dead workers left open; returns how many answers."""
    closes = await service.store.recover_answers(lease)
    for event in closes:
        what = "answer" if isinstance(event, AnswerCompleted) else "question"
        log.warning("%s %s of conversation %s was cut off by a worker that stopped; closed as interrupted",
                    what, event.message_id if isinstance(event, AnswerCompleted | ErrorEvent) else "",
                    event.conversation_id)
        service.metrics.error("answer_recovered")
        await service.publish(event)
    return len(closes)


async def _sweep(service: Service, lease: float) -> None:
    while True:
        try:
            await sweep_once(service, lease)
        except Exception:  # a database blip: the next sweep tries again
            log.exception("could not sweep for answers cut off by stopped workers")
        await asyncio.sleep(lease / 2)


@contextlib.asynccontextmanager
async def sweeping(service: Service) -> AsyncIterator[None]:
    """Sweep in the background while the block runs."""
    task = asyncio.create_task(_sweep(service, service.settings.store.worker_lease_seconds),
                               name="answer-recovery")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
