"""The stored events of every family, filtered and paged in the order they happened."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage.database import Database
from gateway.storage.page_total import total_of_empty_page
from gateway.storage.stored_event import StoredEvent, stored_event
from gateway.storage.tables import events


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events to list; every field left None matches all. `types` matches any of the given types."""

    subject_kind: str | None = None
    subject_id: str | None = None
    types: Sequence[str] = ()
    site: str | None = None
    edge: str | None = None
    device: str | None = None
    since: datetime | None = None
    """Inclusive: events that occurred at or after this instant."""
    until: datetime | None = None
    """Exclusive: events that occurred before this instant."""

    def where(self) -> list[sa.ColumnElement[bool]]:
        c = events.c
        clauses: list[sa.ColumnElement[bool]] = []
        for column, value in (
            (c.subject_kind, self.subject_kind),
            (c.subject_id, self.subject_id),
            (c.site, self.site),
            (c.edge, self.edge),
            (c.device, self.device),
        ):
            if value is not None:
                clauses.append(column == value)
        if self.types:
            clauses.append(c.type.in_(list(self.types)))
        if self.since is not None:
            clauses.append(c.occurred_at >= self.since)
        if self.until is not None:
            clauses.append(c.occurred_at < self.until)
        return clauses


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One stored event as the events API shows it: the timeline fields and what it is about."""

    event: StoredEvent
    subject_kind: str
    subject_id: str


async def page_events(
    connection: AsyncConnection, where: EventFilter, *, limit: int, offset: int
) -> tuple[list[EventRecord], int]:
    """One page in occurred_at order (then seq, then id: a total order), and how many match in all.

    Like the specimen page, the total rides on the page's own statement so that both are one snapshot.
    """
    clauses = where.where()
    page = (
        sa.select(events, sa.func.count().over().label("total"))
        .where(*clauses)
        .order_by(events.c.occurred_at, events.c.seq, events.c.id)
        .limit(limit)
        .offset(offset)
    )
    rows = list(await connection.execute(page))
    if not rows:
        count = sa.select(sa.func.count()).select_from(events).where(*clauses)
        return [], await total_of_empty_page(connection, count, offset)
    records = [EventRecord(stored_event(r), r.subject_kind, r.subject_id) for r in rows]
    return records, rows[0].total


class EventQueries:
    """Events of every family, as they happened."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(self, where: EventFilter, *, limit: int, offset: int) -> tuple[list[EventRecord], int]:
        """One page of events of any family in the order they happened, and how many match in all."""
        async with self._db.engine.connect() as connection:
            return await page_events(connection, where, limit=limit, offset=offset)
