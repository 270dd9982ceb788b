"""The stored events of every family, filtered and paged in the order they happened."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage.database import Database
from gateway.storage.keyset import Keyset, SortKey
from gateway.storage.keyset_page import Page, PageRequest, keyset_page
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


OCCURRED = Keyset(
    "events.occurred",
    (SortKey(events.c.occurred_at, "datetime"), SortKey(events.c.seq, "int"), SortKey(events.c.id, "uuid")),
)
"""In the order they happened: occurred_at, then the edge's seq, then the id (a total order)."""


def _record(row: Any) -> EventRecord:
    return EventRecord(stored_event(row), row.subject_kind, row.subject_id)


async def event_page(connection: AsyncConnection, where: EventFilter, request: PageRequest) -> Page[EventRecord]:
    """One page by keyset in the order they happened, its next cursor, and the total (`storage/totals.py`)."""
    return await keyset_page(
        connection,
        sa.select(events),
        table=events,
        clauses=where.where(),
        keyset=OCCURRED,
        scope=repr(where),
        request=request,
        row=_record,
    )


async def page_events(
    connection: AsyncConnection, where: EventFilter, *, limit: int, offset: int
) -> tuple[list[EventRecord], int]:
    """One page in the order they happened and how many match (`event_page` without cursors, counted exactly)."""
    page = await event_page(connection, where, PageRequest(limit, offset, exact_total=True))
    return page.rows, page.total.value


class EventQueries:
    """Events of every family, as they happened."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(self, where: EventFilter, *, limit: int, offset: int) -> tuple[list[EventRecord], int]:
        """One page of events of any family in the order they happened, and how many match in all."""
        async with self._db.engine.connect() as connection:
            return await page_events(connection, where, limit=limit, offset=offset)

    async def listing(self, where: EventFilter, request: PageRequest) -> Page[EventRecord]:
        """One page of events of any family by keyset, in the order they happened, and the list's total."""
        async with self._db.engine.connect() as connection:
            return await event_page(connection, where, request)
