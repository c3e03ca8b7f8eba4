"""Both conversation stores, against the real databases: SQLite files and PostgreSQL.

Every PostgreSQL test gets its own schema, dropped at the end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from conftest import drop_schema
from event_samples import every_event

from assistant.errors import ConfigError, ConversationError
from assistant.events import AnswerDelta, AnswerStarted, Note, StatusChanged, UserMessage
from assistant.store import STORES
from assistant.store.base import AgentAccount
from assistant.store.postgres import PostgresStore
from assistant.store.sqlite import SQLiteStore

ROOT = Path(__file__).parent.parent
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.service)]

Factory = Callable[[], "SQLiteStore | PostgresStore"]


@pytest.fixture(params=BACKENDS)
async def make_store(request: pytest.FixtureRequest, data_dir: Path) -> AsyncIterator[Factory]:
    """Builds (unopened) stores over one database, so a test can close and reopen it."""
    if request.param == "sqlite":
        yield lambda: SQLiteStore(data_dir / "conversations.db")
        return
    url = request.getfixturevalue("pg_url")
    schema = f"test_store_{uuid.uuid4().hex[:12]}"
    try:
        yield lambda: PostgresStore(url, schema=schema, pool_size=4)
    finally:
        await drop_schema(url, schema)


@pytest.fixture
async def store(make_store: Factory) -> AsyncIterator[SQLiteStore | PostgresStore]:
    s = make_store()
    await s.open()
    yield s
    await s.close()


def note(cid: str, text: str = "n") -> Note:
    return Note(conversation_id=cid, text=text)


def status(cid: str, state: str, **kw: str) -> StatusChanged:
    return StatusChanged(conversation_id=cid, state=state, **kw)  # type: ignore[arg-type]


async def test_create_and_get(store):
    a = await store.create(user_id="u1", inbox="billing")
    b = await store.create()
    got = await store.get(a.id)
    assert got == a
    assert (got.state, got.last_seq, got.user_id, got.inbox) == ("bot", 0, "u1", "billing")
    assert a.id != b.id and a.resume_token and a.resume_token != b.resume_token


async def test_append_assigns_consecutive_seqs_and_keeps_every_field(store):
    conv = await store.create()
    originals = every_event(conv.id)
    stored = [await store.append(e) for e in originals]
    assert [e.seq for e in stored] == list(range(1, len(originals) + 1))
    assert stored == [dataclasses.replace(o, seq=i) for i, o in enumerate(originals, 1)]
    assert await store.events(conv.id) == stored
    info = await store.get(conv.id)
    assert info.last_seq == len(originals)
    assert info.state == "waiting_human"  # the StatusChanged in every_event
    assert info.updated_at >= conv.updated_at


async def test_replay_after_and_limit(store):
    conv = await store.create()
    for i in range(10):
        await store.append(note(conv.id, f"n{i}"))
    assert [e.seq for e in await store.events(conv.id, after=7)] == [8, 9, 10]
    assert [e.seq for e in await store.events(conv.id, after=2, limit=3)] == [3, 4, 5]
    assert await store.events(conv.id, after=10) == []


async def test_everything_is_there_after_close_and_reopen(make_store):
    first = make_store()
    await first.open()
    conv = await first.create(inbox="sales")
    stored = [await first.append(e) for e in every_event(conv.id)]
    att = await first.put_attachment(conv.id, b"\x89PNG...", "image/png", "shot.png")
    await first.put_agent(AgentAccount(name="ana", password_hash="h"))
    info = await first.get(conv.id)
    await first.close()

    second = make_store()
    await second.open()
    try:
        assert await second.get(conv.id) == info
        assert info.last_seq == len(stored)
        assert await second.events(conv.id) == stored
        assert (await second.get_attachment(att.id)).data == b"\x89PNG..."
        assert (await second.get_agent("ana")) is not None
    finally:
        await second.close()


async def test_concurrent_appends_get_consecutive_seqs(make_store):
    # Two store objects (two pools / two connections) stand in for two workers.
    stores = [make_store(), make_store()]
    for s in stores:
        await s.open()
    try:
        conv = await stores[0].create()
        results = await asyncio.gather(*(stores[i % 2].append(note(conv.id, str(i))) for i in range(60)))
        assert sorted(e.seq for e in results) == list(range(1, 61))
        replay = await stores[1].events(conv.id)
        assert [e.seq for e in replay] == list(range(1, 61))
        assert sorted(e.text for e in replay) == sorted(str(i) for i in range(60))  # type: ignore[attr-defined]
    finally:
        for s in stores:
            await s.close()


CHILD = """
import asyncio, sys
from assistant.events import Note
from assistant.store.sqlite import SQLiteStore

async def main(path, cid, n):
    store = SQLiteStore(path)
    await store.open()
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(n):
        await store.append(Note(conversation_id=cid, text=f"child {i}"))
    await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_sqlite_two_processes_never_share_a_seq(data_dir):
    path = data_dir / "conversations.db"
    store = SQLiteStore(path)
    await store.open()
    conv = await store.create()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, str(path), conv.id, "100", cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert child.stdin and child.stdout
    assert (await child.stdout.readline()).strip() == b"ready"
    child.stdin.write(b"go\n")
    await child.stdin.drain()
    for i in range(100):
        await store.append(note(conv.id, f"parent {i}"))
    assert await child.wait() == 0
    replay = await store.events(conv.id)
    await store.close()
    assert [e.seq for e in replay] == list(range(1, 201))
    texts = [e.text for e in replay]  # type: ignore[attr-defined]
    assert sum(t.startswith("child") for t in texts) == 100
    assert [t for t in texts if t.startswith("parent")] == [f"parent {i}" for i in range(100)]


KILLED_CHILD = """
import asyncio, sys
from assistant.events import Note
from assistant.store.sqlite import SQLiteStore

async def main(path, cid):
    store = SQLiteStore(path)
    await store.open()
    for i in range(100_000):
        event = await store.append(Note(conversation_id=cid, text=f"note {i}"))
        print(event.seq, flush=True)  # the client is told only now

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_sqlite_keeps_every_acknowledged_event_when_the_process_is_killed(data_dir):
    path = data_dir / "conversations.db"
    store = SQLiteStore(path)
    await store.open()
    conv = await store.create()
    await store.close()
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", KILLED_CHILD, str(path), conv.id,
                                                 cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    assert child.stdout
    told = [int(await child.stdout.readline()) for _ in range(30)]
    child.kill()
    await child.wait()
    store = SQLiteStore(path)
    await store.open()
    replay = await store.events(conv.id)
    await store.close()
    assert told == list(range(1, 31))
    assert [e.seq for e in replay][:30] == told
    assert [e.seq for e in replay] == list(range(1, len(replay) + 1))


@pytest.mark.service
async def test_postgres_workers_can_start_together(pg_url):
    schema = f"test_store_{uuid.uuid4().hex[:12]}"
    stores = [PostgresStore(pg_url, schema=schema, pool_size=1) for _ in range(4)]
    try:
        await asyncio.gather(*(s.open() for s in stores))  # all create the same tables at once
        conv = await stores[0].create()
        assert (await stores[3].get(conv.id)).id == conv.id
    finally:
        for s in stores:
            await s.close()
        await drop_schema(pg_url, schema)


async def test_status_changes_update_the_conversation(store):
    conv = await store.create()
    waiting = await store.append(status(conv.id, "waiting_human", reason="low_confidence"))
    info = await store.get(conv.id)
    assert (info.state, info.handoff_reason, info.waiting_since) == ("waiting_human", "low_confidence",
                                                                       waiting.at)
    await store.append(status(conv.id, "human", agent="ana"))
    info = await store.get(conv.id)
    assert (info.state, info.agent, info.waiting_since, info.handoff_reason) == ("human", "ana", 0.0,
                                                                                 "low_confidence")
    await store.append(status(conv.id, "bot", reason="agent"))
    info = await store.get(conv.id)
    assert (info.state, info.agent) == ("bot", "")
    await store.append(status(conv.id, "closed"))
    await store.append(status(conv.id, "bot", reason="customer_wrote"))
    assert (await store.get(conv.id)).state == "bot"


@pytest.mark.parametrize("path", [("human", "waiting_human"), ("closed", "human"), ("bot",)])
async def test_bad_transition_is_refused_and_nothing_is_written(store, path):
    conv = await store.create()
    for state in path[:-1]:
        await store.append(status(conv.id, state))
    before = await store.get(conv.id)
    with pytest.raises(ConversationError) as err:
        await store.append(status(conv.id, path[-1]))
    assert err.value.code == "bad_transition"
    assert await store.get(conv.id) == before
    assert len(await store.events(conv.id)) == before.last_seq


async def test_append_many_is_all_or_nothing(store):
    conv = await store.create()
    batch = [AnswerStarted(conversation_id=conv.id, message_id="a"),
             *[AnswerDelta(conversation_id=conv.id, message_id="a", text=t) for t in ("Hel", "lo")]]
    stored = await store.append_many(batch)
    assert [e.seq for e in stored] == [1, 2, 3]
    with pytest.raises(ConversationError):
        await store.append_many([note(conv.id), status(conv.id, "human"), status(conv.id, "waiting_human")])
    assert [e.seq for e in await store.events(conv.id)] == [1, 2, 3]
    assert (await store.get(conv.id)).state == "bot"


async def test_a_resent_client_message_is_stored_once(store):
    conv, other = await store.create(), await store.create()
    msg = UserMessage(conversation_id=conv.id, message_id="m1", text="where is my order", client_msg_id="k1")
    first = await store.append(msg)
    await store.append(note(conv.id))
    again = await store.append(UserMessage(conversation_id=conv.id, message_id="m2", text="where is my order",
                                           client_msg_id="k1"))
    assert again == first and again.seq == 1
    assert [e.seq for e in await store.events(conv.id)] == [1, 2]
    assert await store.find_client_message(conv.id, "k1") == first
    assert await store.find_client_message(conv.id, "nope") is None
    # Same client id in another conversation is another message; an empty id never deduplicates.
    same_key = UserMessage(conversation_id=other.id, message_id="m", client_msg_id="k1")
    assert (await store.append(same_key)).seq == 1
    for _ in range(2):
        await store.append(UserMessage(conversation_id=other.id, message_id="m", text="x"))
    assert (await store.get(other.id)).last_seq == 3


async def test_attachments_round_trip(store):
    conv = await store.create()
    data = bytes(range(256)) * 40
    att = await store.put_attachment(conv.id, data, "image/png", "screen.png")
    got = await store.get_attachment(att.id)
    assert got == att and got.data == data and got.conversation_id == conv.id
    with pytest.raises(ConversationError) as err:
        await store.get_attachment("missing")
    assert err.value.code == "attachment_not_found"
    with pytest.raises(ConversationError) as err:
        await store.put_attachment("missing", b"x", "image/png")
    assert err.value.code == "conversation_not_found"


async def test_list_filters_by_state_and_inbox_with_waiting_first(store):
    a = await store.create(inbox="billing")
    b = await store.create(inbox="billing")
    c = await store.create(inbox="sales")
    d = await store.create(inbox="billing")
    await store.append(status(b.id, "waiting_human"))  # waiting longest
    await store.append(status(d.id, "waiting_human"))
    await store.append(note(a.id))  # most recently active bot conversation
    await store.append(status(c.id, "closed"))
    assert [i.id for i in await store.list(inboxes=("billing",))] == [b.id, d.id, a.id]
    assert [i.id for i in await store.list(states=("waiting_human",))] == [b.id, d.id]
    assert [i.id for i in await store.list(states=("closed", "bot"))] == [c.id, a.id]
    assert [i.id for i in await store.list(states=("bot",), inboxes=("sales",))] == []
    assert len(await store.list(limit=2)) == 2
    assert len(await store.list()) == 4


@pytest.mark.parametrize("call", [
    lambda s: s.get("nope"),
    lambda s: s.append(Note(conversation_id="nope", text="x")),
    lambda s: s.events("nope"),
])
async def test_unknown_conversation(store, call):
    with pytest.raises(ConversationError) as err:
        await call(store)
    assert err.value.code == "conversation_not_found"
    assert "nope" in err.value.message


async def test_agent_accounts(store):
    assert await store.list_agents() == []
    await store.put_agent(AgentAccount(name="ana", password_hash="$argon2id$1", display_name="Ana",
                                       inboxes=("billing", "sales")))
    await store.put_agent(AgentAccount(name="bo", password_hash="$argon2id$2"))
    ana = await store.get_agent("ana")
    assert ana is not None and ana.inboxes == ("billing", "sales") and ana.display_name == "Ana"
    assert ana.created_at > 0
    await store.put_agent(AgentAccount(name="ana", password_hash="$argon2id$3", inboxes=("default",)))
    replaced = await store.get_agent("ana")
    assert replaced is not None
    assert (replaced.password_hash, replaced.inboxes, replaced.created_at) == ("$argon2id$3", ("default",),
                                                                              ana.created_at)
    assert [a.name for a in await store.list_agents()] == ["ana", "bo"]
    assert await store.delete_agent("bo") is True
    assert await store.delete_agent("bo") is False
    assert await store.get_agent("bo") is None


async def test_sqlite_file_is_wal_with_full_sync_by_default(settings):
    store = STORES.create("sqlite", settings)
    assert isinstance(store, SQLiteStore)
    assert store.path == settings.data_dir / "conversations.db"
    await store.open()
    await store.close()
    assert sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.synchronous == "full"


def test_postgres_needs_a_url(settings):
    with pytest.raises(ConfigError, match="store.url"):
        STORES.create("postgres", settings)
    with pytest.raises(ConfigError, match="pg_schema"):
        PostgresStore("postgresql://x/y", schema='bad"; DROP')
