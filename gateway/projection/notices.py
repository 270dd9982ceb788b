"""Projection passes as PostgreSQL notifications, so every gateway's live stream hears of every pass.

With several replicas, or a `wardlink projector` process, the pass that projects an event may run in another
process than the one a dashboard's stream is connected to. On PostgreSQL each pass therefore announces its changes
with `pg_notify` inside its own transaction (delivered when it commits, never for a pass rolled back), on a channel
per schema, in payloads under PostgreSQL's 8,000-byte limit; every gateway listens on that channel and offers the
changes to its `LiveHub`. On SQLite there is one process, and the hub listens to the store directly.

A gateway whose listening connection drops reconnects with backoff; changes announced meanwhile are not replayed
(the stream is a notice to re-read, not the record: a client re-reads the current state on reconnect).

The other way round, a gateway that leaves projecting to a `wardlink projector` process (`WARDLINK_PROJECTOR=false`)
notifies it of each commit of new events (`announce_stored`), so the projector starts a pass at once instead of
finding them at its next poll.
"""

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.projection.changes import Change
from mqttlink.backoff import Backoff, FailureLog

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "wardlink_projected:"
STORED_PREFIX = "wardlink_stored:"
"""The channel (with the schema) on which gateways that do not project announce that they stored new events."""
_PAYLOAD_BYTES = 7000
"""Below PostgreSQL's 8,000-byte notification payload limit, with room for the channel name."""
_PING_S = 30.0
"""How often a quiet listening connection is checked."""


def _frame(change: Change) -> list[Any]:
    return [
        str(change.event_id),
        change.type,
        change.subject_kind,
        change.subject_id,
        change.site,
        change.occurred_at.isoformat(),
        change.historical,
    ]


def read_frame(frame: list[Any]) -> Change:
    """One frame of a notice (`payloads`) as the change it announces."""
    event_id, type_, kind, subject, site, occurred_at, historical = frame
    return Change(UUID(event_id), type_, kind, subject, site, datetime.fromisoformat(occurred_at), bool(historical))


def payloads(changes: Iterable[Change]) -> list[str]:
    """The changes as JSON arrays of frames, each under `_PAYLOAD_BYTES`."""
    out: list[str] = []
    batch: list[str] = []
    size = 2
    for change in changes:
        frame = json.dumps(_frame(change), separators=(",", ":"))
        if batch and size + len(frame) + 1 > _PAYLOAD_BYTES:
            out.append("[" + ",".join(batch) + "]")
            batch, size = [], 2
        batch.append(frame)
        size += len(frame) + 1
    if batch:
        out.append("[" + ",".join(batch) + "]")
    return out


async def announce(connection: AsyncConnection, changes: Sequence[Change]) -> None:
    """In the projection pass's transaction: notify every listening gateway of these changes (PostgreSQL only)."""
    if connection.dialect.name != "postgresql" or not changes:
        return
    notify = sa.text("SELECT pg_notify(:prefix || current_schema(), :payload)")
    await connection.execute(notify, [{"prefix": CHANNEL_PREFIX, "payload": p} for p in payloads(changes)])


async def announce_stored(connection: AsyncConnection) -> None:
    """In a storing transaction: wake the projector processes (PostgreSQL only; one notice per transaction)."""
    if connection.dialect.name == "postgresql":
        await connection.execute(
            sa.text("SELECT pg_notify(:prefix || current_schema(), '')"), {"prefix": STORED_PREFIX}
        )


async def listen(
    engine: AsyncEngine,
    offer: Callable[[list[Change]], None],
    max_backoff_s: float = 30.0,
    missed: Callable[[], None] | None = None,
) -> None:
    """Until cancelled: hand every announced pass's changes to `offer` (PostgreSQL only; returns at once on SQLite).
    `missed` is called each time the LISTEN is back after its connection dropped: passes announced meanwhile were
    not heard."""
    listened = False

    def received(payload: str) -> None:
        try:
            offer([read_frame(frame) for frame in json.loads(payload)])
        except Exception:  # a notice that cannot be read must not end the listener
            log.exception("could not read a projection notice")

    def listening() -> None:
        nonlocal listened
        if listened and missed is not None:
            log.warning("listening for projection passes again: live streams are told to re-read")
            missed()
        listened = True

    await listen_on(engine, CHANNEL_PREFIX, received, "listening for projection passes", max_backoff_s, listening)


async def listen_on(
    engine: AsyncEngine,
    prefix: str,
    received: Callable[[str], None],
    doing: str,
    max_backoff_s: float = 30.0,
    listening: Callable[[], None] | None = None,
) -> None:
    """Until cancelled: call `received` with the payload of every notice on `prefix` + the schema (PostgreSQL only;
    returns at once on SQLite); reconnects with backoff when the connection drops. `listening` is called each time
    the LISTEN takes effect (at first and after each reconnect): notices sent before then were not heard."""
    if engine.dialect.name != "postgresql":
        return
    backoff = Backoff(initial=0.2, cap=max_backoff_s)
    failures = FailureLog(log, doing)

    def notice(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
        received(payload)

    while True:
        try:
            async with engine.connect() as connection:
                schema = (await connection.execute(sa.text("SELECT current_schema()"))).scalar_one()
                await connection.rollback()  # a session inside a transaction is sent no notifications
                raw = (await connection.get_raw_connection()).driver_connection
                assert raw is not None
                channel = prefix + schema
                closed = asyncio.Event()
                raw.add_termination_listener(lambda _connection, closed=closed: closed.set())
                await raw.add_listener(channel, notice)  # asyncpg delivers notices on this connection's reader
                failures.recovered()
                backoff.reset()
                if listening is not None:
                    listening()
                try:
                    while not closed.is_set():
                        try:
                            async with asyncio.timeout(_PING_S):
                                await closed.wait()
                        except TimeoutError:
                            await raw.fetchval("SELECT 1")  # a link that died quietly raises here
                finally:
                    if not raw.is_closed():
                        await raw.remove_listener(channel, notice)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures.failed(f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(backoff.next_delay())
