"""docs/asyncapi.yaml against real traffic: every frame sent and received in full
conversations (in-process, and on uvicorn over a loopback port) fits its schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from channel_fakes import FakeAuthenticator, FakeRuntimeFactory
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from starlette.testclient import TestClient
from test_serve import free_port, running
from websockets.sync.client import connect

from channels.app import create_app

DOC = yaml.safe_load((Path(__file__).parent.parent / "docs" / "asyncapi.yaml").read_text())
REGISTRY = Registry().with_resource("urn:asyncapi", Resource.from_contents(DOC, default_specification=DRAFT7))


def check(schema: str, frame: dict[str, Any]) -> None:
    validator = jsonschema.Draft7Validator({"$ref": f"urn:asyncapi#/components/schemas/{schema}"},
                                           registry=REGISTRY)
    errors = list(validator.iter_errors(frame))
    assert not errors, f"{frame} does not fit {schema}: {errors[0].message}"


class Checked:
    """A socket whose every frame, both ways, is validated against the AsyncAPI schemas."""

    def __init__(self, ws: Any, endpoint: str) -> None:
        self.ws = ws
        self.client, self.server = f"{endpoint}ClientFrame", f"{endpoint}ServerFrame"
        self.types: set[str] = set()

    def send(self, frame: dict[str, Any]) -> None:
        check(self.client, frame)
        self.ws.send_json(frame)

    def recv(self) -> dict[str, Any]:
        frame = self.ws.receive_json()
        check(self.server, frame)
        self.types.add(frame["type"])
        return frame

    def until(self, type_: str) -> list[dict[str, Any]]:
        frames = [self.recv()]
        while frames[-1]["type"] != type_:
            frames.append(self.recv())
        return frames


def test_the_document_is_asyncapi_3_with_a_schema_for_every_frame_type() -> None:
    assert DOC["asyncapi"].startswith("3.")
    consts = {s["properties"]["type"]["const"] for s in DOC["components"]["schemas"].values()
              if "properties" in s and "type" in s["properties"]}
    from assistant.events import EVENT_TYPES
    from channels.protocol import FRAME_TYPES

    assert set(EVENT_TYPES) | FRAME_TYPES["chat"] | FRAME_TYPES["agent"] <= consts


def test_a_frame_that_breaks_the_schema_is_caught() -> None:
    with pytest.raises(AssertionError, match="does not fit"):
        check("ChatServerFrame", {"type": "answer", "seq": 3, "at": 1.0, "message_id": "a", "text": "hi"})


def test_a_whole_in_process_conversation_fits_the_schemas(settings: Any) -> None:
    app = create_app(settings, FakeRuntimeFactory(), authenticator=FakeAuthenticator())
    with TestClient(app) as client, client.websocket_connect("/ws/chat") as c_ws, \
            client.websocket_connect("/ws/agent") as a_ws:
        customer, agent = Checked(c_ws, "Chat"), Checked(a_ws, "Agent")
        customer.send({"type": "ping", "nonce": "1"})
        customer.recv()
        customer.send({"type": "hello"})
        ready = customer.recv()
        cid = ready["conversation_id"]
        agent.send({"type": "hello", "token": "token-dana"})
        agent.recv()
        agent.send({"type": "subscribe"})
        agent.recv()
        agent.send({"type": "open", "conversation_id": cid})
        agent.recv()
        customer.send({"type": "message", "text": "cancel my order", "client_msg_id": "m1"})
        answer = customer.until("answer")[-1]
        agent.until("answer")
        customer.send({"type": "feedback", "message_id": answer["message_id"], "rating": "down"})
        customer.until("feedback")
        customer.send({"type": "typing"})
        customer.send({"type": "handoff"})
        customer.until("status")
        agent.until("typing")
        agent.send({"type": "suggest", "conversation_id": cid})
        agent.until("suggestion")
        agent.send({"type": "take_over", "conversation_id": cid})
        agent.send({"type": "typing", "conversation_id": cid})
        agent.send({"type": "reply", "conversation_id": cid, "text": "Dana here."})
        customer.until("agent_message")
        agent.send({"type": "hand_back", "conversation_id": cid})
        agent.send({"type": "close", "conversation_id": cid})
        customer.until("status")
        customer.until("status")
        customer.ws.send_text("{broken")
        customer.recv()
        agent.send({"type": "leave", "conversation_id": cid})
        agent.send({"type": "ping"})
        agent.until("pong")
    assert {"ready", "message", "answer_started", "delta", "answer", "feedback", "status", "typing",
            "agent_message", "error", "pong"} <= customer.types
    assert {"ready", "conversations", "conversation", "message", "suggestion", "status", "typing",
            "pong"} <= agent.types


class WsChecked(Checked):
    """The same checks over a real websockets client."""

    def send(self, frame: dict[str, Any]) -> None:
        check(self.client, frame)
        self.ws.send(json.dumps(frame))

    def recv(self) -> dict[str, Any]:
        frame = json.loads(self.ws.recv(timeout=30))
        check(self.server, frame)
        self.types.add(frame["type"])
        return frame


def test_a_conversation_with_uvicorn_on_a_loopback_port_fits_the_schemas(data_dir: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "tests/serve_fakes.py", str(port), str(data_dir)]
    with running(cmd, port, {}), connect(f"ws://127.0.0.1:{port}/ws/chat") as ws:
        customer = WsChecked(ws, "Chat")
        customer.send({"type": "hello"})
        ready = customer.recv()
        customer.send({"type": "message", "text": "where is my parcel", "client_msg_id": "m1"})
        customer.until("delta")
        with connect(f"ws://127.0.0.1:{port}/ws/chat") as ws2:  # a second tab resumes mid-answer
            tab = WsChecked(ws2, "Chat")
            tab.send({"type": "hello", "conversation_id": ready["conversation_id"],
                      "resume_token": ready["resume_token"], "last_seq": 1})
            assert tab.recv()["resumed"] is True
            seen_by_tab, seen_by_customer = tab.until("answer"), customer.until("answer")
        assert seen_by_tab[-1] == seen_by_customer[-1]
        assert [f["seq"] for f in seen_by_tab] == list(range(2, seen_by_tab[-1]["seq"] + 1))
        customer.send({"type": "ping", "nonce": "x"})
        assert customer.recv() == {"type": "pong", "nonce": "x"}
    assert {"ready", "message", "answer_started", "delta", "answer", "pong"} <= customer.types
