"""The OpenAI-compatible HTTP backend, against httpx.MockTransport and a real stand-in server."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from openai_standin import WORDS, StandIn, chunk

from assistant.errors import ModelBusy, ModelError, ModelTimeout, ModelUnavailable
from assistant.llm import LLM_BACKENDS
from assistant.llm.base import ChatMessage, ChatRequest
from assistant.llm.openai_http import OpenAIChat

SCREENSHOT = (Path(__file__).parent / "data" / "abcd" / "faq_screenshot.png").read_bytes()
QUESTION = ChatRequest((ChatMessage("system", "Be brief."), ChatMessage("user", "Where is my order?")),
                       max_new_tokens=50)


async def collect(backend: OpenAIChat, request: ChatRequest = QUESTION) -> str:
    return "".join([d.text async for d in backend.stream(request)])


# -- httpx.MockTransport --------------------------------------------------------------

class FakeSSE(httpx.AsyncByteStream):
    """A response body that records whether the client closed it."""

    def __init__(self, parts: list[str], stall: bool = False) -> None:
        self.parts, self.stall, self.closed = parts, stall, False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part.encode()
        if self.stall:
            await asyncio.sleep(3600)

    async def aclose(self) -> None:
        self.closed = True


def mock(body: FakeSSE | None = None, status: int = 200, seen: list[httpx.Request] | None = None,
         **kwargs) -> OpenAIChat:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if status != 200:
            return httpx.Response(status, json={"error": {"message": "model 'x' not found"}})
        return httpx.Response(200, stream=body, headers={"content-type": "text/event-stream"})

    return OpenAIChat("http://llm.test/v1/", "m", transport=httpx.MockTransport(handler), **kwargs)


async def test_mock_streams_deltas_and_posts_the_openai_shape() -> None:
    seen: list[httpx.Request] = []
    body = FakeSSE([chunk(w) for w in WORDS] + [chunk(finish="stop"), "data: [DONE]\n\n"])
    backend = mock(body, seen=seen, api_key="sk-test")
    assert [d.text async for d in backend.stream(QUESTION)] == WORDS
    request = seen[0]
    assert request.url == "http://llm.test/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    sent = json.loads(request.content)
    assert sent["stream"] is True and sent["model"] == "m" and sent["max_tokens"] == 50
    assert sent["messages"][1] == {"role": "user", "content": "Where is my order?"}
    await backend.aclose()


async def test_mock_sse_split_across_reads_and_keepalive_comments() -> None:
    raw = ": keep-alive\n\n" + chunk("Hel") + chunk("lo") + chunk(finish="stop") + "data: [DONE]\n\n"
    body = FakeSSE([raw[i:i + 7] for i in range(0, len(raw), 7)])
    assert await collect(mock(body)) == "Hello"


async def test_mock_http_error_carries_the_server_message() -> None:
    with pytest.raises(ModelError, match="HTTP 404: model 'x' not found") as err:
        await collect(mock(status=404))
    assert err.value.code == "model_error"
    with pytest.raises(ModelUnavailable):
        await collect(mock(status=503))
    with pytest.raises(ModelBusy):
        await collect(mock(status=429))


async def test_mock_stall_times_out_and_closes_the_response() -> None:
    body = FakeSSE([chunk("Hel")], stall=True)
    with pytest.raises(ModelTimeout, match="stalled"):
        await collect(mock(body, timeout=0.2))
    assert body.closed


async def test_mock_closing_the_iterator_closes_the_response() -> None:
    body = FakeSSE([chunk(w) for w in WORDS], stall=True)
    stream = mock(body).stream(QUESTION)
    assert (await anext(stream)).text == "Your"
    await stream.aclose()
    assert body.closed


async def test_mock_stream_ending_without_done_is_an_error() -> None:
    with pytest.raises(ModelError, match="mid-way"):
        await collect(mock(FakeSSE([chunk("Your"), chunk(" order")])))
    # but a finish_reason without [DONE] is a complete answer (some servers omit it)
    assert await collect(mock(FakeSSE([chunk("Ok"), chunk(finish="stop")]))) == "Ok"


# -- the real stand-in server ------------------------------------------------------------

@pytest.fixture(scope="module")
def standin() -> StandIn:
    with StandIn() as server:
        yield server


def real(standin: StandIn, mode: str, **kwargs) -> OpenAIChat:
    return OpenAIChat(standin.base_url, mode, **kwargs)


async def test_server_streams_a_whole_answer(standin: StandIn) -> None:
    backend = real(standin, "normal")
    assert [d.text async for d in backend.stream(QUESTION)] == WORDS
    await backend.aclose()


async def test_server_receives_images_as_data_urls(standin: StandIn) -> None:
    request = ChatRequest((ChatMessage("user", "What does this page say?", images=(SCREENSHOT,)),))
    backend = real(standin, "normal")
    assert await collect(backend, request) == "".join(WORDS)
    content = standin.requests[-1]["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "What does this page say?"}
    url = content[1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == SCREENSHOT
    await backend.aclose()


@pytest.mark.parametrize(("mode", "error", "code"), [
    ("error-mid", "out of GPU memory", "model_error"),
    ("cut-mid", "broke off|mid-way", "model_error"),
    ("http-500", "HTTP 500: stand-in failure 500", "model_error"),
    ("http-503", "HTTP 503", "model_unavailable"),
])
async def test_server_failures_end_the_turn_with_the_reason(standin: StandIn, mode: str, error: str,
                                                            code: str) -> None:
    backend = real(standin, mode)
    seen: list[str] = []
    with pytest.raises(ModelError, match=error) as err:
        async for d in backend.stream(QUESTION):
            seen.append(d.text)
    assert err.value.code == code
    if mode.endswith("-mid"):
        assert seen == WORDS[:2]  # what came before the failure was delivered
    await backend.aclose()


async def test_server_stalling_mid_stream_times_out(standin: StandIn) -> None:
    backend = real(standin, "stall-mid", timeout=0.5)
    seen: list[str] = []
    with pytest.raises(ModelTimeout) as err:
        async for d in backend.stream(QUESTION):
            seen.append(d.text)
    assert seen == WORDS[:2] and err.value.code == "model_timeout"
    await backend.aclose()


async def test_closing_the_iterator_disconnects_from_the_server(standin: StandIn) -> None:
    standin.disconnected.clear()
    backend = real(standin, "slow")
    stream = backend.stream(QUESTION)
    assert (await anext(stream)).text == " w0"
    await stream.aclose()
    await backend.aclose()
    # the server notices on its next write; wait for that, not for a fixed time
    assert await asyncio.to_thread(standin.disconnected.wait, 10)


async def test_refused_connection_names_the_url() -> None:
    with StandIn() as gone:
        url = gone.base_url  # a port that was just free, now closed again
    backend = OpenAIChat(url, "normal", timeout=2)
    with pytest.raises(ModelUnavailable, match=url.replace(".", r"\.")) as err:
        await collect(backend)
    assert err.value.code == "model_unavailable"
    await backend.aclose()


def test_registry_builds_it_from_settings(settings) -> None:
    backend = LLM_BACKENDS.create("openai", settings)
    assert backend.url == "http://127.0.0.1:8000/v1/chat/completions"
    assert backend.supports_images and backend.count_tokens("abcdefgh") == 2
