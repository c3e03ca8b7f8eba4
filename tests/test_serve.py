"""The real server: uvicorn on a loopback port in a subprocess, a websockets client.

Stopping the server (SIGTERM) in the middle of an answer must leave the client
with that answer finished, or ended with `interrupted: true`, and everything in
the store when the server comes back.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

ROOT = Path(__file__).parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(cmd: list[str], port: int, env: dict[str, str],
            timeout: float = 120) -> Iterator[subprocess.Popen[str]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    with tempfile.TemporaryFile("w+") as log:  # not a pipe: nobody reads it while the server runs
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**clean, **env}, stdout=log, stderr=subprocess.STDOUT,
                                text=True)
        try:
            wait_ready(proc, port, log, timeout)
            yield proc
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM (a graceful drain), then kill if it is still there after 30 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_ready(proc: subprocess.Popen[str], port: int, log: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            log.seek(0)
            raise AssertionError(f"server exited: {log.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not become ready"
        time.sleep(0.2)


def fake_server(port: int, data_dir: Path, **env: str) -> Any:
    return running([sys.executable, "tests/serve_fakes.py", str(port), str(data_dir)], port, env)


def frames_until_closed(ws: Any) -> list[dict[str, Any]]:
    frames = []
    try:
        while True:
            frames.append(json.loads(ws.recv(timeout=30)))
    except ConnectionClosed:
        return frames


def start_answer(ws: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    ws.send(json.dumps({"type": "hello"}))
    ready = json.loads(ws.recv(timeout=10))
    ws.send(json.dumps({"type": "message", "text": "where is my order", "client_msg_id": "m1"}))
    seen = []
    while not seen or seen[-1]["type"] != "delta":
        seen.append(json.loads(ws.recv(timeout=10)))
    return ready, seen


def resume_all(port: int, ready: dict[str, Any]) -> list[dict[str, Any]]:
    with connect(f"ws://127.0.0.1:{port}/ws/chat") as ws:
        ws.send(json.dumps({"type": "hello", "conversation_id": ready["conversation_id"],
                            "resume_token": ready["resume_token"]}))
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        frames = [json.loads(ws.recv(timeout=10))]
        while frames[-1]["type"] != "answer":
            frames.append(json.loads(ws.recv(timeout=10)))
    return frames


def test_sigterm_lets_the_answer_in_flight_finish(data_dir: Path) -> None:
    port = free_port()
    with fake_server(port, data_dir) as proc, connect(f"ws://127.0.0.1:{port}/ws/chat") as ws:
        ready, seen = start_answer(ws)
        proc.send_signal(signal.SIGTERM)
        rest = frames_until_closed(ws)
        assert proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once done
    answer = rest[-1]
    assert answer["type"] == "answer" and answer["interrupted"] is False
    assert answer["text"] == "".join(f"w{i} " for i in range(40))
    assert [f["seq"] for f in seen + rest] == list(range(1, 44))
    with fake_server(port, data_dir):
        assert resume_all(port, ready) == seen + rest  # all of it was stored


def test_sigterm_past_the_grace_period_ends_the_answer_as_interrupted(data_dir: Path) -> None:
    port = free_port()
    grace = {"ASSISTANT_SERVER__SHUTDOWN_GRACE": "0.3"}
    with fake_server(port, data_dir, **grace) as proc, connect(f"ws://127.0.0.1:{port}/ws/chat") as ws:
        ready, seen = start_answer(ws)
        proc.send_signal(signal.SIGTERM)
        rest = frames_until_closed(ws)
        assert proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once done
    answer = rest[-1]
    assert answer["type"] == "answer" and answer["interrupted"] is True
    said = "".join(f["text"] for f in seen + rest if f["type"] == "delta")
    assert answer["text"] == said and 0 < len(said) < len("".join(f"w{i} " for i in range(40)))
    with fake_server(port, data_dir):
        replay = resume_all(port, ready)
    assert replay == seen + rest


def test_assistant_serve_answers_from_the_knowledge_base(data_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("assistant.runtime", reason="the runtime (dialogue manager) is not built yet")
    records = tmp_path / "records.csv"
    records.write_text("request,resolution\n"
                       "how do I cancel my order,Open Orders and press Cancel next to the order.\n"
                       "how do I reset my password,Use the Forgot password link on the sign-in page.\n")
    env = {"ASSISTANT_LLM__BACKEND": "extractive", "ASSISTANT_DATA_DIR": str(data_dir)}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    cli = [sys.executable, "-m", "assistant", "--config", "config.toml"]
    subprocess.run([*cli, "kb", "ingest", str(records)], cwd=ROOT, env={**clean, **env}, check=True,
                   capture_output=True)
    port = free_port()
    with running([*cli, "serve", "--port", str(port)], port, env) as proc:
        with connect(f"ws://127.0.0.1:{port}/ws/chat") as ws:
            ws.send(json.dumps({"type": "hello"}))
            ready = json.loads(ws.recv(timeout=10))
            ws.send(json.dumps({"type": "message", "text": "I want to cancel my order",
                                "client_msg_id": "m1"}))
            frames = [json.loads(ws.recv(timeout=60))]
            while frames[-1]["type"] != "answer":
                frames.append(json.loads(ws.recv(timeout=60)))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once done
    assert "Cancel" in frames[-1]["text"]
    assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
    with running([*cli, "serve", "--port", str(port)], port, env):
        assert resume_all(port, ready) == frames
