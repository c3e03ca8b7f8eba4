"""Random and hostile frames on /ws/chat (hypothesis): whatever a client sends, the server
answers with frames of the protocol, every refusal an `error` with a documented code, and the
socket stays usable (a ping after it still gets its pong). The cases the hostile test found
(deep nesting, lone surrogates, floods of one frame type) are among the strategies. The real
dialogue manager answers, on the real SQLite store (a fake model and knowledge base)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from channel_fakes import FakeAuthenticator, FakeRuntime
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from assistant.store.sqlite import SQLiteStore
from channels.app import create_app

ROOT = Path(__file__).parent.parent
# Every error code the protocol document lists, and those of a turn (image_*, audio_*, model_*).
DOCUMENTED = set(re.findall(r"^\| `([a-z_]+)` \|", (ROOT / "docs/protocol.md").read_text(), re.MULTILINE))
TURN_PREFIXES = ("image_", "audio_", "model_")
SERVER_TYPES = {"ready", "message", "transcript", "image_text", "answer_started", "delta", "answer", "status",
                "agent_message", "feedback", "error", "typing", "pong"}
CLIENT_TYPES = ["hello", "message", "handoff", "feedback", "typing", "ping", "subscribe", "take_over",
                "bogus"]

text = st.one_of(st.text(max_size=60), st.sampled_from(["\udfff", "\ud800x", "", " ", "\x00", "🙂" * 20]))
scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text)
value = st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                     max_leaves=12)
frame = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(CLIENT_TYPES)},
                          optional={"text": value, "client_msg_id": value, "attachments": value,
                                    "message_id": value, "rating": value, "comment": value, "nonce": value}),
    value,  # not even an object
)


def raw(obj: Any) -> str:
    try:
        return json.dumps(obj)
    except (ValueError, TypeError):
        return "{}"


hostile = st.one_of(
    frame.map(raw),
    st.sampled_from([
        "[" * 2000 + "]" * 2000,  # nesting deeper than any decoder should follow
        '{"type": "message", "text": "\\udfff", "client_msg_id": "s1"}',  # a lone surrogate
        '{"type": "message", "text": "hi", "client_msg_id": {"a": 1}}',
        '{"type": "feedback", "message_id": "nope", "rating": "up", "comment": "x"}',
        "not json at all", "", "null", '"a string"', "{}", '{"type": 7}',
    ]),
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from assistant.settings import load_settings

    data = tmp_path_factory.mktemp("fuzz")
    settings = load_settings(ROOT / "config.toml", data_dir=str(data))
    settings = settings.model_copy(update={"server": settings.server.model_copy(
        update={"messages_per_minute": 10_000, "messages_per_minute_ip": 10_000})})
    with TestClient(create_app(settings, real_dialogue, authenticator=FakeAuthenticator())) as c:
        yield c


@asynccontextmanager
async def real_dialogue(settings: Any) -> AsyncIterator[Any]:
    from test_dialogue import manager

    store = SQLiteStore(settings.path("conversations.db"))
    await store.open()
    try:
        yield FakeRuntime(store=store, dialogue=manager(settings, store))  # type: ignore[arg-type]
    finally:
        await store.close()


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(hostile, min_size=1, max_size=4))
def test_any_frame_gets_protocol_frames_and_the_socket_stays_usable(client: Any, frames: list[str]) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello"})
        assert ws.receive_json()["type"] == "ready"
        for text_frame in frames:
            ws.send_text(text_frame)
        ws.send_json({"type": "ping", "nonce": "after"})
        while True:
            got = ws.receive_json()
            assert isinstance(got, dict) and got.get("type") in SERVER_TYPES, got
            if got["type"] == "error":
                code = got["code"]
                assert code in DOCUMENTED or code.startswith(TURN_PREFIXES), got
                assert got["message"] and "Traceback" not in got["message"], got
            if got["type"] == "pong" and got.get("nonce") == "after":
                break


AGENT_TYPES = ["subscribe", "open", "leave", "take_over", "reply", "hand_back", "close", "suggest", "typing",
               "ping", "hello", "bogus"]
agent_frame = st.fixed_dictionaries(
    {"type": st.sampled_from(AGENT_TYPES)},
    optional={"conversation_id": st.one_of(value, st.just("CID")), "text": value, "inboxes": value,
              "last_seq": value, "nonce": value})


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(agent_frame, min_size=1, max_size=5))
def test_any_agent_frame_gets_protocol_frames_and_the_socket_stays_usable(client: Any,
                                                                        frames: list[dict[str, Any]]) -> None:
    """The same on /ws/agent, with actions on a real conversation of the agent's inbox ("CID")."""
    with client.websocket_connect("/ws/chat") as customer:
        customer.send_json({"type": "hello"})
        cid = customer.receive_json()["conversation_id"]
    agent_types = SERVER_TYPES | {"conversations", "conversation", "suggestion", "note"}
    with client.websocket_connect("/ws/agent") as ws:
        ws.send_json({"type": "hello", "token": "token-dana"})
        assert ws.receive_json()["type"] == "ready"
        for f in frames:
            ws.send_text(raw({k: (cid if v == "CID" else v) for k, v in f.items()}))
        ws.send_json({"type": "ping", "nonce": "after"})
        while True:
            got = ws.receive_json()
            assert isinstance(got, dict) and got.get("type") in agent_types, got
            if got["type"] == "error":
                assert got["code"] in DOCUMENTED or got["code"].startswith(TURN_PREFIXES), got
                if got["code"] == "unauthorized":  # a hello without a token: documented, closed 4401
                    with pytest.raises(WebSocketDisconnect) as closed:
                        ws.receive_json()
                    assert closed.value.code == 4401
                    return
            if got["type"] == "pong" and got.get("nonce") == "after":
                break
