"""Any OpenAI-compatible chat server: vLLM, Ollama, llama.cpp server, a hosted API.

POST {base_url}/chat/completions with stream=true, read the server-sent events,
yield each content delta. Images travel inline as data URLs. Every way a server can
fail (refused, HTTP error, error event, stall, cut-off stream) ends the turn with a
ModelError subclass carrying the server's own words.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx

from assistant.errors import ModelBusy, ModelError, ModelTimeout, ModelUnavailable
from assistant.filetypes import sniff
from assistant.llm.base import ChatMessage, ChatRequest, Delta

if TYPE_CHECKING:
    from assistant.settings import Settings


def data_url(image: bytes) -> str:
    found = sniff(image)  # the images here were validated: this is their real type
    mime = found.content_type if found is not None and found.kind == "image" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(image).decode()}"


def wire_message(message: ChatMessage) -> dict[str, Any]:
    if not message.images:
        return {"role": message.role, "content": message.content}
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}]
    parts += [{"type": "image_url", "image_url": {"url": data_url(img)}} for img in message.images]
    return {"role": message.role, "content": parts}


def server_message(body: bytes) -> str:
    """The human part of an error body: OpenAI's {"error": {"message"}}, FastAPI's
    {"detail"}, or the text itself."""
    text = body.decode(errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:300] or "no details"
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data))
        if isinstance(err, dict):
            err = err.get("message", err)
        return str(err)[:300]
    return text[:300]


class OpenAIChat:
    name = "openai"
    reads_prompt = True
    supports_images = True  # sent as data URLs; a text-only server model answers with an HTTP error

    def __init__(self, base_url: str, model: str, *, api_key: str = "", timeout: float = 60.0,
                 max_new_tokens: int = 200, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout  # to connect, and between two streamed chunks
        self.max_new_tokens = max_new_tokens
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIChat:
        o = settings.llm.openai
        return cls(o.base_url, o.model, api_key=o.api_key, timeout=o.timeout,
                   max_new_tokens=settings.llm.max_new_tokens)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._client = httpx.AsyncClient(transport=self._transport, headers=headers,
                                             timeout=httpx.Timeout(self.timeout))
        return self._client

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": [wire_message(m) for m in request.messages],
            "stream": True,
            "max_tokens": min(request.max_new_tokens, self.max_new_tokens),
            "temperature": request.temperature,
        }
        if self.model:
            body["model"] = self.model
        return body

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        try:
            async with self.client.stream("POST", self.url, json=self.payload(request)) as response:
                await self._raise_for_status(response)
                async for text in self._events(response):
                    yield Delta(text)
        except httpx.ConnectError as exc:
            raise ModelUnavailable(f"cannot reach the model server at {self.url}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise ModelTimeout(f"the model server at {self.url} did not answer within "
                               f"{self.timeout:g} s") from exc
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise ModelError(f"the model server at {self.url} broke off the answer: {exc}") from exc

    async def _raise_for_status(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        message = server_message(await response.aread())
        status = response.status_code
        text = f"the model server answered HTTP {status}: {message}"
        if status == 429:
            raise ModelBusy(text)
        if status in (502, 503, 504):
            raise ModelUnavailable(text)
        raise ModelError(text)

    async def _events(self, response: httpx.Response) -> AsyncIterator[str]:
        """Content deltas from the SSE body; a body that ends unfinished is an error."""
        lines = response.aiter_lines()
        finished = False
        while True:
            try:
                async with asyncio.timeout(self.timeout):  # also covers transports without read timeouts
                    line = await anext(lines)
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise ModelTimeout(f"the model server at {self.url} stalled: no data for "
                                   f"{self.timeout:g} s") from None
            if not line.startswith("data:"):
                continue  # blank separators, ": keep-alive" comments, event: lines
            data = line[5:].strip()
            if data == "[DONE]":
                return
            text, done = self._parse_chunk(data)
            finished = finished or done
            if text:
                yield text
        if not finished:  # some servers omit [DONE] but always send a finish_reason
            raise ModelError(f"the model server at {self.url} ended the answer mid-way")

    def _parse_chunk(self, data: str) -> tuple[str, bool]:
        try:
            chunk = json.loads(data)
        except ValueError:
            raise ModelError(f"the model server sent something that is not JSON: {data[:100]}") from None
        if "error" in chunk:
            raise ModelError(f"the model server failed mid-answer: {server_message(data.encode())}")
        choices = chunk.get("choices") or [{}]
        delta = choices[0].get("delta") or {}
        return delta.get("content") or "", choices[0].get("finish_reason") is not None

    def count_tokens(self, text: str) -> int:
        """An estimate (about 4 characters a token): the server's tokenizer is not here."""
        return math.ceil(len(text) / 4)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
