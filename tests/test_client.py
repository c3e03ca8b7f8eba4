"""channels.client against the real app on uvicorn (loopback port), FakeDialogue on real SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from live_server import Live, live_app

from assistant.events import AnswerCompleted, AnswerDelta, Event, UserMessage
from channels.client import ChatClient, ClientError, connect, http_base
from channels.frames import Ready, ServerError, parse_server_frame

PNG = Path(__file__).parent / "data" / "abcd" / "customer_site.png"
WORDS = tuple(f"w{i} " for i in range(30))


@pytest.fixture
async def live(settings: Any) -> AsyncIterator[Live]:
    async with live_app(settings) as server:
        yield server


async def until_answer(chat: ChatClient, drop_after_deltas: int | None = None) -> list[Any]:
    frames: list[Any] = []
    deltas = 0
    async for frame in chat.frames():
        frames.append(frame)
        if isinstance(frame, AnswerDelta):
            deltas += 1
            if deltas == drop_after_deltas:
                chat._ws.transport.abort()  # the network goes away, no close handshake
        if isinstance(frame, AnswerCompleted):
            return frames
    raise AssertionError(f"no answer: {frames}")


def seqs(frames: list[Any]) -> list[int]:
    return [f.seq for f in frames if isinstance(f, Event)]


async def test_a_conversation_streams_typed_frames(live: Live) -> None:
    async with await connect(live.url) as chat:
        assert isinstance(chat.ready, Ready) and chat.ready.resumed is False
        cmid = await chat.send("Where is my order?")
        frames = await until_answer(chat)
    echo = frames[0]
    assert isinstance(echo, UserMessage) and echo.client_msg_id == cmid and echo.text == "Where is my order?"
    assert "".join(f.text for f in frames if isinstance(f, AnswerDelta)) == "Hello there"
    assert frames[-1].sources[0].intent == "cancel_order"
    assert seqs(frames) == list(range(1, len(frames) + 1)) and chat.last_seq == len(frames)
    assert chat.pending == {}  # the echo acknowledged it


async def test_a_dropped_socket_resumes_mid_answer_with_nothing_lost_or_repeated(live: Live) -> None:
    live.dialogue.words, live.dialogue.delay = WORDS, 0.02
    async with await connect(live.url) as chat:
        await chat.send("tell me a long story")
        frames = await until_answer(chat, drop_after_deltas=3)
    assert chat.reconnects == 1
    resumed = [f for f in frames if isinstance(f, Ready)]
    assert len(resumed) == 1 and resumed[0].resumed
    log = [f for f in frames if isinstance(f, Event)]
    assert seqs(log) == list(range(1, len(log) + 1))  # consecutive: no gap, no duplicate
    assert "".join(f.text for f in log if isinstance(f, AnswerDelta)) == "".join(WORDS)
    assert log[-1].text == "".join(WORDS) and not log[-1].interrupted


async def test_a_message_sent_while_disconnected_arrives_once_after_the_resume(live: Live) -> None:
    async with await connect(live.url) as chat:
        chat._ws.transport.abort()
        await asyncio.sleep(0.05)
        cmid = await chat.send("are you there?")  # the socket is gone: kept in pending
        frames = await until_answer(chat)
    messages = [f for f in frames if isinstance(f, UserMessage)]
    assert [m.client_msg_id for m in messages] == [cmid]
    assert len([f for f in frames if isinstance(f, AnswerCompleted)]) == 1


async def test_a_new_client_resumes_with_token_and_last_seq(live: Live) -> None:
    async with await connect(live.url) as first:
        await first.send("one")
        done = await until_answer(first)
        cid, token = first.conversation_id, first.resume_token
    async with await connect(live.url, conversation_id=cid, resume_token=token, last_seq=2) as again:
        assert again.ready.resumed and again.ready.last_seq == len(done)  # type: ignore[union-attr]
        await again.send("two")
        later = await until_answer(again)
    assert seqs(later)[0] == 3 and seqs(later) == list(range(3, 3 + len(later)))
    with pytest.raises(ClientError) as err:
        await connect(live.url, conversation_id=cid, resume_token="stolen?")
    assert err.value.code == "forbidden"


async def test_files_go_up_over_http_and_travel_as_attachments(live: Live) -> None:
    async with await connect(live.url) as chat:
        cmid = await chat.send_file(PNG, "this page is broken")
        frames = await until_answer(chat)
        with pytest.raises(ClientError) as err:
            await chat.upload("notes.txt", data=b"plain text")
    echo = frames[0]
    assert echo.client_msg_id == cmid and len(echo.attachments) == 1
    assert err.value.code == "unsupported_type"


async def test_refused_frames_come_back_as_server_errors(live: Live) -> None:
    async with await connect(live.url) as chat:
        await chat.send("x" * 5000)
        async for frame in chat.frames():
            assert isinstance(frame, ServerError) and frame.code == "message_too_long"
            break


def test_frames_from_a_newer_server_still_parse() -> None:
    frame = parse_server_frame({"type": "delta", "seq": 4, "message_id": "a", "text": "hi", "new": 1}, "c1")
    assert isinstance(frame, AnswerDelta) and frame.conversation_id == "c1"
    assert parse_server_frame({"type": "poll", "question": "?"}).type == "poll"  # type: ignore[union-attr]
    assert http_base("wss://shop.example/ws/chat") == "https://shop.example"


async def test_a_browser_like_client_sends_its_origin(settings: Any) -> None:
    from channel_fakes import with_server

    async with live_app(with_server(settings, allowed_origins=["https://shop.example"])) as server:
        async with await connect(server.url, origin="https://shop.example") as chat:
            assert chat.ready is not None
        with pytest.raises(ClientError) as err:
            await connect(server.url, origin="https://evil.example")
        assert err.value.code == "origin_not_allowed"
