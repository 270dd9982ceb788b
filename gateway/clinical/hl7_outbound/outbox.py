"""The durable HL7 outbox: a row per message, written from stored events after a cursor, answered in order.

Why a scan and not the commit observer: `EventStore`'s `on_commit` observers run after the commit, in memory, so a
gateway stopping between the two would never write the message. Instead the outbox reads the events table itself
(index `ix_events_type_received`), after the `received_at` it reached, and writes each row in one transaction with
the cursor: whatever was stored is told, across restarts. `received_at` is stamped before a batch commits, so a
batch can commit with an older stamp than one already scanned; each scan therefore looks back `settle` (5 minutes)
behind the cursor, and an event already in the outbox (its `event_id` is unique) is skipped, so nothing found
twice is written twice. The commit observer only wakes the sender early.

The bound this leaves: an event whose `received_at` is more than `settle` older than the newest already scanned
when it becomes visible (a commit slower than `settle`, or a gateway whose clock runs that far behind another's
on the same database) is not sent. Answered rows are only forgotten (`forget_answered`) once their event is
behind the look-back, so the scan can never find a forgotten event unwritten and send it again.

Events stored before outbound was first configured (at or before `enabled_after`) are history, never sent.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import hl7
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.clinical.hl7_outbound.answers import Answer
from gateway.clinical.hl7_outbound.messages import TOLD_TYPES, Parties, Told, container_status
from gateway.runtime.clock import Clock, utc_now
from gateway.storage.clinical_tables import hl7_outbox, hl7_outbox_cursor
from gateway.storage.database import Database
from gateway.storage.tables import events

PENDING, SENT, FAILED = "pending", "sent", "failed"
SETTLE = timedelta(minutes=5)
SCAN_LIMIT = 500
"""Rows written per transaction at most."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One message to send (or sent, or refused)."""

    position: int
    event_id: UUID
    event_type: str
    barcode: str
    control_id: str
    message: str
    state: str
    attempts: int
    answer: str | None = None
    reason: str | None = None


def _row(row: Any) -> OutboxRow:
    return OutboxRow(
        position=row.position,
        event_id=row.event_id,
        event_type=row.event_type,
        barcode=row.barcode,
        control_id=row.control_id,
        message=row.message,
        state=row.state,
        attempts=row.attempts,
        answer=row.answer,
        reason=row.reason,
    )


class Hl7Outbox:
    """The outbox's rows and cursor; one sender at a time works it (`gateway.clinical.hl7_outbound.sender`)."""

    def __init__(self, db: Database, *, clock: Clock = utc_now, settle: timedelta = SETTLE) -> None:
        self._db = db
        self._clock = clock
        self._settle = settle

    async def begin(self) -> None:
        """Set the cursor on first use: what is stored by now is history (the service calls it before ingesting)."""
        async with self._db.write(), self._db.engine.begin() as connection:
            await self._cursor(connection)

    async def collect(self, limit: int = SCAN_LIMIT) -> int:
        """Write a row for each told event stored since the cursor (up to `limit`); how many were written."""
        async with self._db.write(), self._db.engine.begin() as connection:
            enabled_after, scanned_through = await self._cursor(connection)
            floor = _floor(enabled_after, scanned_through, self._settle)
            unwritten = ~sa.exists().where(hl7_outbox.c.event_id == events.c.id)
            query = sa.select(events).where(events.c.type.in_(TOLD_TYPES), unwritten)
            if floor is not None:
                query = query.where(events.c.received_at > floor)
            found = (await connection.execute(query.order_by(*_ORDER).limit(limit))).all()
            if not found:
                return 0
            written = await self._write(connection, found)
            latest = max(row.received_at for row in found)
            if scanned_through is None or latest > scanned_through:
                await connection.execute(sa.update(hl7_outbox_cursor).values(scanned_through=latest))
            return written

    async def _cursor(self, connection: AsyncConnection) -> tuple[datetime | None, datetime | None]:
        c = hl7_outbox_cursor.c
        row = (await connection.execute(sa.select(c.enabled_after, c.scanned_through).where(c.id == 1))).first()
        if row is not None:
            return row.enabled_after, row.scanned_through
        # First run: what is stored already happened before the LIS was listening.
        history = (await connection.execute(sa.select(sa.func.max(events.c.received_at)))).scalar()
        insert = self._db.insert(hl7_outbox_cursor).values(id=1, enabled_after=history, scanned_through=None)
        await connection.execute(insert.on_conflict_do_nothing(index_elements=["id"]))
        return history, None

    async def _write(self, connection: AsyncConnection, found: Sequence[Any]) -> int:
        now = self._clock()
        values = []
        for row in found:
            told = Told(row.type, row.subject_id, row.device, row.occurred_at, row.body.get("data") or {})
            control_id = str(hl7.generate_message_control_id())
            parties = Parties(facility=row.site, receiving_facility=row.site)
            message = str(container_status(told, parties, control_id, now))
            values.append(
                {
                    "event_id": row.id,
                    "event_type": row.type,
                    "barcode": row.subject_id,
                    "control_id": control_id,
                    "message": message,
                    "state": PENDING,
                    "attempts": 0,
                    "created_at": now,
                }
            )
        statement = self._db.insert(hl7_outbox).on_conflict_do_nothing(index_elements=["event_id"])
        result = await connection.execute(statement.returning(hl7_outbox.c.position), values)
        return len(result.all())

    async def head(self) -> OutboxRow | None:
        """The oldest message not answered yet: the next to send."""
        c = hl7_outbox.c
        query = sa.select(hl7_outbox).where(c.state == PENDING).order_by(c.position).limit(1)
        async with self._db.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _row(row)

    async def attempted(self, position: int) -> None:
        """Count an attempt to send the row (before it goes out)."""
        c = hl7_outbox.c
        change = {"attempts": c.attempts + 1, "last_attempt_at": self._clock()}
        async with self._db.write(), self._db.engine.begin() as connection:
            await connection.execute(sa.update(hl7_outbox).where(c.position == position).values(**change))

    async def answered(self, position: int, answer: Answer) -> None:
        """The LIS answered for good: AA (or CA) sends the row off as sent; a refusal keeps it as failed, with the
        error code and place (never the LIS's text: `answers`)."""
        c = hl7_outbox.c
        change = {
            "state": SENT if answer.accepted else FAILED,
            "answer": answer.code[:2],
            "reason": answer.reason,
            "answered_at": self._clock(),
        }
        async with self._db.write(), self._db.engine.begin() as connection:
            await connection.execute(sa.update(hl7_outbox).where(c.position == position).values(**change))

    async def rows(self, state: str | None = None) -> list[OutboxRow]:
        """Every row in send order (of one `state` if given)."""
        c = hl7_outbox.c
        query = sa.select(hl7_outbox).order_by(c.position)
        if state is not None:
            query = query.where(c.state == state)
        async with self._db.engine.connect() as connection:
            return [_row(row) for row in await connection.execute(query)]

    async def cursor(self) -> tuple[datetime | None, datetime | None] | None:
        """(enabled_after, scanned_through), or None before the first scan."""
        c = hl7_outbox_cursor.c
        async with self._db.engine.connect() as connection:
            row = (await connection.execute(sa.select(c.enabled_after, c.scanned_through).where(c.id == 1))).first()
        return None if row is None else (row.enabled_after, row.scanned_through)

    async def counts(self) -> dict[str, int]:
        """Rows by state (pending, sent, failed)."""
        c = hl7_outbox.c
        async with self._db.engine.connect() as connection:
            found = await connection.execute(sa.select(c.state, sa.func.count()).group_by(c.state))
            return {PENDING: 0, SENT: 0, FAILED: 0, **{state: int(n) for state, n in found}}


async def forget_answered(connection: AsyncConnection, before: datetime, settle: timedelta = SETTLE) -> int:
    """Delete rows answered before `before` whose event the scan no longer sees (received at or before its floor):
    a row still inside the look-back stays, or its event would be found unwritten and sent again. How many."""
    c = hl7_outbox_cursor.c
    cursor = (await connection.execute(sa.select(c.enabled_after, c.scanned_through).where(c.id == 1))).first()
    floor = None if cursor is None else _floor(cursor.enabled_after, cursor.scanned_through, settle)
    visible = sa.exists().where(events.c.id == hl7_outbox.c.event_id)
    if floor is not None:
        visible = visible.where(events.c.received_at > floor)
    answered = hl7_outbox.c.state.in_((SENT, FAILED)) & (hl7_outbox.c.answered_at < before)
    return (await connection.execute(sa.delete(hl7_outbox).where(answered, ~visible))).rowcount


def _floor(enabled_after: datetime | None, scanned_through: datetime | None, settle: timedelta) -> datetime | None:
    """What the scan looks after: the later of the history's end and `settle` before the newest scanned."""
    bounds = [b for b in (enabled_after, scanned_through and scanned_through - settle) if b]
    return max(bounds) if bounds else None


_ORDER = (events.c.received_at, events.c.occurred_at, events.c.seq, events.c.id)
"""Send order: as stored; within one stamp by when it happened, then as its edge numbered it (a tube is scanned
before it is sorted, even when the sorter stamps both with one time)."""
