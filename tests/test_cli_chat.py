"""`assistant chat` as a user runs it (a subprocess, lines on stdin) against the real app."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from live_server import Live, free_port, live_app

from assistant.events import AnswerCompleted
from channels.client import connect

ROOT = Path(__file__).parent.parent
PNG = ROOT / "tests" / "data" / "abcd" / "customer_site.png"
FLAC = ROOT / "tests" / "data" / "audio" / "jfk.flac"


@pytest.fixture
async def live(settings: Any) -> AsyncIterator[Live]:
    async with live_app(settings) as server:
        yield server


async def chat(data_dir: Path, url: str, lines: str, *extra: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "assistant", "--data-dir", str(data_dir), "chat", "--url", url, *extra,
        cwd=ROOT, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(lines.encode()), 120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_a_scripted_chat_streams_answers_sends_files_and_asks_for_a_person(
        live: Live, data_dir: Path) -> None:
    code, out, err = await chat(data_dir, live.url, f"Where is my order?\n/image {PNG}\n/voice {FLAC}\n"
                                "/image nowhere.png\n/human\n/human\nstill there?\n/quit\n")
    assert code == 0, err
    assert out.count("assistant: Hello there\n  sources: cancel_order (0.90)") == 3  # text, image, voice
    assert "error [file_not_found]" in out
    assert "[waiting for a person to join]" in out
    assert "[a person is already on the way]" in out  # a second /human does not wait for a reply
    turns = live.dialogue.turns
    assert [len(t.attachments) for t in turns] == [0, 1, 1, 0] and turns[-1].text == "still there?"
    session = json.loads((data_dir / "chat-session.json").read_text())
    assert session["url"] == live.url and session["last_seq"] > 0


async def test_the_next_chat_resumes_and_shows_what_was_said_meanwhile(live: Live, data_dir: Path) -> None:
    code, first, _ = await chat(data_dir, live.url, "hi\n")
    assert code == 0 and "[new conversation" in first
    session = json.loads((data_dir / "chat-session.json").read_text())
    async with await connect(live.url, conversation_id=session["conversation_id"],
                             resume_token=session["resume_token"], last_seq=session["last_seq"]) as phone:
        await phone.send("sent from my phone")
        async for frame in phone.frames():
            if isinstance(frame, AnswerCompleted):
                break
    code, second, _ = await chat(data_dir, live.url, "/quit\n")
    assert f"[resumed conversation {session['conversation_id']}" in second
    assert "you: sent from my phone\nassistant: Hello there" in second
    assert "hi" not in second.replace("Hello there", "")  # nothing seen before is repeated
    code, third, _ = await chat(data_dir, live.url, "/quit\n", "--new")
    assert "[new conversation" in third and session["conversation_id"] not in third


async def test_no_server_is_a_clear_error(data_dir: Path) -> None:
    code, _, err = await chat(data_dir, f"ws://127.0.0.1:{free_port()}/ws/chat", "hi\n")
    assert code == 2 and "server_unreachable" in err and "assistant serve" in err
