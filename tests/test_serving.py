"""What `assistant serve` sets up around uvicorn for many connections.

The open-files limit is checked in a child process started with a low soft limit;
compression against uvicorn on a loopback port, with a client that asks for it.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from channels.serving import uvicorn_config

resource = pytest.importorskip("resource")
ROOT = Path(__file__).parent.parent

CHILD = """
import resource
from channels.serving import raise_open_files_limit
print(raise_open_files_limit(), *resource.getrlimit(resource.RLIMIT_NOFILE))
"""


def test_the_open_files_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(soft, 256)

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))

    out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, preexec_fn=lower, capture_output=True,
                         text=True, check=True, timeout=60).stdout.split()
    returned, new_soft, new_hard = (int(x) for x in out)
    assert new_hard == hard
    expected = hard if hard != resource.RLIM_INFINITY else 1 << 20
    assert new_soft == returned == expected > low


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def echo(ws: WebSocket) -> None:
    await ws.accept()
    await ws.send_text(await ws.receive_text())
    await ws.close()


async def test_websockets_are_not_compressed_even_when_the_client_asks(settings) -> None:
    from websockets.asyncio.client import connect

    port = free_port()
    app = Starlette(routes=[WebSocketRoute("/ws", echo)])
    server = uvicorn.Server(uvicorn_config(app, settings, host="127.0.0.1", port=port))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the server did not start"
            await asyncio.sleep(0.05)
        async with connect(f"ws://127.0.0.1:{port}/ws", compression="deflate") as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
            assert ws.request is not None and "permessage-deflate" in ws.request.headers.get(
                "Sec-WebSocket-Extensions", "")
            assert ws.response is not None and "Sec-WebSocket-Extensions" not in ws.response.headers
    finally:
        server.should_exit = True
        await task
