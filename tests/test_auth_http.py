"""Auth on the real app (real AgentAuth, real SQLite agent accounts): login, tokens on
every agent endpoint and frame, inbox isolation, verified customers, origins."""

from __future__ import annotations

import time
from typing import Any

import pytest
from channel_fakes import FakeRuntimeFactory, hello, say, until, with_server
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from assistant.store.base import AgentAccount
from channels.accounts import AgentAuth, hash_password, sign_user_id
from channels.app import create_app

SECRET = "identity-secret-of-the-shop"


@pytest.fixture
def client(settings: Any):
    factory = FakeRuntimeFactory()
    app = create_app(with_server(settings, identity_secret=SECRET), factory)
    with TestClient(app) as c:
        store = factory.runtime.store  # type: ignore[union-attr]
        for name, inbox in (("dana", "billing"), ("otto", "shipping")):
            c.portal.call(store.put_agent, AgentAccount(  # type: ignore[union-attr]
                name=name, password_hash=hash_password(f"{name}-pw"), inboxes=(inbox,)))
        yield c


def login(client: TestClient, name: str) -> str:
    r = client.post("/api/agents/login", json={"name": name, "password": f"{name}-pw"})
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def agent_ready(ws: Any, token: str | None) -> dict[str, Any]:
    ws.send_json({"type": "hello", "token": token} if token else {"type": "hello"})
    return ws.receive_json()  # type: ignore[no-any-return]


def test_login_gives_a_token_and_wrong_credentials_a_401_bad_credentials(client: TestClient) -> None:
    r = client.post("/api/agents/login", json={"name": "dana", "password": "dana-pw"})
    body = r.json()
    assert body["agent"] == {"name": "dana", "display_name": "dana", "inboxes": ["billing"]}
    assert body["expires_at"] > time.time() + 50 * 60  # token_minutes = 60
    for name, password in (("dana", "otto-pw"), ("nobody", "dana-pw")):
        r = client.post("/api/agents/login", json={"name": name, "password": password})
        assert (r.status_code, r.json()["code"]) == (401, "bad_credentials")
    me = client.get("/api/agents/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json()["name"] == "dana"
    assert client.get("/api/agents/me").json()["code"] == "unauthorized"
    assert client.get("/api/agents/me", headers={"Authorization": "Bearer x.y.z"}).status_code == 401


def test_login_attempts_are_rate_limited_per_ip(client: TestClient) -> None:
    codes = [client.post("/api/agents/login", json={"name": "dana", "password": "guess"}).status_code
             for _ in range(14)]
    # 10 a minute, refilled evenly: slow hashing may earn one or two more, never all of them.
    assert codes[:10] == [401] * 10 and codes[-1] == 429


def test_the_agent_socket_takes_the_token_in_hello_or_the_authorization_header(client: TestClient) -> None:
    token = login(client, "dana")
    with client.websocket_connect("/ws/agent") as ws:
        assert agent_ready(ws, token)["agent"] == "dana"
    with client.websocket_connect("/ws/agent", headers={"Authorization": f"Bearer {token}"}) as ws:
        assert agent_ready(ws, None)["inboxes"] == ["billing"]
    with client.websocket_connect("/ws/agent") as ws:
        assert agent_ready(ws, token + "x")["code"] == "unauthorized"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4401


def test_an_agent_only_sees_and_acts_on_conversations_of_their_inboxes(client: TestClient) -> None:
    dana, otto = login(client, "dana"), login(client, "otto")
    with client.websocket_connect("/ws/chat") as customer:
        cid = hello(customer, inbox="billing")["conversation_id"]
        say(customer, "my invoice is wrong")
        until(customer, "answer")
    with client.websocket_connect("/ws/agent") as ws:
        agent_ready(ws, otto)
        ws.send_json({"type": "subscribe"})
        assert ws.receive_json() == {"type": "conversations", "conversations": []}
        for frame in ({"type": "open"}, {"type": "take_over"}, {"type": "reply", "text": "hi"}):
            ws.send_json({**frame, "conversation_id": cid})
            assert ws.receive_json()["code"] == "forbidden"
    history = client.get(f"/api/conversations/{cid}/events", headers={"Authorization": f"Bearer {otto}"})
    assert (history.status_code, history.json()["code"]) == (403, "forbidden")
    with client.websocket_connect("/ws/agent") as ws:
        agent_ready(ws, dana)
        ws.send_json({"type": "subscribe"})
        assert [c["conversation_id"] for c in ws.receive_json()["conversations"]] == [cid]
        ws.send_json({"type": "open", "conversation_id": cid})
        ws.send_json({"type": "take_over", "conversation_id": cid})
        assert until(ws, "status")[-1]["agent"] == "dana"


def test_an_agent_socket_stops_working_when_its_token_expires(settings: Any) -> None:
    auth = AgentAuth("s" * 32, token_minutes=1)
    factory = FakeRuntimeFactory()
    dana = AgentAccount(name="dana", password_hash="x")
    with TestClient(create_app(settings, factory, authenticator=auth)) as client, \
            client.websocket_connect("/ws/agent") as ws:
        client.portal.call(factory.runtime.store.put_agent, dana)  # type: ignore[union-attr]
        # Expires in 4 to 5 s (whole seconds): time for the handshake on a busy machine (with 59 s
        # ago it could expire before "ready"), then wait until past it.
        issued = auth.issue(dana, now=time.time() - 55)
        assert agent_ready(ws, issued.token)["type"] == "ready"
        time.sleep(max(0.0, issued.expires_at - time.time()) + 1.1)
        ws.send_json({"type": "subscribe"})
        assert ws.receive_json()["code"] == "unauthorized"
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()


def test_a_verified_customer_resumes_their_own_conversations_and_nobody_elses(client: TestClient) -> None:
    mine = {"user_id": "u-42", "user_hash": sign_user_id(SECRET, "u-42")}
    with client.websocket_connect("/ws/chat") as ws:
        ready = hello(ws, **mine)
    cid = ready["conversation_id"]
    with client.websocket_connect("/ws/chat") as ws:  # another device: no resume token
        assert hello(ws, conversation_id=cid, **mine)["resumed"] is True
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello", "user_id": "u-42", "user_hash": sign_user_id("guess", "u-42")})
        assert ws.receive_json()["code"] == "identity_invalid"
        other = {"user_id": "u-43", "user_hash": sign_user_id(SECRET, "u-43")}
        ws.send_json({"type": "hello", "conversation_id": cid, **other})
        assert ws.receive_json()["code"] == "forbidden"
        ws.send_json({"type": "hello", "conversation_id": cid})
        assert ws.receive_json()["code"] == "forbidden"
        assert hello(ws, conversation_id=cid, resume_token=ready["resume_token"])["conversation_id"] == cid


def test_only_allowed_origins_may_open_the_chat_or_read_the_api(settings: Any) -> None:
    shop = "https://shop.example"
    app = create_app(with_server(settings, allowed_origins=[shop]), FakeRuntimeFactory())
    with TestClient(app) as client:
        preflight = {"Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "x-resume-token"}
        ok = client.options("/api/uploads", headers={"Origin": shop, **preflight})
        assert ok.headers["access-control-allow-origin"] == shop
        evil = client.options("/api/uploads", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in evil.headers
        with client.websocket_connect("/ws/chat", headers={"Origin": "https://evil.example"}) as ws:
            assert ws.receive_json()["code"] == "origin_not_allowed"
        with client.websocket_connect("/ws/chat", headers={"Origin": shop}) as ws:
            assert hello(ws)["type"] == "ready"
