"""Group commit for the SQLite store: many writers, one transaction, one fsync.

With synchronous=FULL each commit costs an fsync (milliseconds), so committing
every append alone caps a worker at a few hundred appends a second however
many conversations are streaming. Here callers queue their write functions; the
store's one thread takes every write waiting, runs each inside its own SAVEPOINT
(a failing write is rolled back alone and fails only its own caller), commits
once, and only then answers each caller. Nothing is acknowledged before the
commit that makes it durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

from assistant.errors import StoreError

T = TypeVar("T")

# Writes committed in one transaction at most: bounds how long the write lock is held
# and how long the first caller of a very large batch waits.
MAX_BATCH = 512


@dataclass
class _Request:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    outcome: tuple[bool, Any] = (False, None)  # (ok, result or exception), set on the store's thread


class GroupCommitter:
    """Runs `fn(conn, *args)` write functions on the store's thread, batched into transactions."""

    def __init__(self, executor: Executor, db: Callable[[], sqlite3.Connection],
                 max_batch: int = MAX_BATCH) -> None:
        self._executor = executor  # the store's single thread: it owns the connection
        self._db = db
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[_Request] = []
        self._scheduled = False  # a drain is queued on the executor and has not taken its batch yet
        self.batches = 0  # transactions committed (for tests and benchmarks)
        self.writes = 0  # writes that were part of a committed transaction

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """The result of `fn(conn, *args)` once the transaction holding it has committed.

        Exceptions raised by `fn` reach this caller only; its writes are rolled back.
        """
        loop = asyncio.get_running_loop()
        request = _Request(fn, args, loop.create_future())
        with self._lock:
            self._pending.append(request)
            start, self._scheduled = not self._scheduled, True
        if start:
            # Writes that arrive while this drain commits queue up for the next one.
            try:
                self._executor.submit(self._drain)
            except RuntimeError:  # the store's thread has been shut down
                with self._lock:
                    self._pending.remove(request)
                    self._scheduled = False
                raise StoreError("The conversation store is not open.") from None
        return await request.future  # type: ignore[no-any-return]

    def _take(self) -> list[_Request]:
        with self._lock:
            batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
            # Leftovers (beyond max_batch) keep a drain scheduled: this one takes them next.
            self._scheduled = bool(self._pending)
        return batch

    def _drain(self) -> None:
        while batch := self._take():
            try:
                self._commit(batch)
            except BaseException as exc:  # every caller must hear back, whatever failed
                error = _store_error(exc)
                for request in batch:
                    request.outcome = (False, error)
            for request in batch:
                # Each caller is answered on its own loop, and only now: after the commit.
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                    request.future.get_loop().call_soon_threadsafe(_settle, request)

    def _commit(self, batch: list[_Request]) -> None:
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for request in batch:
                request.outcome = _in_savepoint(conn, request)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.batches += 1
        self.writes += sum(ok for ok, _ in (r.outcome for r in batch))


def _in_savepoint(conn: sqlite3.Connection, request: _Request) -> tuple[bool, Any]:
    conn.execute("SAVEPOINT one_write")
    try:
        result = request.fn(conn, *request.args)
    except Exception as exc:
        # Undo this write only; an error here (the database itself failing) aborts the batch.
        conn.execute("ROLLBACK TO one_write")
        conn.execute("RELEASE one_write")
        return False, _store_error(exc)
    conn.execute("RELEASE one_write")
    return True, result


def _store_error(exc: BaseException) -> BaseException:
    if isinstance(exc, sqlite3.Error):
        error = StoreError(f"The conversation database failed: {exc}.")
        error.__cause__ = exc
        return error
    return exc


def _settle(request: _Request) -> None:
    if request.future.done():  # the caller was cancelled; its write stands (it is committed)
        return
    ok, value = request.outcome
    if ok:
        request.future.set_result(value)
    else:
        request.future.set_exception(value)
