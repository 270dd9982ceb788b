"""The edge's durable outbox: an event is on disk (fsync) before it is published, and leaves only when acked.

SQLite in WAL mode with `synchronous=FULL`. The per-edge sequence counter and each device's mailbox cursor
live in the same file and change in the same transaction as the events, so a crash at any point neither
loses an observation nor gives one observation two ids.

The outbox is bounded (`max_bytes`, payload bytes of unacknowledged events): an append that would pass the bound
raises `OutboxFullError` and writes nothing, so the caller decides what happens to the observation (a Modbus
mailbox keeps its record, a push device's message goes to the dead-letter table with the reason). Its `epoch`
is created with the file: a fresh outbox (first start, or a lost disk) starts a new epoch at seq 1, which the
birth message announces so the gateway restarts its gap tracking for this edge.

When the disk refuses a write (SQLite's "database or disk is full", an I/O error), the write raises
`OutboxStorageError`, a kind of `OutboxFullError`: the transaction is rolled back, nothing (cursor included) moved,
and the caller retries later exactly as it would once a full outbox has room again.
"""

import asyncio
import builtins
import functools
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar
from uuid import UUID

from contract import DeadLetter, Event, new_event
from edge.observation import Observation

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value NOT NULL);
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


P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_MAX_BYTES = 1_000_000_000
_DELETE_CHUNK = 500


class OutboxFullError(Exception):
    """The append would take the outbox past `max_bytes`; nothing was written."""


class OutboxStorageError(OutboxFullError):
    """The disk refused the outbox's write or read (full, I/O error): nothing was written; worth retrying later."""


def _storage(method: Callable[Concatenate["Outbox", P], R]) -> Callable[Concatenate["Outbox", P], R]:
    """Turn SQLite's storage failures into `OutboxStorageError` (with the file's name and SQLite's reason)."""

    @functools.wraps(method)
    def wrapper(self: "Outbox", /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.OperationalError as exc:
            raise OutboxStorageError(f"outbox {self.path.name}: {exc}") from exc

    return wrapper


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    id: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Fill:
    """How full the outbox is (what the edge reports on its `status` topic)."""

    depth: int
    bytes: int
    max_bytes: int
    oldest_created_at: datetime | None


class Outbox:
    """Blocking core; use the `a*` coroutine methods from asyncio code (they run in a worker thread)."""

    def __init__(self, path: Path, *, site: str, edge: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.site = site
        self.edge = edge
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except sqlite3.OperationalError as exc:
            raise OutboxStorageError(f"outbox {path.name} cannot be opened: {exc}") from exc
        try:
            self._open()
        except sqlite3.OperationalError as exc:
            self._db.close()
            raise OutboxStorageError(f"outbox {path.name} cannot be opened: {exc}") from exc
        self.refused = 0
        """Domain events refused because the outbox was full (each one dead-lettered by its caller)."""
        self.refusal: str | None = None
        """Why the last event was refused (the dead-letter table could not be written either: the disk is full)."""

    def _open(self) -> None:
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        with self._lock, self._transaction():
            # An outbox from before epochs existed keeps its numbering: its epoch starts at seq 1 all the same.
            # (The `ep-` prefix keeps the text from looking like a number to the old INTEGER column.)
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES ('epoch', ?) ON CONFLICT (key) DO NOTHING",
                (f"ep-{uuid.uuid4().hex[:20]}",),
            )
            self._db.execute("INSERT INTO meta (key, value) VALUES ('first_seq', 1) ON CONFLICT (key) DO NOTHING")
            self.epoch = str(self._db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()[0])
            row = self._db.execute("SELECT value FROM meta WHERE key = 'sent_through'").fetchone()
            self.sent_through = int(row[0]) if row else 0
            """The highest seq ever handed to the broker: no ack removes anything past it (see `edge.acks`)."""
            self.first_seq = int(self._db.execute("SELECT value FROM meta WHERE key = 'first_seq'").fetchone()[0])
        self._bytes = int(self._db.execute("SELECT coalesce(sum(length(payload)), 0) FROM outbox").fetchone()[0])

    @property
    def bytes(self) -> int:
        """Payload bytes of the events not yet acknowledged."""
        return self._bytes

    @property
    def full(self) -> bool:
        return self._bytes >= self.max_bytes

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing -------------------------------------------------------------------------------------------
    @_storage
    def append(self, observations: Sequence[Observation], *, cursor: tuple[str, str] | None = None) -> list[Event]:
        """Give each observation its id and the next sequence numbers, durably; optionally move a device cursor."""
        with self._lock, self._transaction():
            row = self._db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
            next_seq = row[0] if row else 1
            events = []
            now = time.time()
            added = 0
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
                payload = event.model_dump_json().encode()
                added += len(payload)
                if self._bytes + added > self.max_bytes:
                    raise OutboxFullError(
                        f"outbox {self.path.name} holds {self._bytes} of {self.max_bytes} bytes; "
                        f"{len(observations)} event(s) of {added}+ bytes do not fit"
                    )
                self._db.execute(
                    "INSERT INTO outbox (seq, id, payload, created_at) VALUES (?, ?, ?, ?)",
                    (event.seq, str(event.id), payload, now),
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
        self._bytes += added
        return events

    @_storage
    def set_aside(self, deadletter: DeadLetter, *, cursor: tuple[str, str] | None = None) -> None:
        """Keep what could not become an event (with the reason) until it is on the dead-letter topic."""
        with self._lock, self._transaction():
            self._db.execute("INSERT INTO deadletter (payload) VALUES (?)", (deadletter.model_dump_json().encode(),))
            if cursor is not None:
                self._set_cursor(cursor)

    @_storage
    def deadletters(self, limit: int) -> list[tuple[int, builtins.bytes]]:  # `bytes` here is the property
        with self._lock:
            rows = self._db.execute("SELECT id, payload FROM deadletter ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [(row_id, bytes(payload)) for row_id, payload in rows]

    @_storage
    def drop_deadletters(self, ids: Iterable[int]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM deadletter WHERE id = ?", [(i,) for i in ids])

    def _set_cursor(self, cursor: tuple[str, str]) -> None:
        self._db.execute(
            "INSERT INTO device_cursor (device, last_record) VALUES (?, ?) "
            "ON CONFLICT (device) DO UPDATE SET last_record = excluded.last_record",
            cursor,
        )

    def note_sending(self, seqs: Iterable[int]) -> None:
        """These seqs are about to go to the broker: an ack may name them from now on (kept by `mark_sent`)."""
        with self._lock:
            self.sent_through = max(self.sent_through, *seqs, 0)

    @_storage
    def mark_sent(self, seqs: Iterable[int]) -> None:
        """These seqs are with the broker (PUBACK): due again only after the resend delay; `sent_through` is kept."""
        seqs = list(seqs)
        self.note_sending(seqs)
        now = time.time()
        with self._lock, self._transaction():
            self._db.executemany("UPDATE outbox SET sent_at = ? WHERE seq = ?", [(now, s) for s in seqs])
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES ('sent_through', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
                (self.sent_through,),
            )

    @_storage
    def unmark_sent(self) -> None:
        """After a reconnect nothing in flight can be trusted: everything unacked is due again."""
        with self._lock:
            self._db.execute("UPDATE outbox SET sent_at = NULL")

    @_storage
    def ack(self, ids: Iterable[UUID | str]) -> int:
        """Remove events the gateway committed (never one past `sent_through`); returns how many were still here."""
        keys = [str(i) for i in ids]
        removed, freed = 0, 0
        with self._lock, self._transaction():
            for start in range(0, len(keys), _DELETE_CHUNK):
                chunk = keys[start : start + _DELETE_CHUNK]
                marks = ",".join("?" * len(chunk))
                statement = f"DELETE FROM outbox WHERE id IN ({marks}) AND seq <= ? RETURNING length(payload)"  # noqa: S608 (only ?s)
                sizes = self._db.execute(statement, [*chunk, self.sent_through]).fetchall()
                removed += len(sizes)
                freed += sum(size for (size,) in sizes)
        self._bytes -= freed
        return removed

    @_storage
    def ack_through(self, epoch: str, seq: int) -> int:
        """Remove every event up to `seq` when the gateway says it committed all of them for this epoch.

        Never past `sent_through`: the gateway cannot have committed what was never sent (`edge.acks` refuses such
        an ack before it gets here; this is the floor under that check)."""
        if epoch != self.epoch:
            return 0  # about another epoch of this edge (an outbox that was lost): nothing here to remove
        seq = min(seq, self.sent_through)
        with self._lock, self._transaction():
            sizes = self._db.execute("DELETE FROM outbox WHERE seq <= ? RETURNING length(payload)", (seq,)).fetchall()
        self._bytes -= sum(size for (size,) in sizes)
        return len(sizes)

    @_storage
    def make_due(self, ranges: Iterable[tuple[int, int]]) -> int:
        """The gateway misses these seq ranges: send them again at once; returns how many are here to send."""
        with self._lock, self._transaction():
            return sum(
                self._db.execute("UPDATE outbox SET sent_at = NULL WHERE seq BETWEEN ? AND ?", (low, high)).rowcount
                for low, high in ranges
            )

    # -- reading -------------------------------------------------------------------------------------------
    @_storage
    def due(self, *, resend_after_s: float, limit: int, live_since: float | None = None) -> list[Pending]:
        """Never-sent events and those sent longer ago than `resend_after_s` without an ack, in sequence order.

        With `live_since` (a `time.time()`, when the connection came up), the batch is shared between the backlog
        (events created before it, oldest first) and live events (created since, oldest first): half each, the
        rest to whichever has more, so a backlog of hours goes out in order without holding new events back.
        """
        cutoff = time.time() - resend_after_s
        query = "SELECT seq, id, payload FROM outbox WHERE (sent_at IS NULL OR sent_at < ?) AND {} ORDER BY seq LIMIT ?"
        with self._lock:
            if live_since is None:
                rows = self._db.execute(query.format("1"), (cutoff, limit)).fetchall()
            else:
                backlog = self._db.execute(query.format("created_at < ?"), (cutoff, live_since, limit)).fetchall()
                live = self._db.execute(query.format("created_at >= ?"), (cutoff, live_since, limit)).fetchall()
                live_share = max(limit - len(backlog), (limit + 1) // 2)
                live = live[:live_share]
                rows = backlog[: limit - len(live)] + live
        return [Pending(seq, id_, bytes(payload)) for seq, id_, payload in rows]

    @_storage
    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    @_storage
    def fill(self) -> Fill:
        with self._lock:
            depth, oldest = self._db.execute("SELECT count(*), min(created_at) FROM outbox").fetchone()
        return Fill(
            depth=int(depth),
            bytes=self._bytes,
            max_bytes=self.max_bytes,
            oldest_created_at=None if oldest is None else datetime.fromtimestamp(oldest, UTC),
        )

    @_storage
    def cursor(self, device: str) -> str | None:
        """The key of the device's last mailbox record already recorded here (see `ModbusDevice`)."""
        with self._lock:
            row = self._db.execute("SELECT last_record FROM device_cursor WHERE device = ?", (device,)).fetchone()
        return None if row is None else str(row[0])

    @_storage
    def next_seq(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        return row[0] if row else 1

    # -- asyncio faces -------------------------------------------------------------------------------------
    async def aappend(
        self, observations: Sequence[Observation], *, cursor: tuple[str, str] | None = None
    ) -> list[Event]:
        return await asyncio.to_thread(self.append, observations, cursor=cursor)

    async def adue(self, *, resend_after_s: float, limit: int, live_since: float | None = None) -> list[Pending]:
        return await asyncio.to_thread(self.due, resend_after_s=resend_after_s, limit=limit, live_since=live_since)

    async def amark_sent(self, seqs: Iterable[int]) -> None:
        await asyncio.to_thread(self.mark_sent, list(seqs))

    async def aack(self, ids: Iterable[UUID | str]) -> int:
        return await asyncio.to_thread(self.ack, list(ids))

    async def afill(self) -> Fill:
        return await asyncio.to_thread(self.fill)

    def _transaction(self) -> "_Tx":
        return _Tx(self._db)


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
                return
            except sqlite3.Error:
                # A COMMIT that fails (SQLITE_FULL while writing the WAL) leaves the transaction open: end it, or
                # every later BEGIN fails with "cannot start a transaction within a transaction".
                self._rollback()
                raise
        self._rollback()

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
