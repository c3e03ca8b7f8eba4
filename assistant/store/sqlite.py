"""The default conversation store: one SQLite file (WAL mode) under the data directory.

Writes run on one dedicated thread that owns the writing connection, reads on a
second thread with a read-only connection (WAL: a read never waits for a commit's
fsync), so the event loop never blocks on disk. Appends take `BEGIN IMMEDIATE`, the database's
write lock, before reading last_seq: several processes sharing the file still get
consecutive, unique seqs. With synchronous=FULL every commit is fsynced before
`append` returns (see docs/store.md for the cost and the NORMAL trade-off); writes
waiting at the same time share one transaction and one fsync (group_commit.py).
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from assistant.errors import StoreError
from assistant.events import Event, State
from assistant.store import common, leases
from assistant.store import sqlite_sql as sql
from assistant.store.base import AgentAccount, Attachment, ConversationInfo
from assistant.store.group_commit import GroupCommitter

if TYPE_CHECKING:
    from assistant.settings import Settings

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, resume_token TEXT NOT NULL, state TEXT NOT NULL,
    last_seq INTEGER NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    user_id TEXT NOT NULL, inbox TEXT NOT NULL, handoff_reason TEXT NOT NULL,
    agent TEXT NOT NULL, waiting_since REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_queue ON conversations (state, inbox);
CREATE TABLE IF NOT EXISTS events (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, type TEXT NOT NULL, payload TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (conversation_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS client_messages (
    conversation_id TEXT NOT NULL, client_msg_id TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS client_messages_id ON client_messages (conversation_id, client_msg_id);
CREATE TABLE IF NOT EXISTS attachments (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS agents (
    name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, display_name TEXT NOT NULL,
    inboxes TEXT NOT NULL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_created ON conversations (created_at);
""" + common.facts_schema()


class SQLiteStore:
    def __init__(self, path: str | Path, *, synchronous: Literal["full", "normal"] = "full",
                 busy_timeout: float = 30.0, lease_seconds: float = 15.0) -> None:
        self.path = Path(path)
        self.synchronous = synchronous  # full: fsync each commit; normal: fsync at checkpoints
        self.busy_timeout = busy_timeout  # seconds to wait for another process's write lock
        self._executor: ThreadPoolExecutor | None = None  # the writing thread
        self._conn: sqlite3.Connection | None = None
        self._writes: GroupCommitter | None = None
        self._reader: ThreadPoolExecutor | None = None  # the reading thread
        self._rconn: sqlite3.Connection | None = None
        self.worker_id = common.new_id()  # this process's lease on the answers it streams (leases.py)
        self._lease = leases.LeaseKeeper(self.heartbeat, lease_seconds)

    @classmethod
    def from_settings(cls, settings: Settings) -> SQLiteStore:
        url = settings.store.url.removeprefix("sqlite:///")
        path = Path(url) if url else settings.path("conversations.db")
        return cls(path, synchronous=settings.store.sqlite_synchronous,
                   lease_seconds=settings.store.worker_lease_seconds)

    # -- lifecycle -----------------------------------------------------------------

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-reader")
        self._writes = GroupCommitter(self._executor, self._db)
        await self._run(self._connect)
        await self._on(self._reader, self._connect_reader)  # after the writer made the tables
        await self._lease.start()

    async def close(self) -> None:
        if self._executor is None or self._reader is None:
            return
        await self._lease.stop()
        await self._on(self._reader, self._disconnect_reader)
        self._reader.shutdown(wait=True)
        await self._write(leases.sqlite_leave, self.worker_id)
        await self._run(self._disconnect)
        self._executor.shutdown(wait=True)
        self._executor = self._writes = self._reader = None

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so the write lock
        # is taken before last_seq is read, not at the first write.
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.executescript(f"BEGIN IMMEDIATE; {SCHEMA} {leases.SCHEMA} COMMIT;")
        self._conn = conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connect_reader(self) -> None:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        conn.execute("PRAGMA query_only = ON")
        self._rconn = conn

    def _disconnect_reader(self) -> None:
        if self._rconn is not None:
            self._rconn.close()
            self._rconn = None

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._on(self._executor, fn, *args)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """fn(conn) with the reading connection. Each statement sees every commit made
        before it started: an acknowledged append is always there."""
        def run() -> T:
            if self._rconn is None:
                raise StoreError("The conversation store is not open.")
            return fn(self._rconn)
        return await self._on(self._reader, run)

    async def _on(self, executor: ThreadPoolExecutor | None, fn: Callable[..., T], *args: Any) -> T:
        if executor is None:
            raise StoreError("The conversation store is not open.")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, functools.partial(fn, *args))
        except sqlite3.Error as exc:
            raise StoreError(f"The conversation database failed: {exc}.") from exc

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(conn, *args) in a transaction, committed (durable) on return; all or nothing."""
        if self._writes is None:
            raise StoreError("The conversation store is not open.")
        return await self._writes.write(fn, *args)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("The conversation store is not open.")
        return self._conn

    # -- conversations -------------------------------------------------------------

    async def create(self, *, user_id: str = "", inbox: str = "default") -> ConversationInfo:
        now = time.time()
        info = ConversationInfo(id=common.new_id(), resume_token=common.new_resume_token(), state="bot",
                                last_seq=0, created_at=now, updated_at=now, user_id=user_id, inbox=inbox)
        await self._write(sql.insert_info, info)
        return info

    async def get(self, conversation_id: str) -> ConversationInfo:
        return await self._read(lambda conn: sql.load_info(conn, conversation_id))

    async def list(self, *, states: tuple[State, ...] = (), inboxes: tuple[str, ...] = (),
                   limit: int = 200) -> list[ConversationInfo]:
        where: builtins.list[str] = []
        args: builtins.list[Any] = []
        for column, values in (("state", states), ("inbox", inboxes)):
            if values:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                args.extend(values)
        sql = (f"SELECT {common.INFO_COLUMNS} FROM conversations"
               f"{' WHERE ' + ' AND '.join(where) if where else ''} {common.LIST_ORDER} LIMIT ?")
        rows = await self._read(lambda conn: conn.execute(sql, (*args, limit)).fetchall())
        return [common.info_from_row(r) for r in rows]

    # -- events --------------------------------------------------------------------

    async def append(self, event: Event) -> Event:
        """Durable on return. A UserMessage whose client_msg_id is already stored is not
        appended again: the stored event (with its original seq) is returned instead."""
        return (await self.append_many([event]))[0]

    async def append_many(self, events: Sequence[Event]) -> builtins.list[Event]:
        """Append several events in one transaction (one fsync): all are stored or none."""
        return await self._write(sql.append_all, list(events), time.time(), self.worker_id)

    async def heartbeat(self) -> None:
        """Renew this worker's lease on the answers it is streaming."""
        await self._write(leases.sqlite_heartbeat, self.worker_id, time.time())

    async def recover_answers(self, lease: float) -> builtins.list[Event]:
        """Close, as interrupted, the open answers of workers whose lease ran out; returns
        the stored closing events (to publish)."""
        def recover(conn: sqlite3.Connection, now: float) -> builtins.list[Event]:
            closes = leases.sqlite_orphans(conn, self.worker_id, now, lease)
            return sql.append_all(conn, closes, now, self.worker_id) if closes else []
        return await self._write(recover, time.time())

    async def events(self, conversation_id: str, after: int = 0,
                     limit: int | None = None) -> builtins.list[Event]:
        def query(conn: sqlite3.Connection) -> builtins.list[Event]:
            rows = conn.execute(
                "SELECT seq, type, payload, at FROM events WHERE conversation_id = ? AND seq > ?"
                " ORDER BY seq LIMIT ?", (conversation_id, after, -1 if limit is None else limit)).fetchall()
            if not rows:
                sql.load_info(conn, conversation_id)  # raises for an unknown conversation
            return [common.decode(conversation_id, t, s, at, p) for s, t, p, at in rows]
        return await self._read(query)

    async def events_of(self, conversation_ids: Sequence[str]) -> dict[str, builtins.list[Event]]:
        def query(conn: sqlite3.Connection) -> dict[str, builtins.list[Event]]:
            out: dict[str, builtins.list[Event]] = {cid: [] for cid in conversation_ids}
            ids = builtins.list(conversation_ids)
            for start in range(0, len(ids), common.BULK):
                chunk = ids[start:start + common.BULK]
                rows = conn.execute(
                    "SELECT conversation_id, seq, type, payload, at FROM events WHERE conversation_id IN"
                    f" ({', '.join('?' * len(chunk))}) ORDER BY conversation_id, seq", chunk).fetchall()
                for cid, seq, type_, payload, at in rows:
                    out[cid].append(common.decode(cid, type_, seq, at, payload))
            return out
        return await self._read(query)

    # -- derived facts for reports (rebuildable from the log) -----------------------

    async def facts(self, since: float, until: float,
                    inboxes: tuple[str, ...] = ()) -> builtins.list[tuple[Any, ...]]:
        where = "c.created_at >= ? AND c.created_at < ?"
        args: builtins.list[Any] = [since, until]
        if inboxes:
            where += f" AND c.inbox IN ({', '.join('?' * len(inboxes))})"
            args.extend(inboxes)
        return await self._read(lambda conn: conn.execute(
            f"SELECT {common.FACTS_SELECT} FROM conversations c LEFT JOIN {common.FACTS_TABLE} f"
            f" ON f.conversation_id = c.id WHERE {where}", args).fetchall())

    async def put_facts(self, rows: Sequence[tuple[Any, ...]]) -> None:
        values = builtins.list(rows)

        def upsert(conn: sqlite3.Connection) -> None:
            conn.executemany(f"INSERT OR REPLACE INTO {common.FACTS_TABLE}"
                             f" VALUES ({', '.join('?' * (2 + len(common.FACT_COLUMNS)))})", values)
        await self._write(upsert)

    async def find_client_message(self, conversation_id: str, client_msg_id: str) -> Event | None:
        return await self._read(lambda conn: sql.find_client(conn, conversation_id, client_msg_id))

    # -- attachments ---------------------------------------------------------------

    async def put_attachment(self, conversation_id: str, data: bytes, content_type: str,
                             name: str = "") -> Attachment:
        att = Attachment(id=common.new_id(), conversation_id=conversation_id, content_type=content_type,
                         name=name, data=bytes(data))

        def insert(conn: sqlite3.Connection) -> None:
            sql.load_info(conn, conversation_id)
            conn.execute("INSERT INTO attachments VALUES (?, ?, ?, ?, ?, ?)",
                         (att.id, conversation_id, content_type, name, att.data, time.time()))
        await self._write(insert)
        return att

    async def get_attachment(self, attachment_id: str) -> Attachment:
        row = await self._read(lambda conn: conn.execute(
            "SELECT id, conversation_id, content_type, name, data FROM attachments WHERE id = ?",
            (attachment_id,)).fetchone())
        if row is None:
            raise common.attachment_not_found(attachment_id)
        return Attachment(*row)

    # -- agent accounts ------------------------------------------------------------

    async def put_agent(self, account: AgentAccount) -> None:
        def upsert(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT created_at FROM agents WHERE name = ?", (account.name,)).fetchone()
            created = account.created_at or (row[0] if row else time.time())
            conn.execute("INSERT OR REPLACE INTO agents VALUES (?, ?, ?, ?, ?)",
                         common.agent_values(account, created))
        await self._write(upsert)

    async def get_agent(self, name: str) -> AgentAccount | None:
        row = await self._read(lambda conn: conn.execute(
            "SELECT * FROM agents WHERE name = ?", (name,)).fetchone())
        return common.agent_from_row(row) if row else None

    async def list_agents(self) -> builtins.list[AgentAccount]:
        rows = await self._read(lambda conn: conn.execute("SELECT * FROM agents ORDER BY name").fetchall())
        return [common.agent_from_row(r) for r in rows]

    async def delete_agent(self, name: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM agents WHERE name = ?", (name,)).rowcount > 0
        return await self._write(delete)
