"""The real app on uvicorn in the test's own event loop, on a free loopback port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from channel_fakes import FakeAuthenticator, FakeRuntimeFactory

from channels.app import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Live:
    def __init__(self, url: str, factory: FakeRuntimeFactory) -> None:
        self.url, self.factory = url, factory  # url of /ws/chat

    @property
    def dialogue(self) -> Any:
        return self.factory.runtime.dialogue  # type: ignore[union-attr]


@asynccontextmanager
async def live_app(settings: Any, **app_options: Any) -> AsyncIterator[Live]:
    """FakeDialogue on the real SQLite store, served by uvicorn until the block ends.
    `app_options` go to create_app (default: FakeAuthenticator's tokens)."""
    factory, port = FakeRuntimeFactory(), free_port()
    app_options.setdefault("authenticator", FakeAuthenticator())
    app = create_app(settings, factory, **app_options)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.02)
    try:
        yield Live(f"ws://127.0.0.1:{port}/ws/chat", factory)
    finally:
        server.should_exit = True
        await task
