"""The HTTP API: uploads, history paging, knowledge search, health, metrics, OpenAPI."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from channel_fakes import FakeAuthenticator, FakeRuntimeFactory, hello, say, until, with_server
from starlette.testclient import TestClient

from channels.app import create_app

DATA = Path(__file__).parent / "data"
AGENT = {"Authorization": "Bearer token-dana"}


@pytest.fixture
def factory() -> FakeRuntimeFactory:
    return FakeRuntimeFactory()


@pytest.fixture
def client(settings: Any, factory: FakeRuntimeFactory):
    with TestClient(create_app(settings, factory, authenticator=FakeAuthenticator())) as c:
        yield c


def conversation(client: TestClient, turns: int = 0) -> dict[str, Any]:
    with client.websocket_connect("/ws/chat") as ws:
        ready = hello(ws)
        for i in range(turns):
            say(ws, f"question {i}", f"m{i}")
            until(ws, "answer")
    return ready


def upload(client: TestClient, ready: dict[str, Any], data: bytes, name: str = "f") -> Any:
    return client.post("/api/uploads", data={"conversation_id": ready["conversation_id"]},
                       files={"file": (name, data, "application/octet-stream")},
                       headers={"X-Resume-Token": ready["resume_token"]})


def test_an_uploaded_screenshot_gets_an_id_and_its_sniffed_type(client: TestClient) -> None:
    ready = conversation(client)
    png = (DATA / "abcd" / "customer_site.png").read_bytes()
    r = upload(client, ready, png, "shot.jpg")  # the name lies; the bytes decide
    assert r.status_code == 200 and r.json()["content_type"] == "image/png"
    flac = upload(client, ready, (DATA / "audio" / "jfk.flac").read_bytes())
    assert flac.json()["content_type"] == "audio/flac"
    with client.websocket_connect("/ws/chat") as ws:  # usable in a message of that conversation
        hello(ws, conversation_id=ready["conversation_id"], resume_token=ready["resume_token"], last_seq=0)
        say(ws, "see the screenshot", "m1", attachments=[r.json()["id"]])
        assert until(ws, "message")[-1]["attachments"] == [r.json()["id"]]


def test_bad_uploads_are_refused_with_codes(client: TestClient, settings: Any) -> None:
    ready = conversation(client)
    assert upload(client, ready, b"").json()["code"] == "upload_empty"
    r = upload(client, ready, b"MZ\x90\x00 an executable")
    assert (r.status_code, r.json()["code"]) == (415, "unsupported_type")
    stolen = client.post("/api/uploads", data={"conversation_id": ready["conversation_id"]},
                         files={"file": ("f", b"\x89PNG\r\n\x1a\n", "image/png")},
                         headers={"X-Resume-Token": "guess"})
    assert (stolen.status_code, stolen.json()["code"]) == (403, "forbidden")
    png = ("f.png", b"\x89PNG\r\n\x1a\n", "image/png")
    token = {"X-Resume-Token": ready["resume_token"]}
    two = client.post("/api/uploads", params={"conversation_id": ready["conversation_id"]},
                      files=[("file", png), ("file", png)], headers=token)
    assert (two.status_code, two.json()["code"]) == (400, "bad_request")
    other = client.post("/api/uploads", params={"conversation_id": ready["conversation_id"]},
                        data={"conversation_id": "another"}, files={"file": png}, headers=token)
    assert (other.status_code, other.json()["code"]) == (400, "bad_request")
    nofile = client.post("/api/uploads", params={"conversation_id": ready["conversation_id"]},
                         data={"x": "1"}, headers=token)
    assert (nofile.status_code, nofile.json()["code"]) == (400, "bad_request")


def test_an_upload_over_the_size_limit_is_refused(settings: Any) -> None:
    small = settings.model_copy(update={"vision": settings.vision.model_copy(update={"max_bytes": 1000})})
    with TestClient(create_app(small, FakeRuntimeFactory(), authenticator=FakeAuthenticator())) as client:
        ready = conversation(client)
        r = upload(client, ready, b"\x89PNG\r\n\x1a\n" + b"\0" * 2000)
    assert (r.status_code, r.json()["code"]) == (413, "upload_too_large")


def test_history_pages_with_after_and_limit(client: TestClient) -> None:
    ready = conversation(client, turns=2)  # 12 events
    headers = {"X-Resume-Token": ready["resume_token"]}
    url = f"/api/conversations/{ready['conversation_id']}/events"
    first = client.get(url, params={"limit": 5}, headers=headers).json()
    assert [e["seq"] for e in first["events"]] == [1, 2, 3, 4, 5] and first["has_more"] is True
    rest = client.get(url, params={"after": 5}, headers=headers).json()
    assert [e["seq"] for e in rest["events"]] == list(range(6, 13)) and rest["has_more"] is False
    assert rest["last_seq"] == 12 and rest["events"][-1]["type"] == "answer"
    assert client.get(url, headers={"X-Resume-Token": "nope"}).status_code == 403
    agent = client.get(url, params={"after": 10}, headers=AGENT).json()
    assert [e["seq"] for e in agent["events"]] == [11, 12]
    assert client.get("/api/conversations/missing/events", headers=AGENT).json()["code"] == \
        "conversation_not_found"


def test_knowledge_search_is_for_agents(client: TestClient) -> None:
    r = client.get("/api/kb/search", params={"q": "refund", "k": 1}, headers=AGENT)
    assert r.status_code == 200 and r.json()["hits"][0]["text"] == "answer about refund"
    assert client.get("/api/kb/search", params={"q": "refund"}).status_code == 401


@pytest.mark.parametrize("blank", [" ", "\t", "\n", "\x1f"])
def test_a_blank_knowledge_search_is_a_coded_400(client: TestClient, factory: FakeRuntimeFactory,
                                                  settings: Any, blank: str) -> None:
    """Was a plain-text 500 (the knowledge base's QueryError was outside the app's error root)."""
    from assistant.agent_knowledge import AgentKnowledge
    from knowledge.base import KnowledgeBase
    from knowledge.redact import Redactor

    assert factory.runtime is not None
    with KnowledgeBase(settings.knowledge, settings.data_dir) as kb:  # the real one: its rules
        factory.runtime.agent_knowledge = AgentKnowledge(kb, Redactor(settings.knowledge.redact_patterns))
        r = client.get("/api/kb/search", params={"q": blank}, headers=AGENT)
        assert r.status_code == 400 and r.json()["code"] == "bad_query", r.text
        assert client.get("/healthz").status_code == 200  # the connection is still good


def test_fastapi_s_own_refusals_have_the_documented_shape(client: TestClient) -> None:
    """Validation errors were 422 {"detail": [...]}, unknown routes {"detail": "Not Found"}."""
    r = client.get("/api/kb/search", params={"q": "refund", "k": 0}, headers=AGENT)
    assert r.status_code == 400 and r.json()["code"] == "bad_request" and "k" in r.json()["message"]
    r = client.get("/api/no-such-thing")
    assert r.status_code == 404 and r.json() == {"code": "not_found", "message": "Not Found"}
    r = client.delete("/healthz")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"


def test_health_and_readiness(client: TestClient, factory: FakeRuntimeFactory) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    factory.runtime.ready = False  # e.g. a model still loading
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["components"]["models"] is False


def test_metrics_count_connections_turns_and_errors(client: TestClient) -> None:
    conversation(client, turns=1)
    while client.app.state.service.turns.running:  # the turn is counted once its task ends
        time.sleep(0.01)
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_text("nonsense")
        ws.receive_json()
        text = client.get("/metrics").text
    assert 'assistant_connections{endpoint="chat"} 1.0' in text
    assert 'assistant_turns_total{outcome="ok"} 1.0' in text
    assert "assistant_time_to_first_token_seconds_count 1.0" in text
    assert "assistant_transcription_seconds_count" in text
    assert 'assistant_errors_total{code="bad_json"} 1.0' in text


def test_openapi_describes_the_http_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/uploads", "/api/conversations/{conversation_id}/events", "/api/kb/search",
            "/healthz", "/readyz", "/metrics"} <= set(paths)


def test_openapi_lists_the_statuses_each_route_really_answers(client: TestClient) -> None:
    """Every error a {code, message} body under a documented status; no FastAPI 422; and what the
    routes answer to missing auth, bad parameters and unknown ids is among what they document."""
    doc = client.get("/openapi.json").json()
    assert "422" not in json.dumps(doc) and "HTTPValidationError" not in json.dumps(doc)
    assert doc["components"]["schemas"]["Error"]["required"] == ["code", "message"]
    assert "text/plain" in doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    api = {(m, p) for p, ops in doc["paths"].items() for m in ops if p.startswith("/api/")}
    from channels.openapi import ROUTES
    assert api <= set(ROUTES), api - set(ROUTES)  # a new route must say what it answers
    dana = {"Authorization": "Bearer token-dana"}
    calls = [
        ("post", "/api/uploads", {}, {"files": {"file": ("a.png", b"x", "image/png")},
                                      "data": {"conversation_id": "nope"}}),
        ("get", "/api/uploads/{attachment_id}", {}, {}),
        ("get", "/api/uploads/{attachment_id}", dana, {}),
        ("get", "/api/conversations/{conversation_id}/events", {}, {"params": {"after": "-1"}}),
        ("get", "/api/conversations/{conversation_id}/events", dana, {}),
        ("get", "/api/kb/search", {}, {}),
        ("get", "/api/kb/search", dana, {"params": {"q": " "}}),
        ("post", "/api/kb/records", dana,
         {"json": {"conversation_id": "nope", "request": "q", "resolution": "a"}}),
        ("get", "/api/kb/learned", {}, {}),
        ("post", "/api/kb/learn", dana, {"json": {"days": 0}}),
        ("post", "/api/kb/learn", dana, {"json": {}}),
        ("delete", "/api/kb/learned/{record_id}", dana, {}),
        ("delete", "/api/kb/learned/{record_id}", dana, {"record": "learned-nope"}),
        ("post", "/api/agents/login", {}, {"json": {"name": "x"}}),
        ("get", "/api/agents/me", {}, {}),
        ("get", "/api/reports", dana, {"params": {"days": "0"}}),
        ("get", "/api/reports", dana, {"params": {"inbox": "other"}}),
    ]
    for method, path, headers, kw in calls:
        record = kw.pop("record", "nope")
        url = (path.replace("{attachment_id}", "nope").replace("{conversation_id}", "nope")
               .replace("{record_id}", record))
        r = client.request(method.upper(), url, headers=headers, **kw)
        documented = {int(s) for s in doc["paths"][path][method]["responses"] if s.isdigit()}
        assert r.status_code in documented, (method, path, r.status_code, r.text)
        if r.status_code >= 400:
            assert set(r.json()) == {"code", "message"}, r.text


def test_the_widget_and_demo_page_are_served(client: TestClient) -> None:
    assert "javascript" in client.get("/widget.js").headers["content-type"]
    assert client.get("/demo").status_code == 200


def test_two_apps_in_one_process_keep_separate_metrics(settings: Any) -> None:
    a = create_app(settings, FakeRuntimeFactory())
    b = create_app(with_server(settings, port=8081), FakeRuntimeFactory())
    assert a.state.metrics.registry is not b.state.metrics.registry
