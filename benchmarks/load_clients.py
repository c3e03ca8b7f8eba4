"""The simulated customers of benchmarks/load.py, the bare websockets server they are
also run against (the ceiling of the stack: the same frames streamed from memory), and
a paced stand-in model: an OpenAI-compatible server streaming the fixed answer at a
set number of tokens a second, as a real model would (one word = one token here).
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from typing import Any

from assistant.llm.fake import FixedLLM

ANSWER_WORDS = len(FixedLLM.ANSWER.split())  # deltas of the stand-in's answer
TURN_TIMEOUT = 60.0


async def customer(url: str, turns: int, think: float, questions: list[str], stats: dict[str, Any]) -> None:
    """One customer: hello, then `turns` messages (drawn from `questions`), each after
    reading the previous answer for `think` seconds (jittered ±50%, so customers do not
    write in lockstep)."""
    from websockets.asyncio.client import connect

    await asyncio.sleep(random.uniform(0, think))  # arrivals spread over one think time
    try:
        async with connect(url, max_size=None, open_timeout=30, ping_interval=None) as ws:
            await ws.send(json.dumps({"type": "hello"}))
            ready = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if ready.get("type") != "ready":
                raise RuntimeError(f"no ready: {ready}")
            for i in range(turns):
                if not await one_turn(ws, random.choice(questions), f"m{i}", stats):
                    return  # handed to a person: a real customer now waits for one, not for the bot
                await asyncio.sleep(think * random.uniform(0.5, 1.5))
    except Exception as exc:  # counted, never fatal: the run reports errors
        stats["errors"].append(f"{type(exc).__name__}: {exc}"[:200])


async def one_turn(ws: Any, text: str, cmid: str, stats: dict[str, Any]) -> bool:
    """One message and what comes back: True after an answer, False after a handoff (a request
    the handoff classifier reads as asking for a person is handed over, not answered: an
    outcome of its own, counted apart from errors)."""
    start = time.perf_counter()
    await ws.send(json.dumps({"type": "message", "text": text, "client_msg_id": cmid}))
    first = None
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), TURN_TIMEOUT))
        kind = frame.get("type")
        if kind == "delta" and first is None:
            first = time.perf_counter() - start
        elif kind == "error":
            raise RuntimeError(f"error frame {frame.get('code')}: {frame.get('message')}")
        elif kind == "status" and frame.get("state") == "waiting_human":
            stats["handoffs"].append(frame.get("reason", ""))
            return False
        elif kind == "status" and frame.get("state") != "bot":
            raise RuntimeError(f"unexpected status: {frame.get('state')} ({frame.get('reason')})")
        elif kind == "answer":
            break
    stats["ttfd"].append(first if first is not None else time.perf_counter() - start)
    stats["turn"].append(time.perf_counter() - start)
    return True


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [float("nan")]
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_clients(url: str, n: int, turns: int, think: float, questions: list[str]) -> dict[str, Any]:
    stats: dict[str, Any] = {"ttfd": [], "turn": [], "errors": [], "handoffs": []}
    start = time.perf_counter()
    await asyncio.gather(*(customer(url, turns, think, questions, stats) for _ in range(n)))
    elapsed = time.perf_counter() - start
    return {"connections": n, "think_s": think, "turns": len(stats["turn"]), "expected_turns": n * turns,
            "seconds": round(elapsed, 2), "turns_per_s": round(len(stats["turn"]) / elapsed, 1),
            "ttfd_p50_ms": round(1000 * statistics.median(stats["ttfd"] or [float("nan")]), 1),
            "ttfd_p99_ms": round(1000 * percentile(stats["ttfd"], 0.99), 1),
            "turn_p50_ms": round(1000 * statistics.median(stats["turn"] or [float("nan")]), 1),
            "handoffs": len(stats["handoffs"]),
            "errors": len(stats["errors"]), "error_samples": sorted(set(stats["errors"]))[:5]}


async def bare_server(port: int, tokens_per_s: float = 0.0) -> None:
    """The ceiling; with tokens_per_s, paced like the paced model (0 = all at once)."""
    from websockets.asyncio.server import serve

    words = [f"w{i} " for i in range(ANSWER_WORDS)]

    async def handler(ws: Any) -> None:
        seq = 0

        async def send(frame: dict[str, Any]) -> None:
            nonlocal seq
            seq += 1
            await ws.send(json.dumps({**frame, "seq": seq, "at": time.time()}))

        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "hello":
                await ws.send(json.dumps({"type": "ready", "conversation_id": "c", "resume_token": "r",
                                          "state": "bot", "last_seq": 0, "resumed": False, "protocol": 1}))
            elif frame["type"] == "message":
                await send({"type": "message", "message_id": "u", "text": frame["text"],
                            "client_msg_id": frame["client_msg_id"], "attachments": [], "user_id": ""})
                await send({"type": "answer_started", "message_id": "a"})
                for word in words:
                    if tokens_per_s:
                        await asyncio.sleep(1 / tokens_per_s)
                    await send({"type": "delta", "message_id": "a", "text": word})
                await send({"type": "answer", "message_id": "a", "text": "".join(words), "sources": [],
                            "interrupted": False})

    async with serve(handler, "127.0.0.1", port, max_size=None, ping_interval=None):
        await asyncio.Future()


async def paced_model_server(port: int, tokens_per_s: float) -> None:
    """POST /v1/chat/completions (stream=true): the fixed answer, one word per SSE chunk."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    words = [w + " " for w in FixedLLM.ANSWER.split()]

    async def chunks() -> Any:
        for word in words:
            await asyncio.sleep(1 / tokens_per_s)
            yield f"data: {json.dumps({'choices': [{'delta': {'content': word}}]})}\n\n"
        yield f"data: {json.dumps({'choices': [{'delta': {}, 'finish_reason': 'stop'}]})}\n\n"
        yield "data: [DONE]\n\n"

    async def completions(request: Request) -> StreamingResponse:
        await request.body()
        return StreamingResponse(chunks(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", backlog=4096)
    await uvicorn.Server(config).serve()
