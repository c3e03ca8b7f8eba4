"""Request bodies are refused by size before they are read, on the real server (uvicorn)."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlparse

from channel_fakes import with_server
from live_server import live_app


async def raw_request(url: str, head: bytes, body_chunks: list[bytes] | None = None) -> bytes:
    """Send the head (and maybe some body) over a plain socket; the status line and body back."""
    parsed = urlparse(url)
    reader, writer = await asyncio.open_connection(parsed.hostname, parsed.port)
    writer.write(head)
    for chunk in body_chunks or []:
        writer.write(chunk)
        try:
            await writer.drain()
        except (ConnectionError, OSError):
            break
    reply = await asyncio.wait_for(reader.read(65536), 10)
    writer.close()
    return reply


async def test_a_huge_upload_is_refused_before_its_body_is_read(settings: Any) -> None:
    """A 1 GiB multipart upload for a conversation that does not exist was read (and spooled
    to 1.2 GB of temporary files) before its 404: now 413 from the headers alone."""
    async with live_app(settings) as live:
        http = live.url.replace("ws://", "http://")
        started = time.perf_counter()
        head = (b"POST /api/uploads HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\n"
                b"Content-Length: 1073741824\r\n\r\n")
        reply = await raw_request(http, head)  # no body sent at all
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        assert b'"code":"body_too_large"' in reply.replace(b" ", b"")
        assert time.perf_counter() - started < 5


async def test_a_chunked_body_is_stopped_once_past_the_limit(settings: Any) -> None:
    small = with_server(settings, max_body_bytes=2048)
    async with live_app(small) as live:
        http = live.url.replace("ws://", "http://")
        head = (b"POST /api/agents/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"400\r\n" + b"a" * 1024 + b"\r\n"
        reply = await raw_request(http, head, [chunk] * 8)
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]


async def test_an_ordinary_upload_and_login_still_work(settings: Any) -> None:
    import httpx

    async with live_app(settings) as live:
        http = live.url.replace("ws://", "http://").replace("/ws/chat", "")
        async with httpx.AsyncClient(base_url=http) as client:
            r = await client.post("/api/agents/login", json={"name": "dana", "password": "x" * 12})
            assert r.status_code != 413  # refused for its credentials, not its size
            r = await client.post("/api/uploads", data={"conversation_id": "nope"},
                                  files={"file": ("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 5000, "image/png")})
            assert r.status_code == 404 and r.json()["code"] == "conversation_not_found"  # read, then judged


async def test_a_strangers_upload_is_refused_before_its_body_is_sent(settings: Any) -> None:
    """Within the size limit, an upload for a conversation the caller may not write to is refused
    from its query and headers: the server answers while the client has sent none of the file."""
    async with live_app(settings) as live:
        http = live.url.replace("ws://", "http://")
        for target, status in ((b"/api/uploads?conversation_id=nope", b"404"),):
            head = (b"POST " + target + b" HTTP/1.1\r\nHost: x\r\nX-Resume-Token: guess\r\n"
                    b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 5000000\r\n\r\n")
            started = time.perf_counter()
            reply = await raw_request(http, head)  # the 5 MB body never comes
            assert reply.startswith(b"HTTP/1.1 " + status), reply[:200]
            assert time.perf_counter() - started < 5
        import httpx

        from channels.client import ChatClient

        async with ChatClient(live.url) as chat:  # a real conversation, with its resume token
            await chat.open()
            cid = chat.conversation_id or ""
        head = (b"POST /api/uploads?conversation_id=" + cid.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                b"X-Resume-Token: wrong\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                b"Content-Length: 5000000\r\n\r\n")
        reply = await raw_request(http, head)
        assert reply.startswith(b"HTTP/1.1 403"), reply[:200]
        async with httpx.AsyncClient(base_url=http.replace("/ws/chat", "")) as client:  # the owner uploads
            r = await client.post("/api/uploads", params={"conversation_id": cid},
                                  headers={"X-Resume-Token": chat.resume_token or ""},
                                  files={"file": ("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 5000, "image/png")})
            assert r.status_code == 200, r.text


def test_limits_come_from_the_config(settings: Any) -> None:
    from channels.body_limit import UPLOAD_OVERHEAD, limits_from_settings

    limit_for = limits_from_settings(settings)
    upload = max(settings.vision.max_bytes, settings.speech.max_bytes) + UPLOAD_OVERHEAD
    assert limit_for("POST", "/api/uploads") == upload
    assert limit_for("POST", "/api/kb/records") == settings.server.max_body_bytes
