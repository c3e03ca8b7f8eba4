"""The agents' endpoint /ws/agent with a customer on /ws/chat, in-process."""

from __future__ import annotations

from typing import Any

import pytest
from channel_fakes import FakeAuthenticator, FakeRuntimeFactory, hello, say, until
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from channels.app import create_app


@pytest.fixture
def client(settings: Any):
    with TestClient(create_app(settings, FakeRuntimeFactory(), authenticator=FakeAuthenticator())) as c:
        yield c


def agent_hello(ws: Any, token: str = "token-dana") -> dict[str, Any]:
    ws.send_json({"type": "hello", "token": token})
    return ws.receive_json()


def test_an_agent_takes_over_replies_hands_back_and_closes(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as customer, client.websocket_connect("/ws/agent") as agent:
        cid = hello(customer)["conversation_id"]
        assert agent_hello(agent) == {"type": "ready", "agent": "dana", "inboxes": ["default"], "protocol": 1}
        agent.send_json({"type": "open", "conversation_id": cid})
        assert agent.receive_json()["type"] == "conversation"

        say(customer, "I want a person")
        until(customer, "answer")
        live = until(agent, "answer")  # the agent saw the customer's turn live
        assert live[0]["type"] == "message" and live[0]["conversation_id"] == cid

        customer.send_json({"type": "typing"})
        assert agent.receive_json() == {"type": "typing", "conversation_id": cid, "from": "customer"}

        agent.send_json({"type": "take_over", "conversation_id": cid})
        taken = customer.receive_json()
        assert taken["type"] == "status" and taken["state"] == "human" and taken["agent"] == "dana"
        agent.send_json({"type": "reply", "conversation_id": cid, "text": "Hi, Dana here."})
        until(agent, "agent_message")
        reply = until(customer, "agent_message")[-1]
        assert reply["text"] == "Hi, Dana here." and reply["agent"] == "dana"

        agent.send_json({"type": "hand_back", "conversation_id": cid})
        assert until(customer, "status")[-1]["state"] == "bot"
        agent.send_json({"type": "close", "conversation_id": cid})
        assert until(customer, "status")[-1]["state"] == "closed"


def test_the_customer_typing_again_right_after_a_message_reaches_the_agent(client: TestClient) -> None:
    """Sending a message ends a burst of typing: the next keystroke is news for the agent,
    however soon it comes (the server's one-signal-a-second limit starts over)."""
    with client.websocket_connect("/ws/chat") as customer, client.websocket_connect("/ws/agent") as agent:
        cid = hello(customer)["conversation_id"]
        agent_hello(agent)
        agent.send_json({"type": "open", "conversation_id": cid})
        assert agent.receive_json()["type"] == "conversation"
        customer.send_json({"type": "typing"})
        assert agent.receive_json()["type"] == "typing"
        say(customer, "where is my order?")
        until(customer, "answer")
        until(agent, "answer")
        customer.send_json({"type": "typing"})
        customer.send_json({"type": "handoff"})  # after the typing signal, if it was forwarded
        assert agent.receive_json() == {"type": "typing", "conversation_id": cid, "from": "customer"}
        assert until(agent, "status")[-1]["state"] == "waiting_human"


def test_suggestions_reach_the_agent_but_never_the_customer_whose_seqs_stay_consecutive(
        client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as customer, client.websocket_connect("/ws/agent") as agent:
        ready = hello(customer)
        cid = ready["conversation_id"]
        agent_hello(agent)
        agent.send_json({"type": "open", "conversation_id": cid})
        agent.receive_json()
        say(customer, "hello", "m1")
        first = until(customer, "answer")
        until(agent, "answer")
        agent.send_json({"type": "suggest", "conversation_id": cid})
        suggestion = agent.receive_json()
        assert suggestion["type"] == "suggestion" and suggestion["seq"] == first[-1]["seq"] + 1
        agent.send_json({"type": "take_over", "conversation_id": cid})
        status = customer.receive_json()
        assert status["type"] == "status" and status["seq"] == first[-1]["seq"] + 1  # no hole
        assert until(agent, "status")[-1]["seq"] == suggestion["seq"] + 1
    with client.websocket_connect("/ws/chat") as again:  # a replay numbers the same way
        hello(again, conversation_id=cid, resume_token=ready["resume_token"])
        replay = until(again, "status")
    assert [f["seq"] for f in replay] == list(range(1, len(first) + 2))
    assert "suggestion" not in [f["type"] for f in replay]


def test_the_console_list_shows_waiting_conversations_live(client: TestClient) -> None:
    with client.websocket_connect("/ws/agent") as agent, client.websocket_connect("/ws/chat") as customer:
        agent_hello(agent)
        agent.send_json({"type": "subscribe"})
        assert agent.receive_json() == {"type": "conversations", "conversations": []}
        cid = hello(customer)["conversation_id"]
        customer.send_json({"type": "handoff"})
        summary = agent.receive_json()
    assert summary["type"] == "conversation" and summary["conversation_id"] == cid
    assert summary["state"] == "waiting_human" and summary["handoff_reason"] == "customer_request"


def test_agents_cannot_act_outside_their_inboxes(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as customer, client.websocket_connect("/ws/agent") as otto:
        cid = hello(customer)["conversation_id"]  # inbox "default"
        agent_hello(otto, "token-otto")  # handles inbox "other" only
        for frame in ({"type": "open", "conversation_id": cid}, {"type": "take_over", "conversation_id": cid},
                      {"type": "reply", "conversation_id": cid, "text": "hi"}):
            otto.send_json(frame)
            error = otto.receive_json()
            assert error["type"] == "error" and error["code"] == "forbidden"
        customer.send_json({"type": "ping"})
        assert customer.receive_json()["type"] == "pong"  # nothing reached the customer's log


def test_an_agent_cannot_list_inboxes_they_do_not_handle(client: TestClient) -> None:
    """Subscribing only to inboxes one does not handle once listed every inbox's conversations."""
    with client.websocket_connect("/ws/chat") as customer, client.websocket_connect("/ws/agent") as otto:
        hello(customer)  # a conversation in inbox "default"
        agent_hello(otto, "token-otto")  # handles inbox "other" only
        for inboxes in (["default"], ["nope"]):
            otto.send_json({"type": "subscribe", "inboxes": inboxes})
            error = otto.receive_json()
            assert error["type"] == "error" and error["code"] == "forbidden", error
        otto.send_json({"type": "subscribe", "inboxes": ["other", "default"]})  # only "other" is listed
        assert otto.receive_json() == {"type": "conversations", "conversations": []}


def test_an_agent_s_typing_reaches_the_customer_at_most_once_a_second(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as customer, client.websocket_connect("/ws/agent") as dana:
        cid = hello(customer)["conversation_id"]
        agent_hello(dana)
        for _ in range(20):
            dana.send_json({"type": "typing", "conversation_id": cid})
        dana.send_json({"type": "ping"})
        assert dana.receive_json()["type"] == "pong"  # every typing frame was handled
        customer.send_json({"type": "ping"})
        frames = []
        while (frame := customer.receive_json())["type"] != "pong":
            frames.append(frame)
    assert [f["type"] for f in frames] == ["typing"]


def test_a_bad_token_closes_the_agent_socket(client: TestClient) -> None:
    with client.websocket_connect("/ws/agent") as agent:
        agent.send_json({"type": "open", "conversation_id": "c"})
        assert agent.receive_json()["code"] == "unauthorized"
    with client.websocket_connect("/ws/agent") as agent:
        assert agent_hello(agent, "stolen")["code"] == "unauthorized"
        with pytest.raises(WebSocketDisconnect) as closed:
            agent.receive_json()
        assert closed.value.code == 4401
