"""Two `assistant serve` workers on two loopback ports sharing the real PostgreSQL,
Redis and a Chroma server, each with a data directory of its own (nothing shared on
disk), and the model behind an OpenAI-compatible server: the topology of docs/deploy.md.

A customer on worker A and an agent on worker B see each other live through
Redis; then A is killed (SIGKILL) in the middle of a streamed answer and the
customer's client resumes on B with its resume token and last seq: every event
the store holds arrives exactly once, in order. Once A's lease runs out, B closes
the answer A was streaming as interrupted, with the text A had streamed, and the
customer receives that `answer` live (see docs/deploy.md, "A worker dies").
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai_standin import StandIn, chunk
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from test_serve import free_port, stop, wait_ready
from websockets.asyncio.client import connect as ws_connect

from assistant.events import AgentMessage, AnswerCompleted, AnswerDelta, Event, StatusChanged
from channels.client import ChatClient, connect

pytestmark = pytest.mark.service
ROOT = Path(__file__).parent.parent
SECRET = "scale-out-shared-token-secret-0123456789"
LONG = 400  # words of the answer that gets cut


class PacedModel(StandIn):
    """Streams a short answer, or a LONG one when the customer says 'long', one word per 25 ms."""

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        last = str(body["messages"][-1]["content"])
        words = [f" w{i}" for i in range(LONG)] if "long" in last.lower() else ["Open", " Orders", " then",
                                                                                 " Cancel", "."]
        return StreamingResponse(self._paced(words), media_type="text/event-stream")

    async def _paced(self, words: list[str]) -> AsyncIterator[str]:
        for word in words:
            yield chunk(word)
            await asyncio.sleep(0.025)
        yield chunk(finish="stop")
        yield "data: [DONE]\n\n"


def small_kb(data_dir: Path, env: dict[str, str]) -> None:
    with (ROOT / "demo" / "bitext" / "records.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    keep = [r for r in rows if r["intent"] == "cancel_order"][:10] + \
           [r for r in rows if r["intent"] == "track_order"][:10]
    path = data_dir.parent / "records.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(keep)
    subprocess.run([sys.executable, "-m", "assistant", "kb", "ingest", str(path)], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=300)


@contextmanager
def worker(port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """`assistant serve` with a data directory of its own: all it shares goes over the network."""
    with tempfile.TemporaryFile("w+") as log, tempfile.TemporaryDirectory() as own:
        env = {**env, "ASSISTANT_DATA_DIR": own}
        proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port)], cwd=ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            wait_ready(proc, port, log, 180)
            yield proc
        finally:
            stop(proc)


@pytest.fixture
def cluster_env(pg_url: str, redis_url: str, chroma_server: int, data_dir: Path) -> Iterator[dict[str, str]]:
    schema = f"scaleout_{uuid.uuid4().hex[:8]}"
    with PacedModel() as model:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
        env.update({
            "ASSISTANT_DATA_DIR": str(data_dir), "ASSISTANT_STORE__BACKEND": "postgres",
            "ASSISTANT_STORE__URL": pg_url, "ASSISTANT_STORE__PG_SCHEMA": schema,
            "ASSISTANT_BUS__BACKEND": "redis", "ASSISTANT_BUS__URL": redis_url,
            "ASSISTANT_SERVER__TOKEN_SECRET": SECRET, "ASSISTANT_SERVER__SHUTDOWN_GRACE": "1",
            "ASSISTANT_LLM__BACKEND": "openai", "ASSISTANT_LLM__OPENAI__BASE_URL": model.base_url,
            # The stand-in's fixed text is in no record, and "are you still there?" is in no record
            # either: unguarded and never unsure, so every turn streams the stand-in's answer.
            "ASSISTANT_DIALOGUE__GROUNDING": "off", "ASSISTANT_DIALOGUE__MIN_SCORE": "0",
            "ASSISTANT_DIALOGUE__UNSURE_MARGIN": "0",
            "ASSISTANT_LLM__OPENAI__MODEL": "paced", "ASSISTANT_LLM__OPENAI__TIMEOUT": "10",
            "ASSISTANT_KNOWLEDGE__CHROMA__MODE": "http",
            "ASSISTANT_KNOWLEDGE__CHROMA__PORT": str(chroma_server),
            "ASSISTANT_STORE__WORKER_LEASE_SECONDS": "2", "ASSISTANT_LOG_LEVEL": "warning"})
        small_kb(data_dir, env)
        add = subprocess.run([sys.executable, "-m", "assistant", "agents", "add", "dana", "--password-stdin",
                              "--inbox", "default"], cwd=ROOT, env=env, input="dana-password\n", text=True,
                             capture_output=True, timeout=120)
        assert add.returncode == 0, add.stderr
        try:
            yield env
        finally:
            _drop_schema(pg_url, schema)


def _drop_schema(pg_url: str, schema: str) -> None:
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(pg_url)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()

    asyncio.run(drop())


class Agent:
    """The console's side of /ws/agent, over a real socket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    async def until(self, type_: str, **match: Any) -> list[dict[str, Any]]:
        frames = []
        while True:
            frames.append(json.loads(await asyncio.wait_for(self.ws.recv(), 30)))
            last = frames[-1]
            if last["type"] == type_ and all(last.get(k) == v for k, v in match.items()):
                return frames


async def customer_until(chat: ChatClient, kind: type, seen: list[Any], **match: Any) -> Any:
    async def wait() -> Any:
        async for frame in chat.frames():
            seen.append(frame)
            if isinstance(frame, kind) and all(getattr(frame, k) == v for k, v in match.items()):
                return frame
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(wait(), 60)


async def test_a_customer_and_an_agent_on_two_workers_and_a_worker_killed_mid_answer(
        cluster_env: dict[str, str]) -> None:
    port_a, port_b = free_port(), free_port()
    url_a, url_b = f"ws://127.0.0.1:{port_a}/ws/chat", f"ws://127.0.0.1:{port_b}/ws/chat"
    with worker(port_a, cluster_env) as proc_a, worker(port_b, cluster_env):
        # A token from one worker is good on the other: they share the secret.
        async with httpx.AsyncClient() as http:
            login = await http.post(f"http://127.0.0.1:{port_a}/api/agents/login",
                                    json={"name": "dana", "password": "dana-password"})
        token = login.json()["token"]
        seen: list[Any] = []
        chat = await connect([url_a, url_b])  # a client that knows both workers, as a proxy would
        cid = chat.conversation_id
        async with ws_connect(f"ws://127.0.0.1:{port_b}/ws/agent") as ws:
            agent = Agent(ws)
            await agent.send(type="hello", token=token)
            assert (await agent.until("ready"))[-1]["agent"] == "dana"
            await agent.send(type="subscribe")
            await agent.until("conversations")
            await agent.send(type="open", conversation_id=cid)
            await agent.until("conversation", conversation_id=cid)

            # 1. A bot answer streamed by A reaches the agent on B live.
            await chat.send("I want to cancel my order")
            answer = await customer_until(chat, AnswerCompleted, seen)
            assert answer.text == "Open Orders then Cancel."
            assert answer.sources[0].intent == "cancel_order"  # found through the Chroma server
            on_b = await agent.until("answer")
            assert [f["type"] for f in on_b if f["type"] == "delta"] and on_b[-1]["text"] == answer.text

            # 2. Handoff on A, take over on B, messages both ways, hand back.
            await chat.handoff()
            await customer_until(chat, StatusChanged, seen, state="waiting_human")
            await agent.until("status", state="waiting_human")
            await agent.send(type="take_over", conversation_id=cid)
            taken = await customer_until(chat, StatusChanged, seen, state="human")
            assert taken.agent == "dana"
            await agent.send(type="reply", conversation_id=cid, text="Hi, Dana here. Which order?")
            reply = await customer_until(chat, AgentMessage, seen)
            assert reply.text == "Hi, Dana here. Which order?"
            await chat.send("Order 1234, thanks")
            said = (await agent.until("message"))[-1]
            assert said["text"] == "Order 1234, thanks" and said["conversation_id"] == cid
            await agent.send(type="hand_back", conversation_id=cid)
            await customer_until(chat, StatusChanged, seen, state="bot")

            # 3. A long answer from A; A is killed after a few deltas.
            await chat.send("Please give me the long explanation of my order")
            deltas_before = sum(isinstance(f, AnswerDelta) for f in seen)
            while sum(isinstance(f, AnswerDelta) for f in seen) < deltas_before + 5:
                await customer_until(chat, AnswerDelta, seen)
            proc_a.send_signal(signal.SIGKILL)
            proc_a.wait(10)

            # 4. The client resumes on B after its last seq; B answers the next message, and
            # closes the answer A left open once A's lease (2 s here) runs out.
            await chat.send("Are you still there?")
            await customer_until(chat, AnswerCompleted, seen, text="Open Orders then Cancel.")
            assert chat.reconnects == 1 and chat.url == url_b
            if not any(isinstance(f, AnswerCompleted) and f.interrupted for f in seen):
                await customer_until(chat, AnswerCompleted, seen, interrupted=True)
            await agent.until("answer", interrupted=True)  # the console sees it end too
            assert seen[-1].seq == chat.last_seq
            await chat.close()

        await check_log(port_b, cid, chat.resume_token or "", seen)


async def check_log(port: int, cid: str, resume_token: str, seen: list[Any]) -> None:
    """What the customer received is the store's log: once each, in order, consecutive."""
    async with httpx.AsyncClient() as http:
        r = await http.get(f"http://127.0.0.1:{port}/api/conversations/{cid}/events",
                           params={"limit": 1000}, headers={"X-Resume-Token": resume_token})
    stored = r.json()["events"]
    got = [f for f in seen if isinstance(f, Event)]
    assert [f.seq for f in got] == list(range(1, len(got) + 1))
    assert [(f.seq, f.type) for f in got] == [(e["seq"], e["type"]) for e in stored]
    # The cut answer: started, some deltas, then the `answer` B closed it with: interrupted,
    # holding exactly the text A had streamed.
    cut = [e for e in stored if e["type"] == "answer_started"][1]["message_id"]
    cut_events = [e for e in stored if e.get("message_id") == cut]
    types = [e["type"] for e in cut_events]
    assert types[0] == "answer_started" and 5 <= types.count("delta") < LONG
    [closing] = [e for e in cut_events if e["type"] == "answer"]
    assert closing["interrupted"] is True
    assert closing["text"] == "".join(e["text"] for e in cut_events if e["type"] == "delta")
