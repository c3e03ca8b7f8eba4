"""channels.feed.follow: a socket's feed is running and announced before the socket goes on."""

from __future__ import annotations

import asyncio
import logging

import pytest

from assistant.events import UserMessage
from channels.bus import MemoryBus
from channels.feed import Feed, follow
from channels.views import View


async def test_follow_returns_the_running_feed_after_the_announcement_and_the_backlog(sqlite_store) -> None:
    conv = await sqlite_store.create()
    await sqlite_store.append(UserMessage(conversation_id=conv.id, message_id="u1", text="hi"))
    sent: list[dict] = []

    async def announce(last_seq: int) -> None:
        sent.append({"type": "ready", "last_seq": last_seq})

    async def send(frame: dict) -> None:
        sent.append(frame)

    bus = MemoryBus()
    task = await follow(Feed(sqlite_store, bus, conv.id, View(agent=False), send), None, announce)
    assert sent[0] == {"type": "ready", "last_seq": 1} and not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


class Broken:
    """A store whose reads fail with the given error (an OSError stands for a socket gone away)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def events(self, conversation_id: str, after: int = 0) -> list:
        raise self.error


@pytest.mark.parametrize(("error", "logged"), [(OSError("socket closed"), False), (KeyError("bug"), True)])
async def test_a_feed_that_dies_before_announcing_ends_follow_and_only_a_bug_is_reported(
        error: Exception, logged: bool, caplog) -> None:
    failures: list[str] = []

    async def on_failure() -> None:
        failures.append("closed")

    async def nothing(_: object) -> None:
        return None

    feed = Feed(Broken(error), MemoryBus(), "c1", View(agent=False), nothing)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR):
        task = await asyncio.wait_for(follow(feed, None, nothing, on_failure=on_failure), 5)
    assert task.done()
    assert ("feed of conversation c1 failed" in caplog.text) is logged
    assert failures == (["closed"] if logged else [])
