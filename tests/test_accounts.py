"""channels.accounts: argon2id passwords, agent tokens, customer identities, the secret rules;
and revocation: a removed agent, or one whose password was reset, loses access at once. The
revocation tests use the real app and SQLite store, real AgentAuth tokens, and the real
`assistant agents` command run in its own process, as an operator runs it next to a server."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from channel_fakes import FakeRuntimeFactory
from live_server import live_app
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from assistant.errors import ConfigError
from assistant.store.base import AgentAccount
from assistant.store.sqlite import SQLiteStore
from channels import accounts
from channels.accounts import (
    AccountCheck,
    AgentAuth,
    check_login,
    check_password,
    hash_password,
    sign_user_id,
    token_secret,
)
from channels.app import create_app
from channels.bus import MemoryBus
from channels.client import http_base
from channels.errors import AccessError, http_status

DANA = AgentAccount(name="dana", password_hash="", display_name="Dana S.", inboxes=("billing", "default"))


def test_passwords_are_argon2id_hashes_that_only_the_right_password_opens() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith("$argon2id$") and "correct horse" not in first
    assert first != second  # a salt of its own each time
    assert check_password(first, "correct horse")
    assert not check_password(first, "correct horsE")
    assert not check_password("not-a-hash", "correct horse")
    with pytest.raises(ValueError):
        hash_password("")


def test_a_login_with_an_unknown_name_or_a_wrong_password_is_the_same_error() -> None:
    account = AgentAccount(name="dana", password_hash=hash_password("s3cret"))
    assert check_login(account, "s3cret") is account
    for who, password in ((account, "wrong"), (None, "s3cret")):
        with pytest.raises(AccessError) as err:
            check_login(who, password)
        assert err.value.code == "bad_credentials" and http_status(err.value) == 401


def test_a_token_names_the_agent_and_inboxes_and_expires() -> None:
    auth = AgentAuth("shared-secret", token_minutes=15)
    issued = auth.issue(DANA, now=1_000_000)
    assert issued.expires_at == 1_000_000 + 15 * 60
    assert issued.to_json()["agent"] == {"name": "dana", "display_name": "Dana S.",
                                         "inboxes": ["billing", "default"]}
    fresh = auth.issue(DANA)
    agent = auth.verify_agent_token(fresh.token)
    assert (agent.name, agent.inboxes) == ("dana", ("billing", "default"))
    with pytest.raises(AccessError, match="expired") as err:
        auth.verify_agent_token(issued.token)  # issued in 1970
    assert err.value.code == "unauthorized"


def test_workers_sharing_the_secret_accept_each_others_tokens_and_no_one_else_does() -> None:
    token = AgentAuth("shared").issue(DANA).token
    assert AgentAuth("shared").verify_agent_token(token).name == "dana"
    for bad in (AgentAuth("other").issue(DANA).token, token[:-3] + "abc", "garbage", ""):
        with pytest.raises(AccessError) as err:
            AgentAuth("shared").verify_agent_token(bad)
        assert err.value.code == "unauthorized"


def test_a_token_with_widened_inboxes_or_no_algorithm_is_refused() -> None:
    secret = "a-shared-secret-of-at-least-32-bytes"
    auth = AgentAuth(secret)
    claims: dict[str, Any] = jwt.decode(auth.issue(DANA).token, options={"verify_signature": False})
    claims["inboxes"] = ["*"]
    forged = jwt.encode(claims, secret, algorithm="HS256")  # signed with the raw secret, not the key
    unsigned = jwt.encode(claims, None, algorithm="none")
    for token in (forged, unsigned):
        with pytest.raises(AccessError):
            auth.verify_agent_token(token)


def test_a_token_carries_a_tag_of_the_account_it_was_issued_for() -> None:
    auth = AgentAuth("shared")
    dana = AgentAccount(name="dana", password_hash=hash_password("first password"), inboxes=("billing",))
    tag = auth.verify_agent_token(auth.issue(dana).token).account_tag
    assert tag == auth.account_tag(dana) and dana.password_hash not in tag
    reset = AgentAccount(name="dana", password_hash=hash_password("first password"), inboxes=("billing",))
    renamed = AgentAccount(name="dana", password_hash=dana.password_hash, inboxes=("billing",),
                           display_name="Dana S.")
    widened = AgentAccount(name="dana", password_hash=dana.password_hash, inboxes=("*",))
    assert auth.account_tag(reset) != tag  # same password, new salt: a reset all the same
    assert auth.account_tag(renamed) == tag and auth.account_tag(widened) != tag
    assert AgentAuth("other").account_tag(dana) != tag  # keyed: a token tells nothing of the hash
    claims: dict[str, Any] = jwt.decode(auth.issue(dana).token, options={"verify_signature": False})
    del claims["acc"]  # a token from before tags, signed with the right key
    with pytest.raises(AccessError) as err:
        auth.verify_agent_token(jwt.encode(claims, auth._key, algorithm="HS256"))
    assert err.value.code == "unauthorized"


def test_customer_identity_is_the_hmac_the_site_computes() -> None:
    site_side = hmac.new(b"site-secret", b"user-42", hashlib.sha256).hexdigest()
    assert sign_user_id("site-secret", "user-42") == site_side
    auth = AgentAuth("t", identity_secret="site-secret")
    assert auth.verify_customer("user-42", site_side)
    assert auth.verify_customer("user-42", site_side.upper())  # hex is hex
    assert not auth.verify_customer("user-43", site_side)
    assert not auth.verify_customer("user-42", "ünïcode")
    assert not AgentAuth("t").verify_customer("user-42", sign_user_id("", "user-42"))  # off without a secret


def test_several_workers_or_the_redis_bus_need_a_shared_token_secret(settings: Any) -> None:
    assert token_secret(settings) != token_secret(settings)  # one process: random per start
    several = settings.model_copy(update={"server": settings.server.model_copy(update={"workers": 4})})
    redis = settings.model_copy(update={"bus": settings.bus.model_copy(update={"backend": "redis"})})
    for s in (several, redis):
        with pytest.raises(ConfigError, match="token_secret"):
            AgentAuth.from_settings(s)
    with pytest.raises(ConfigError):
        token_secret(settings, workers=2)
    shared = settings.model_copy(update={"server": settings.server.model_copy(
        update={"workers": 4, "token_secret": "s"})})
    assert token_secret(shared) == "s"


def test_assistant_serve_with_several_workers_refuses_to_start_without_a_token_secret(
        settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from channels.cli import main

    assert main(["--data-dir", str(settings.data_dir), "serve", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "config_invalid" in err and "server.token_secret" in err


ROOT = Path(__file__).parent.parent
PNG = ROOT / "tests" / "data" / "abcd" / "customer_site.png"
PASSWORDS = {"dana": "dana's first password", "otto": "otto's own password"}
INTERVAL = 0.05  # the tests' ACCOUNT_CHECK_SECONDS: short, so nothing waits 5 s


def agents(data_dir: Path, *argv: str, password: str = "") -> None:
    """`assistant agents ...` in a process of its own, on the server's store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    subprocess.run([sys.executable, "-m", "assistant", "--data-dir", str(data_dir), "agents", *argv],
                   input=f"{password}\n" if password else "", env=env, cwd=ROOT, check=True,
                   capture_output=True, text=True, timeout=120)


def add_agents(data_dir: Path) -> None:
    for name, password in PASSWORDS.items():
        agents(data_dir, "add", name, "--password-stdin", password=password)


@pytest.fixture
def client(settings: Any, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(accounts, "ACCOUNT_CHECK_SECONDS", INTERVAL)
    add_agents(data_dir)
    with TestClient(create_app(settings, FakeRuntimeFactory())) as c:  # the real AgentAuth
        yield c


def login(client: TestClient, name: str, password: str = "") -> str:
    r = client.post("/api/agents/login", json={"name": name, "password": password or PASSWORDS[name]})
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def after_the_interval() -> None:
    time.sleep(INTERVAL * 1.5)  # what a worker remembered about the account is stale now


def test_a_removed_agents_token_gets_401_token_revoked_on_every_agent_endpoint(
        client: TestClient, data_dir: Path) -> None:
    store = client.app.state.service.store  # type: ignore[attr-defined]
    cid = client.portal.call(store.create).id
    upload = client.portal.call(store.put_attachment, cid, PNG.read_bytes(), "image/png", "shot.png").id
    dana, otto = login(client, "dana"), login(client, "otto")
    calls = [("GET", "/api/agents/me", None), ("GET", f"/api/conversations/{cid}/events", None),
             ("GET", "/api/kb/search?q=refund", None), ("GET", f"/api/uploads/{upload}", None),
             ("POST", "/api/kb/records", {"conversation_id": cid, "request": "r", "resolution": "s"})]
    before = [client.request(m, url, json=body, headers=bearer(dana)).status_code for m, url, body in calls]
    assert before == [200, 200, 200, 200, 400]  # the last: this fake knowledge base is read-only

    agents(data_dir, "remove", "dana")
    after_the_interval()
    for method, url, body in calls:
        r = client.request(method, url, json=body, headers=bearer(dana))
        assert (r.status_code, r.json()["code"]) == (401, "token_revoked"), url
        assert "sign in again" in r.json()["message"]
    # Otto's account stands: his token still works, on every request.
    for _ in range(3):
        assert client.get("/api/agents/me", headers=bearer(otto)).json()["name"] == "otto"
        after_the_interval()
    refused = client.post("/api/agents/login", json={"name": "dana", "password": PASSWORDS["dana"]})
    assert (refused.status_code, refused.json()["code"]) == (401, "bad_credentials")


def test_a_password_reset_revokes_old_tokens_and_a_fresh_sign_in_works(
        client: TestClient, data_dir: Path) -> None:
    old = login(client, "dana")
    assert client.get("/api/agents/me", headers=bearer(old)).status_code == 200
    agents(data_dir, "add", "dana", "--replace", "--password-stdin", password="dana's new password")
    after_the_interval()
    r = client.get("/api/agents/me", headers=bearer(old))
    assert (r.status_code, r.json()["code"]) == (401, "token_revoked")
    with client.websocket_connect("/ws/agent") as ws:
        ws.send_json({"type": "hello", "token": old})
        assert ws.receive_json()["code"] == "token_revoked"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4401
    assert client.post("/api/agents/login", json={"name": "dana", "password": PASSWORDS["dana"]}
                       ).status_code == 401
    new = login(client, "dana", "dana's new password")
    assert client.get("/api/agents/me", headers=bearer(new)).json()["name"] == "dana"
    with client.websocket_connect("/ws/agent") as ws:
        ws.send_json({"type": "hello", "token": new})
        assert ws.receive_json()["type"] == "ready"


async def test_an_answer_is_remembered_for_the_interval_and_no_longer(data_dir: Path) -> None:
    """The documented bound: a revoked token works for at most `seconds` on a worker that
    checked it just before; a fresh sign-in is never held back by that memory."""
    store = SQLiteStore(data_dir / "conversations.db")
    await store.open()
    auth, now = AgentAuth("shared secret"), [100.0]
    check = AccountCheck(auth, store, seconds=5, clock=lambda: now[0])
    try:
        await store.put_agent(AgentAccount(name="dana", password_hash=hash_password("first password")))
        old = auth.issue(await store.get_agent("dana")).token  # type: ignore[arg-type]
        assert (await check.verify(old)).name == "dana"
        await store.put_agent(AgentAccount(name="dana", password_hash=hash_password("second password")))
        now[0] = 104.9
        assert (await check.verify(old)).name == "dana"  # remembered, within the bound
        new = auth.issue(await store.get_agent("dana")).token  # type: ignore[arg-type]
        assert (await check.verify(new)).name == "dana"
        now[0] = 105.0
        with pytest.raises(AccessError) as err:
            await check.verify(old)
        assert (err.value.code, http_status(err.value)) == ("token_revoked", 401)
        await store.delete_agent("dana")
        assert (await check.verify(new)).name == "dana"  # remembered at 105.0
        with pytest.raises(AccessError, match="removed"):
            await check.verify(new, fresh=True)  # what an open socket's periodic check does
    finally:
        await store.close()


class CountingBus(MemoryBus):
    """The real in-process bus, counting the subscriptions open right now."""

    def __init__(self) -> None:
        super().__init__()
        self.open_subscriptions = 0

    @asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[Any]:
        self.open_subscriptions += 1
        try:
            async with super().subscribe(*topics) as messages:
                yield messages
        finally:
            self.open_subscriptions -= 1


async def recv(ws: Any) -> dict[str, Any]:
    """The next frame; a test that waits in vain fails in 5 s instead of hanging."""
    return json.loads(await asyncio.wait_for(ws.recv(), 5))  # type: ignore[no-any-return]


async def eventually(condition: Any, within: float = 5.0) -> None:
    """Wait until the async `condition()` holds; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.02)


async def test_an_idle_agent_socket_is_told_and_closed_when_the_agent_is_removed(
        settings: Any, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    interval = 0.2
    monkeypatch.setattr(accounts, "ACCOUNT_CHECK_SECONDS", interval)
    await asyncio.to_thread(add_agents, data_dir)
    bus = CountingBus()
    auth = AgentAuth.from_settings(settings)
    async with live_app(settings, authenticator=auth, bus_factory=lambda _: bus) as live, \
            httpx.AsyncClient(base_url=http_base(live.url)) as http:
        cid = (await live.factory.runtime.store.create()).id  # type: ignore[union-attr]
        tokens = {}
        for name, password in PASSWORDS.items():
            r = await http.post("/api/agents/login", json={"name": name, "password": password})
            tokens[name] = r.json()["token"]
        agent_url = live.url.replace("/ws/chat", "/ws/agent")
        async with connect(agent_url) as dana, connect(agent_url) as otto:
            for ws, name in ((dana, "dana"), (otto, "otto")):
                await ws.send(json.dumps({"type": "hello", "token": tokens[name]}))
                assert (await recv(ws))["type"] == "ready"
                await ws.send(json.dumps({"type": "subscribe"}))
                assert (await recv(ws))["type"] == "conversations"
            await dana.send(json.dumps({"type": "open", "conversation_id": cid}))
            assert (await recv(dana))["type"] == "conversation"
            assert bus.open_subscriptions == 3  # dana's inbox and conversation, otto's inbox

            await asyncio.to_thread(agents, data_dir, "remove", "dana")
            removed = time.monotonic()
            error = await recv(dana)  # dana sends nothing: the server tells
            assert (error["type"], error["code"]) == ("error", "token_revoked")
            assert time.monotonic() - removed < 10 * interval  # the interval, not the default 5 s
            with pytest.raises(ConnectionClosed) as closed:
                await recv(dana)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

            async def only_otto_left() -> bool:
                gauge = 'assistant_connections{endpoint="agent"} 1.0'
                return bus.open_subscriptions == 1 and gauge in (await http.get("/metrics")).text

            await eventually(only_otto_left)  # dana's feeds, subscription and connection ended

            await asyncio.sleep(interval * 3)  # otto's account stands: checked, and still open
            await otto.send(json.dumps({"type": "ping", "nonce": "still here"}))
            assert await recv(otto) == {"type": "pong", "nonce": "still here"}
        metrics = (await http.get("/metrics")).text
    assert 'assistant_errors_total{code="token_revoked"} 1.0' in metrics
