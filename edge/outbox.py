"""The edge's durable outbox: an event is on disk (fsync) before it is published, and leaves only when acked.

SQLite in WAL mode with `synchronous=FULL`. The per-edge sequence counter and each device's mailbox cursor
live in the same file and change in the same transaction as the events, so a crash at any point neither
loses an observation nor gives one observation two ids.
"""

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from contract import DeadLetter, Event, new_event
from edge.observation import Observation

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    payload BLOB NOT NULL,
    created_at REAL NOT NULL,
    sent_at REAL
);
CREATE TABLE IF NOT EXISTS device_cursor (device TEXT PRIMARY KEY, last_record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deadletter (id INTEGER PRIMARY KEY AUTOINCREMENT, payload BLOB NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    id: str
    payload: bytes


class Outbox:
    """Blocking core; use the `a*` coroutine methods from asyncio code (they run in a worker thread)."""

    def __init__(self, path: Path, *, site: str, edge: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.site = site
        self.edge = edge
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing -------------------------------------------------------------------------------------------
    def append(self, observations: Sequence[Observation], *, cursor: tuple[str, str] | None = None) -> list[Event]:
        """Give each observation its id and the next sequence numbers, durably; optionally move a device cursor."""
        with self._lock, self._transaction():
            row = self._db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
            next_seq = row[0] if row else 1
            events = []
            now = time.time()
            for obs in observations:
                event = new_event(
                    obs.type,
                    seq=next_seq,
                    site=self.site,
                    edge=self.edge,
                    device=obs.device,
                    subject=obs.subject,
                    occurred_at=obs.occurred_at,
                    data=obs.data,
                )
                self._db.execute(
                    "INSERT INTO outbox (seq, id, payload, created_at) VALUES (?, ?, ?, ?)",
                    (event.seq, str(event.id), event.model_dump_json().encode(), now),
                )
                events.append(event)
                next_seq += 1
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES ('next_seq', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (next_seq,),
            )
            if cursor is not None:
                self._set_cursor(cursor)
            return events

    def set_aside(self, deadletter: DeadLetter, *, cursor: tuple[str, str] | None = None) -> None:
        """Keep what could not become an event (with the reason) until it is on the dead-letter topic."""
        with self._lock, self._transaction():
            self._db.execute("INSERT INTO deadletter (payload) VALUES (?)", (deadletter.model_dump_json().encode(),))
            if cursor is not None:
                self._set_cursor(cursor)

    def deadletters(self, limit: int) -> list[tuple[int, bytes]]:
        with self._lock:
            rows = self._db.execute("SELECT id, payload FROM deadletter ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [(row_id, bytes(payload)) for row_id, payload in rows]

    def drop_deadletters(self, ids: Iterable[int]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM deadletter WHERE id = ?", [(i,) for i in ids])

    def _set_cursor(self, cursor: tuple[str, str]) -> None:
        self._db.execute(
            "INSERT INTO device_cursor (device, last_record) VALUES (?, ?) "
            "ON CONFLICT (device) DO UPDATE SET last_record = excluded.last_record",
            cursor,
        )

    def mark_sent(self, seqs: Iterable[int]) -> None:
        now = time.time()
        with self._lock:
            self._db.executemany("UPDATE outbox SET sent_at = ? WHERE seq = ?", [(now, s) for s in seqs])

    def unmark_sent(self) -> None:
        """After a reconnect nothing in flight can be trusted: everything unacked is due again."""
        with self._lock:
            self._db.execute("UPDATE outbox SET sent_at = NULL")

    def ack(self, ids: Iterable[UUID | str]) -> int:
        """Remove events the gateway committed; returns how many were still here."""
        with self._lock, self._transaction():
            cur = self._db.executemany("DELETE FROM outbox WHERE id = ?", [(str(i),) for i in ids])
            return cur.rowcount

    # -- reading -------------------------------------------------------------------------------------------
    def due(self, *, resend_after_s: float, limit: int) -> list[Pending]:
        """Never-sent events and those sent longer ago than `resend_after_s` without an ack, in sequence order."""
        cutoff = time.time() - resend_after_s
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, id, payload FROM outbox WHERE sent_at IS NULL OR sent_at < ? ORDER BY seq LIMIT ?",
                (cutoff, limit),
            ).fetchall()
        return [Pending(seq, id_, bytes(payload)) for seq, id_, payload in rows]

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def cursor(self, device: str) -> str | None:
        """The key of the device's last mailbox record already recorded here (see `ModbusDevice`)."""
        with self._lock:
            row = self._db.execute("SELECT last_record FROM device_cursor WHERE device = ?", (device,)).fetchone()
        return None if row is None else str(row[0])

    def next_seq(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        return row[0] if row else 1

    # -- asyncio faces -------------------------------------------------------------------------------------
    async def aappend(
        self, observations: Sequence[Observation], *, cursor: tuple[str, str] | None = None
    ) -> list[Event]:
        return await asyncio.to_thread(self.append, observations, cursor=cursor)

    async def adue(self, *, resend_after_s: float, limit: int) -> list[Pending]:
        return await asyncio.to_thread(self.due, resend_after_s=resend_after_s, limit=limit)

    async def amark_sent(self, seqs: Iterable[int]) -> None:
        await asyncio.to_thread(self.mark_sent, list(seqs))

    async def aack(self, ids: Iterable[UUID | str]) -> int:
        return await asyncio.to_thread(self.ack, list(ids))

    def _transaction(self) -> "_Tx":
        return _Tx(self._db)


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
