"""The edges the gateway has heard of: each one's latest state (online or offline) and since when, with the outbox
it last reported and the gateway's tracker of its sequence numbers."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.ingest.edge_reports import OutboxReport, outbox_reports
from gateway.ingest.presence import presence
from gateway.ingest.sequences import SequenceState, sequence_states
from gateway.runtime.clock import Clock, utc_now
from gateway.storage.database import Database
from gateway.storage.reliability_tables import edge_sequences
from gateway.storage.tables import edges


@dataclass(frozen=True, slots=True)
class EdgeRow:
    site: str
    edge: str
    state: str
    """As the evidence has it (`gateway.ingest.presence`): online while its events contradict an offline state."""
    since: datetime
    version: str
    updated_at: datetime
    last_event_at: datetime | None = None
    """When events of the edge were last stored (the gateway's clock); None before any."""
    note: str | None = None
    """Why `state` differs from the edge's recorded state; None when they agree."""


@dataclass(frozen=True, slots=True)
class EdgeReport:
    """An edge's state, its latest outbox report and its sequence tracker (None until it has one)."""

    row: EdgeRow
    outbox: OutboxReport | None
    sequence: SequenceState | None


async def edges_with_evidence(connection: AsyncConnection, now: datetime) -> list[EdgeRow]:
    """Every edge by site and id, its state following the evidence of its stored events."""
    s = edge_sequences.c
    joined = edges.outerjoin(edge_sequences, sa.and_(s.site == edges.c.site, s.edge == edges.c.edge))
    query = sa.select(edges, s.updated_at.label("last_event_at")).select_from(joined)
    rows = []
    for r in await connection.execute(query.order_by(edges.c.site, edges.c.edge)):
        seen = presence(r.state, r.updated_at, r.last_event_at, now)
        rows.append(EdgeRow(r.site, r.edge, seen.state, r.since, r.version, r.updated_at, r.last_event_at, seen.note))
    return rows


class EdgeQueries:
    """Reads the edges' states and reports."""

    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def all(self) -> list[EdgeRow]:
        """Every edge by site and id."""
        async with self._db.engine.connect() as connection:
            return await edges_with_evidence(connection, self._clock())

    async def page(self, *, limit: int, offset: int) -> tuple[list[EdgeReport], int]:
        """One page of edges by site and id, each with its outbox report and sequence tracker, and how many in all."""
        async with self._db.engine.connect() as connection:
            every = await edges_with_evidence(connection, self._clock())
            rows = every[offset : offset + limit]
            outboxes = {(r.site, r.edge): r for r in await outbox_reports(connection)}
            sequences = await sequence_states(connection, [(r.site, r.edge) for r in rows])
        reports = [
            EdgeReport(row, outboxes.get((row.site, row.edge)), sequences.get((row.site, row.edge))) for row in rows
        ]
        return reports, len(every)
