"""The SQL of the SQLite store that runs on its threads (sqlite.py), inside a
transaction where it writes. Module-level functions: the store hands them to its
writing thread, or to the group committer, with their arguments."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from assistant.events import Event
from assistant.store import common, leases
from assistant.store.base import ConversationInfo


def insert_info(conn: sqlite3.Connection, info: ConversationInfo) -> None:
    conn.execute(f"INSERT INTO conversations ({common.INFO_COLUMNS}) VALUES ({', '.join('?' * 11)})",
                 common.info_values(info))


def load_info(conn: sqlite3.Connection, conversation_id: str) -> ConversationInfo:
    row = conn.execute(f"SELECT {common.INFO_COLUMNS} FROM conversations WHERE id = ?",
                       (conversation_id,)).fetchone()
    if row is None:
        raise common.not_found(conversation_id)
    return common.info_from_row(row)


def find_client(conn: sqlite3.Connection, conversation_id: str, client_msg_id: str) -> Event | None:
    row = conn.execute(
        "SELECT e.seq, e.type, e.payload, e.at FROM client_messages c JOIN events e"
        " ON e.conversation_id = c.conversation_id AND e.seq = c.seq"
        " WHERE c.conversation_id = ? AND c.client_msg_id = ?", (conversation_id, client_msg_id)).fetchone()
    return common.decode(conversation_id, row[1], row[0], row[3], row[2]) if row else None


def append_all(conn: sqlite3.Connection, events: Sequence[Event], now: float, worker: str) -> list[Event]:
    leases.sqlite_check_open(conn, events)
    infos: dict[str, ConversationInfo] = {}
    stored: list[Event] = []
    for event in events:
        cid = event.conversation_id
        info = infos.get(cid) or load_info(conn, cid)
        cmid = common.client_msg_id(event)
        existing = find_client(conn, cid, cmid) if cmid else None
        if existing is not None:
            stored.append(existing)
            continue
        info, event = common.advance(info, event, now)
        type_, payload = common.encode(event)
        conn.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?)", (cid, event.seq, type_, payload, event.at))
        if cmid:
            conn.execute("INSERT INTO client_messages VALUES (?, ?, ?)", (cid, cmid, event.seq))
        leases.sqlite_track(conn, event, worker, now, info.state)
        infos[cid] = info
        stored.append(event)
    for info in infos.values():
        conn.execute("UPDATE conversations SET state = ?, last_seq = ?, updated_at = ?, handoff_reason = ?,"
                     " agent = ?, waiting_since = ? WHERE id = ?",
                     (info.state, info.last_seq, info.updated_at, info.handoff_reason, info.agent,
                      info.waiting_since, info.id))
    return stored
