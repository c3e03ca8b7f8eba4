"""The scale-out conversation store: PostgreSQL through an asyncpg pool.

Same tables and rules as the SQLite store (assistant.store.common). An append
locks the conversation's row (SELECT … FOR UPDATE) before reading last_seq, so
workers appending to one conversation at once still get consecutive seqs; the
commit (synchronous_commit on, the server default) is durable when append returns.
Tables live in the schema `store.pg_schema`, created if missing.
"""

from __future__ import annotations

import builtins
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from assistant.errors import ConfigError, DependencyMissing, StoreError
from assistant.events import Event, State
from assistant.store import common, leases
from assistant.store.base import AgentAccount, Attachment, ConversationInfo

if TYPE_CHECKING:
    from assistant.settings import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, resume_token TEXT NOT NULL, state TEXT NOT NULL,
    last_seq BIGINT NOT NULL, created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
    user_id TEXT NOT NULL, inbox TEXT NOT NULL, handoff_reason TEXT NOT NULL,
    agent TEXT NOT NULL, waiting_since DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_queue ON conversations (state, inbox);
CREATE TABLE IF NOT EXISTS events (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL, type TEXT NOT NULL, payload JSONB NOT NULL, at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (conversation_id, seq));
CREATE TABLE IF NOT EXISTS client_messages (
    conversation_id TEXT NOT NULL, client_msg_id TEXT NOT NULL, seq BIGINT NOT NULL,
    UNIQUE (conversation_id, client_msg_id));
CREATE TABLE IF NOT EXISTS attachments (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL, name TEXT NOT NULL, data BYTEA NOT NULL,
    created_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS agents (
    name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, display_name TEXT NOT NULL,
    inboxes TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_created ON conversations (created_at);
""" + common.facts_schema(real="DOUBLE PRECISION")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def _asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError:
        raise DependencyMissing("asyncpg", "'support-assistant[scale]'") from None
    return asyncpg


class PostgresStore:
    def __init__(self, url: str, *, schema: str = "public", pool_size: int = 5,
                 lease_seconds: float = 15.0) -> None:
        if not _IDENTIFIER.fullmatch(schema):
            raise ConfigError(f"config key 'store.pg_schema': {schema!r} is not a plain SQL identifier")
        self.url = url
        self.schema = schema
        self.pool_size = pool_size
        self._pool: Any = None
        self.worker_id = common.new_id()  # this process's lease on the answers it streams (leases.py)
        self._lease = leases.LeaseKeeper(self.heartbeat, lease_seconds)

    @classmethod
    def from_settings(cls, settings: Settings) -> PostgresStore:
        if not settings.store.url:
            raise ConfigError("config key 'store.url': set a postgresql:// URL for store.backend = postgres")
        return cls(settings.store.url, schema=settings.store.pg_schema, pool_size=settings.store.pool_size,
                   lease_seconds=settings.store.worker_lease_seconds)

    async def open(self) -> None:
        asyncpg = _asyncpg()
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=1, max_size=self.pool_size,
                server_settings={"search_path": self.schema})
            async with self._pool.acquire() as conn, conn.transaction():
                # Workers start together: one creates the tables, the others wait for it.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self.schema)
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                await conn.execute(SCHEMA + leases.SCHEMA)
        except (OSError, asyncpg.PostgresError) as exc:
            await self.close()
            raise StoreError(f"Cannot open the PostgreSQL conversation store: {exc}.") from exc
        await self._lease.start()

    async def close(self) -> None:
        await self._lease.stop()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                async with pool.acquire() as conn:
                    await leases.pg_leave(conn, self.worker_id)
            except (OSError, _asyncpg().PostgresError):
                pass  # the lease then runs out on its own
            await pool.close()

    async def _call(self, method: str, sql: str, *args: Any) -> Any:
        if self._pool is None:
            raise StoreError("The conversation store is not open.")
        try:
            return await getattr(self._pool, method)(sql, *args)
        except (OSError, _asyncpg().PostgresError) as exc:
            raise StoreError(f"The conversation database failed: {exc}.") from exc

    # -- conversations -------------------------------------------------------------

    async def create(self, *, user_id: str = "", inbox: str = "default") -> ConversationInfo:
        now = time.time()
        info = ConversationInfo(id=common.new_id(), resume_token=common.new_resume_token(), state="bot",
                                last_seq=0, created_at=now, updated_at=now, user_id=user_id, inbox=inbox)
        placeholders = ", ".join(f"${i}" for i in range(1, 12))
        sql = f"INSERT INTO conversations ({common.INFO_COLUMNS}) VALUES ({placeholders})"
        await self._call("execute", sql, *common.info_values(info))
        return info

    async def get(self, conversation_id: str) -> ConversationInfo:
        row = await self._call("fetchrow", f"SELECT {common.INFO_COLUMNS} FROM conversations WHERE id = $1",
                               conversation_id)
        if row is None:
            raise common.not_found(conversation_id)
        return common.info_from_row(row)

    async def list(self, *, states: tuple[State, ...] = (), inboxes: tuple[str, ...] = (),
                   limit: int = 200) -> builtins.list[ConversationInfo]:
        sql = (f"SELECT {common.INFO_COLUMNS} FROM conversations"
               " WHERE (cardinality($1::text[]) = 0 OR state = ANY($1))"
               " AND (cardinality($2::text[]) = 0 OR inbox = ANY($2))"
               f" {common.LIST_ORDER} LIMIT $3")
        rows = await self._call("fetch", sql, list(states), list(inboxes), limit)
        return [common.info_from_row(r) for r in rows]

    # -- events --------------------------------------------------------------------

    async def append(self, event: Event) -> Event:
        """Durable on return. A UserMessage whose client_msg_id is already stored is not
        appended again: the stored event (with its original seq) is returned instead."""
        return (await self.append_many([event]))[0]

    async def append_many(self, events: Sequence[Event]) -> builtins.list[Event]:
        """Append several events in one transaction: all are stored or none."""
        return await self._transaction(_append_all, builtins.list(events), time.time(), self.worker_id)  # type: ignore[no-any-return]

    async def heartbeat(self) -> None:
        """Renew this worker's lease on the answers it is streaming."""
        await self._transaction(leases.pg_heartbeat, self.worker_id, time.time())

    async def recover_answers(self, lease: float) -> builtins.list[Event]:
        """Close, as interrupted, the open answers of workers whose lease ran out; returns
        the stored closing events (to publish)."""
        async def recover(conn: Any, now: float) -> builtins.list[Event]:
            closes = await leases.pg_orphans(conn, self.worker_id, now, lease)
            return await _append_all(conn, builtins.list(closes), now, self.worker_id) if closes else []
        return await self._transaction(recover, time.time())  # type: ignore[no-any-return]

    async def _transaction(self, fn: Any, *args: Any) -> Any:
        """await fn(conn, *args) in one transaction on a pooled connection."""
        if self._pool is None:
            raise StoreError("The conversation store is not open.")
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                return await fn(conn, *args)
        except (OSError, _asyncpg().PostgresError) as exc:
            raise StoreError(f"The conversation database failed: {exc}.") from exc

    async def events(self, conversation_id: str, after: int = 0,
                     limit: int | None = None) -> builtins.list[Event]:
        rows = await self._call(
            "fetch", "SELECT seq, type, payload, at FROM events WHERE conversation_id = $1 AND seq > $2"
            " ORDER BY seq LIMIT $3", conversation_id, after, limit)
        if not rows:
            await self.get(conversation_id)  # raises for an unknown conversation
        return [common.decode(conversation_id, r["type"], r["seq"], r["at"], r["payload"]) for r in rows]

    async def events_of(self, conversation_ids: Sequence[str]) -> dict[str, builtins.list[Event]]:
        out: dict[str, builtins.list[Event]] = {cid: [] for cid in conversation_ids}
        ids = builtins.list(conversation_ids)
        for start in range(0, len(ids), common.BULK):
            rows = await self._call(
                "fetch", "SELECT conversation_id, seq, type, payload, at FROM events"
                " WHERE conversation_id = ANY($1::text[]) ORDER BY conversation_id, seq",
                ids[start:start + common.BULK])
            for r in rows:
                cid = r["conversation_id"]
                out[cid].append(common.decode(cid, r["type"], r["seq"], r["at"], r["payload"]))
        return out

    # -- derived facts for reports (rebuildable from the log) -----------------------

    async def facts(self, since: float, until: float,
                    inboxes: tuple[str, ...] = ()) -> builtins.list[tuple[Any, ...]]:
        rows = await self._call(
            "fetch", f"SELECT {common.FACTS_SELECT} FROM conversations c LEFT JOIN {common.FACTS_TABLE} f"
            " ON f.conversation_id = c.id WHERE c.created_at >= $1 AND c.created_at < $2"
            " AND (cardinality($3::text[]) = 0 OR c.inbox = ANY($3))", since, until, builtins.list(inboxes))
        return [tuple(r) for r in rows]

    async def put_facts(self, rows: Sequence[tuple[Any, ...]]) -> None:
        names = ["seq", *(name for name, _ in common.FACT_COLUMNS)]
        marks = ", ".join(f"${i}" for i in range(1, len(names) + 2))
        await self._call(
            "executemany", f"INSERT INTO {common.FACTS_TABLE} VALUES ({marks}) ON CONFLICT (conversation_id)"
            f" DO UPDATE SET {', '.join(f'{n} = excluded.{n}' for n in names)}", builtins.list(rows))

    async def find_client_message(self, conversation_id: str, client_msg_id: str) -> Event | None:
        if self._pool is None:
            raise StoreError("The conversation store is not open.")
        async with self._pool.acquire() as conn:
            return await _find_client(conn, conversation_id, client_msg_id)

    # -- attachments ---------------------------------------------------------------

    async def put_attachment(self, conversation_id: str, data: bytes, content_type: str,
                             name: str = "") -> Attachment:
        att = Attachment(id=common.new_id(), conversation_id=conversation_id, content_type=content_type,
                         name=name, data=bytes(data))
        status = await self._call(
            "execute",
            "INSERT INTO attachments SELECT $1, id, $3, $4, $5, $6 FROM conversations WHERE id = $2",
            att.id, conversation_id, content_type, name, att.data, time.time())
        if status == "INSERT 0 0":
            raise common.not_found(conversation_id)
        return att

    async def get_attachment(self, attachment_id: str) -> Attachment:
        row = await self._call(
            "fetchrow", "SELECT id, conversation_id, content_type, name, data FROM attachments WHERE id = $1",
            attachment_id)
        if row is None:
            raise common.attachment_not_found(attachment_id)
        return Attachment(*tuple(row))

    # -- agent accounts ------------------------------------------------------------

    async def put_agent(self, account: AgentAccount) -> None:
        # created_at 0 keeps the stored date on a replace, and is stamped now on an insert.
        await self._call(
            "execute", "INSERT INTO agents VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET"
            " password_hash = EXCLUDED.password_hash, display_name = EXCLUDED.display_name,"
            " inboxes = EXCLUDED.inboxes,"
            " created_at = CASE WHEN $6::float8 > 0 THEN $6::float8 ELSE agents.created_at END",
            *common.agent_values(account, account.created_at or time.time()), account.created_at)

    async def get_agent(self, name: str) -> AgentAccount | None:
        row = await self._call("fetchrow", "SELECT * FROM agents WHERE name = $1", name)
        return common.agent_from_row(row) if row else None

    async def list_agents(self) -> builtins.list[AgentAccount]:
        rows = await self._call("fetch", "SELECT * FROM agents ORDER BY name")
        return [common.agent_from_row(r) for r in rows]

    async def delete_agent(self, name: str) -> bool:
        status = await self._call("execute", "DELETE FROM agents WHERE name = $1", name)
        return bool(status != "DELETE 0")


async def _find_client(conn: Any, conversation_id: str, client_msg_id: str) -> Event | None:
    row = await conn.fetchrow(
        "SELECT e.seq, e.type, e.payload, e.at FROM client_messages c JOIN events e"
        " ON e.conversation_id = c.conversation_id AND e.seq = c.seq"
        " WHERE c.conversation_id = $1 AND c.client_msg_id = $2", conversation_id, client_msg_id)
    return common.decode(conversation_id, row["type"], row["seq"], row["at"], row["payload"]) if row else None


async def _lock_infos(conn: Any, ids: set[str]) -> dict[str, ConversationInfo]:
    # One statement in id order: two batches touching the same conversations cannot deadlock.
    rows = await conn.fetch(f"SELECT {common.INFO_COLUMNS} FROM conversations WHERE id = ANY($1)"
                            " ORDER BY id FOR UPDATE", sorted(ids))
    infos = {r["id"]: common.info_from_row(r) for r in rows}
    missing = ids - infos.keys()
    if missing:
        raise common.not_found(min(missing))
    return infos


async def _append_all(conn: Any, events: Sequence[Event], now: float, worker: str) -> list[Event]:
    await leases.pg_check_open(conn, events)
    infos = await _lock_infos(conn, {e.conversation_id for e in events})
    changed: set[str] = set()
    stored: list[Event] = []
    for event in events:
        cid = event.conversation_id
        cmid = common.client_msg_id(event)
        existing = await _find_client(conn, cid, cmid) if cmid else None
        if existing is not None:
            stored.append(existing)
            continue
        infos[cid], event = common.advance(infos[cid], event, now)
        type_, payload = common.encode(event)
        await conn.execute("INSERT INTO events VALUES ($1, $2, $3, $4::jsonb, $5)",
                           cid, event.seq, type_, payload, event.at)
        if cmid:
            await conn.execute("INSERT INTO client_messages VALUES ($1, $2, $3)", cid, cmid, event.seq)
        await leases.pg_track(conn, event, worker, now, infos[cid].state)
        changed.add(cid)
        stored.append(event)
    for cid in sorted(changed):
        info = infos[cid]
        await conn.execute("UPDATE conversations SET state = $2, last_seq = $3, updated_at = $4,"
                           " handoff_reason = $5, agent = $6, waiting_since = $7 WHERE id = $1",
                           cid, info.state, info.last_seq, info.updated_at, info.handoff_reason,
                           info.agent, info.waiting_since)
    return stored
