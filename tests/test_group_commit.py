"""Group commit: writes waiting together share one SQLite transaction, and fail alone.

The committer's own tests hold its thread on a gate, so the writes under test are
certain to queue up and land in one batch; the store's tests run on real files.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from assistant.errors import ConversationError, StoreError
from assistant.events import Note, StatusChanged
from assistant.store.group_commit import GroupCommitter
from assistant.store.sqlite import SQLiteStore


@pytest.fixture
def committer(tmp_path: Path) -> Iterator[tuple[GroupCommitter, ThreadPoolExecutor, Path]]:
    path = tmp_path / "t.db"
    executor = ThreadPoolExecutor(max_workers=1)
    conns: list[sqlite3.Connection] = []

    def connect() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
        conns.append(conn)
    executor.submit(connect).result()
    yield GroupCommitter(executor, lambda: conns[0]), executor, path
    executor.submit(conns[0].close).result()
    executor.shutdown()


def insert(conn: sqlite3.Connection, key: str) -> str:
    conn.execute("INSERT INTO t VALUES (?)", (key,))
    return key


def insert_then_fail(conn: sqlite3.Connection, key: str) -> str:
    insert(conn, key)
    raise ConversationError("no", code="bad_transition")


def stored_keys(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:  # another connection: sees only what was committed
        return sorted(k for (k,) in conn.execute("SELECT k FROM t"))


async def held(executor: ThreadPoolExecutor, *writes: Awaitable[object]) -> list[object]:
    """Results of writes queued while the committer's thread was busy."""
    gate = threading.Event()
    executor.submit(gate.wait)
    tasks = [asyncio.ensure_future(w) for w in writes]
    await asyncio.sleep(0)  # every task queues its write now
    gate.set()
    return list(await asyncio.gather(*tasks, return_exceptions=True))


async def test_writes_waiting_together_commit_in_one_transaction(committer):
    gc, executor, path = committer
    results = await held(executor, *(gc.write(insert, f"k{i}") for i in range(50)))
    assert results == [f"k{i}" for i in range(50)]
    assert (gc.batches, gc.writes) == (1, 50)
    assert stored_keys(path) == sorted(f"k{i}" for i in range(50))


async def test_a_failing_write_is_rolled_back_alone(committer):
    gc, executor, path = committer
    results = await held(executor, gc.write(insert, "a"), gc.write(insert_then_fail, "b"),
                         gc.write(insert, "a"), gc.write(insert, "c"))
    assert results[0] == "a" and results[3] == "c"
    assert isinstance(results[1], ConversationError) and results[1].code == "bad_transition"
    # A database error (duplicate key) fails its own caller as a StoreError.
    assert isinstance(results[2], StoreError) and results[2].code == "store_error"
    assert gc.batches == 1
    assert stored_keys(path) == ["a", "c"]


async def test_a_failed_commit_fails_every_write_of_the_batch(committer):
    gc, executor, path = committer
    # Another connection holds the write lock: BEGIN IMMEDIATE cannot get it.
    other = sqlite3.connect(path, isolation_level=None, timeout=0, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    executor.submit(lambda: gc._db().execute("PRAGMA busy_timeout = 0")).result()
    results = await held(executor, gc.write(insert, "x"), gc.write(insert, "y"))
    other.execute("ROLLBACK")
    other.close()
    assert all(isinstance(r, StoreError) for r in results)
    assert stored_keys(path) == []
    assert await gc.write(insert, "z") == "z"  # the committer goes on working
    assert stored_keys(path) == ["z"]


async def test_large_queues_are_split_into_bounded_batches(committer):
    gc, executor, path = committer
    gc.max_batch = 8
    results = await held(executor, *(gc.write(insert, f"k{i:02}") for i in range(20)))
    assert results == [f"k{i:02}" for i in range(20)]
    assert gc.batches == 3
    assert len(stored_keys(path)) == 20


async def test_a_cancelled_caller_still_has_its_write_committed(committer):
    gc, executor, path = committer
    gate = threading.Event()
    executor.submit(gate.wait)
    task = asyncio.ensure_future(gc.write(insert, "kept"))
    await asyncio.sleep(0)
    task.cancel()
    gate.set()
    assert await gc.write(insert, "after") == "after"
    assert task.cancelled()
    assert stored_keys(path) == ["after", "kept"]


# -- through the SQLite store ------------------------------------------------------

async def test_concurrent_appends_across_conversations_survive_a_reopen(data_dir):
    store = SQLiteStore(data_dir / "conversations.db")
    await store.open()
    convs = [await store.create() for _ in range(20)]
    appends = [store.append(Note(conversation_id=c.id, text=f"{c.id}:{i}")) for i in range(10) for c in convs]
    stored = await asyncio.gather(*appends)
    writes = store._writes
    assert writes is not None and writes.batches < writes.writes  # shared transactions
    await store.close()

    reopened = SQLiteStore(data_dir / "conversations.db")
    await reopened.open()
    try:
        for conv in convs:
            replay = await reopened.events(conv.id)
            assert [e.seq for e in replay] == list(range(1, 11))
            assert [e.text for e in replay] == [f"{conv.id}:{i}" for i in range(10)]  # type: ignore[attr-defined]
            assert (await reopened.get(conv.id)).last_seq == 10
            assert replay == [e for e in stored if e.conversation_id == conv.id]  # as acknowledged
    finally:
        await reopened.close()


async def test_one_bad_append_in_a_batch_does_not_fail_the_others(data_dir):
    store = SQLiteStore(data_dir / "conversations.db")
    await store.open()
    try:
        a, b = await store.create(), await store.create()
        assert store._executor is not None
        results = await held(
            store._executor,
            store.append(Note(conversation_id=a.id, text="first")),
            store.append(StatusChanged(conversation_id=b.id, state="bot")),  # bot -> bot: refused
            store.append(Note(conversation_id="nope", text="lost")),
            store.append_many([Note(conversation_id=b.id, text="ok"),
                               StatusChanged(conversation_id=b.id, state="bot")]),
            store.append(Note(conversation_id=a.id, text="second")))
        assert [type(r).__name__ for r in results] == ["Note", "ConversationError", "ConversationError",
                                                       "ConversationError", "Note"]
        assert [r.code for r in results[1:4]] == ["bad_transition", "conversation_not_found",  # type: ignore[union-attr]
                                                  "bad_transition"]
        assert [e.text for e in await store.events(a.id)] == ["first", "second"]  # type: ignore[attr-defined]
        assert await store.events(b.id) == []  # the half-good append_many left nothing behind
        assert (await store.get(b.id)).last_seq == 0
        # the lease taken at open, two creates, then one batch
        assert store._writes is not None and store._writes.batches == 4
    finally:
        await store.close()


async def test_reads_do_not_wait_for_the_writing_thread(data_dir):
    store = SQLiteStore(data_dir / "conversations.db")
    await store.open()
    gate = threading.Event()
    try:
        conv = await store.create()
        first = await store.append(Note(conversation_id=conv.id, text="first"))
        assert store._executor is not None
        busy = threading.Event()
        store._executor.submit(lambda: (busy.set(), gate.wait()))  # the writer is busy (a long commit, say)
        # Only once the writer has left the drain that committed `first` (a slow thread could
        # otherwise take `second` into that drain before blocking on the gate).
        assert await asyncio.to_thread(busy.wait, 10)
        pending = asyncio.ensure_future(store.append(Note(conversation_id=conv.id, text="second")))
        # A reconnecting client's replay is answered meanwhile, with what was acknowledged.
        assert await asyncio.wait_for(store.events(conv.id), 5) == [first]
        assert (await asyncio.wait_for(store.get(conv.id), 5)).last_seq == 1
        assert not pending.done()
        gate.set()
        second = await pending
        assert await store.events(conv.id) == [first, second]  # and at once what was acknowledged next
    finally:
        gate.set()  # a failed assert above must not leave the writer blocked, and close() waiting on it
        await store.close()
