"""A tiny OpenAI-compatible streaming server for tests, on a free loopback port.

The requested `model` picks how it behaves:
  normal     streams WORDS then [DONE]
  slow       streams numbered words forever, one every 20 ms (for disconnect tests)
  error-mid  two words, then an SSE error event (what vLLM sends when it fails)
  cut-mid    two words, then the connection drops without [DONE]
  stall-mid  two words, then silence
  http-500 / http-503 / http-429   an OpenAI-style JSON error with that status
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

WORDS = ["Your", " order", " ships", " today", "."]


def chunk(content: str | None = None, finish: str | None = None) -> str:
    delta = {"content": content} if content else {}
    body = {"object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n"


class StandIn:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.disconnected = threading.Event()
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        app = Starlette(routes=[Route("/v1/chat/completions", self.completions, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="critical", lifespan="off",
                                timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> StandIn:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("stand-in server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        mode = body.get("model", "normal")
        if mode.startswith("http-"):
            status = int(mode[5:])
            return JSONResponse({"error": {"message": f"stand-in failure {status}", "type": "server_error"}},
                                status_code=status)
        return StreamingResponse(self._events(mode), media_type="text/event-stream")

    async def _events(self, mode: str) -> AsyncIterator[str]:
        finished = False
        try:
            if mode == "slow":
                for i in range(100_000):
                    yield chunk(f" w{i}")
                    await asyncio.sleep(0.02)
            for word in WORDS[: 2 if mode.endswith("-mid") else None]:
                yield chunk(word)
            if mode == "error-mid":
                yield f"data: {json.dumps({'error': {'message': 'out of GPU memory'}})}\n\n"
            elif mode == "cut-mid":
                raise ConnectionError("stand-in drops the connection")
            elif mode == "stall-mid":
                await asyncio.sleep(3600)
            else:
                yield chunk(finish="stop")
                yield "data: [DONE]\n\n"
            finished = True
        finally:
            if not finished and mode != "cut-mid":
                self.disconnected.set()  # the client went away mid-stream


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
