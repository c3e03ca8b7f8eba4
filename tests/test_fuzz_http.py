"""The HTTP API fuzzed from its own OpenAPI document (schemathesis) on a live uvicorn server:
whatever a client sends, no 500, every status one the document lists for that route, and the
declared content type. Anonymous callers and an agent (dana) both."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from channel_fakes import FakeAuthenticator, FakeRuntimeFactory
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from live_server import free_port
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from channels.app import create_app

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import uvicorn

    from assistant.settings import load_settings

    settings = load_settings(ROOT / "config.toml", data_dir=str(tmp_path_factory.mktemp("fuzz-http")))
    settings = settings.model_copy(update={"server": settings.server.model_copy(
        update={"messages_per_minute_ip": 100_000})})
    port = free_port()
    app = create_app(settings, FakeRuntimeFactory(), authenticator=FakeAuthenticator())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield schemathesis.openapi.from_url(f"http://127.0.0.1:{port}/openapi.json")
    server.should_exit = True
    thread.join(10)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer token-dana"}], ids=["anyone", "agent"])
def test_every_route_answers_as_documented(api: Any, headers: dict[str, str]) -> None:
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:
        @given(case=operation.as_strategy())
        @hsettings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)
        call()
