"""channels.access: a conversation's customer proves it with the resume token, the same way
on every endpoint; an agent with an inbox they handle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from channel_fakes import FakeAuthenticator, FakeRuntimeFactory, hello
from starlette.testclient import TestClient

from assistant.store.base import ConversationInfo
from channels.access import holds_resume_token
from channels.app import create_app

PNG = (Path(__file__).parent / "data" / "abcd" / "customer_site.png").read_bytes()
REFUSED = {"code": "forbidden", "message": "Send the conversation's resume token in X-Resume-Token."}


def test_only_the_conversation_s_own_token_holds() -> None:
    info = ConversationInfo(id="c1", resume_token="the-token", state="bot", last_seq=0,
                            created_at=0.0, updated_at=0.0)
    assert holds_resume_token(info, "the-token")
    for guess in (None, "", "the-toke", "the-token ", "THE-TOKEN", "the-tökén"):
        assert not holds_resume_token(info, guess)


@pytest.fixture
def client(settings: Any):
    with TestClient(create_app(settings, FakeRuntimeFactory(), authenticator=FakeAuthenticator())) as c:
        yield c


def test_every_customer_endpoint_asks_for_the_token_alike(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ready = hello(ws)
    cid, mine = ready["conversation_id"], {"X-Resume-Token": ready["resume_token"]}
    stored = client.post("/api/uploads", params={"conversation_id": cid}, files={"file": ("f", PNG)},
                         headers=mine)
    assert stored.status_code == 200
    calls = [("POST", "/api/uploads", {"conversation_id": cid}),
             ("GET", f"/api/conversations/{cid}/events", None),
             ("GET", f"/api/uploads/{stored.json()['id']}", None)]
    for method, url, params in calls:
        files = {"file": ("f", PNG)} if method == "POST" else None
        for headers in ({}, {"X-Resume-Token": "guess"}):
            r = client.request(method, url, params=params, files=files, headers=headers)
            assert (r.status_code, r.json()) == (403, REFUSED), url
        assert client.request(method, url, params=params, files=files, headers=mine).status_code == 200
        agent = client.request(method, url, params=params, files=files,
                               headers={"Authorization": "Bearer token-dana"})
        assert agent.status_code == 200, url  # dana handles the default inbox
        other = client.request(method, url, params=params, files=files,
                               headers={"Authorization": "Bearer token-otto"})
        assert (other.status_code, other.json()["code"]) == (403, "forbidden"), url
