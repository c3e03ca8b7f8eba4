"""Shared fixtures: a fresh data directory per test, and the real services.

A test of a scale-out backend asks for `pg_url` or `redis_url`. Where the
service is unreachable it skips with the reason, except in CI (CI=true), where
an unreachable service is a failure: CI must prove the real backends work.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"
DEMO = Path(__file__).parent.parent / "demo"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    reason = f"{name} is not reachable on {host}:{port}"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (CI=true: scale-out tests must run)")
    pytest.skip(reason)


@pytest.fixture
def pg_url() -> str:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    return os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", "127.0.0.1", 6379)
    return os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.service)])
async def either_store(request: pytest.FixtureRequest, data_dir: Path) -> AsyncIterator[Any]:
    """An open conversation store of each backend: SQLite on a fresh file, PostgreSQL in a schema
    of its own, dropped at the end."""
    from assistant.store.postgres import PostgresStore
    from assistant.store.sqlite import SQLiteStore

    schema = ""
    if request.param == "sqlite":
        store: SQLiteStore | PostgresStore = SQLiteStore(data_dir / "conversations.db")
    else:
        schema = f"test_{uuid.uuid4().hex[:12]}"
        store = PostgresStore(request.getfixturevalue("pg_url"), schema=schema, pool_size=2)
    await store.open()
    yield store
    await store.close()
    if schema:
        await drop_schema(request.getfixturevalue("pg_url"), schema)


async def drop_schema(url: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[int]:
    """A real Chroma server (`chroma run`, installed with chromadb) on a free port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    chroma = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "chroma-server"),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not _reachable("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the chroma server did not start")
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
async def sqlite_store(tmp_path: Path):
    """An open SQLite conversation store on a fresh file, closed after the test."""
    from assistant.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "conversations.db")
    await store.open()
    yield store
    await store.close()


@pytest.fixture
def settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings with the defaults of config.toml and a fresh data_dir."""
    from assistant.settings import load_settings

    for key in [k for k in os.environ if k.startswith("ASSISTANT_")]:
        monkeypatch.delenv(key)
    return load_settings(Path(__file__).parent.parent / "config.toml", data_dir=data_dir)
