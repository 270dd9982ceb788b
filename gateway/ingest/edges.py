"""The edges the gateway has heard of: each one's latest state (online or offline) and since when, with the outbox
it last reported and the gateway's tracker of its sequence numbers."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.ingest.edge_reports import OutboxReport, outbox_reports
from gateway.ingest.sequences import SequenceState, sequence_states
from gateway.storage.database import Database
from gateway.storage.tables import edges


@dataclass(frozen=True, slots=True)
class EdgeRow:
    site: str
    edge: str
    state: str
    since: datetime
    version: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class EdgeReport:
    """An edge's state, its latest outbox report and its sequence tracker (None until it has one)."""

    row: EdgeRow
    outbox: OutboxReport | None
    sequence: SequenceState | None


async def _every_edge(connection: AsyncConnection) -> list[EdgeRow]:
    result = await connection.execute(sa.select(edges).order_by(edges.c.site, edges.c.edge))
    return [EdgeRow(**r._asdict()) for r in result]


class EdgeQueries:
    """Reads the edges' states and reports."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[EdgeRow]:
        """Every edge by site and id."""
        async with self._db.engine.connect() as connection:
            return await _every_edge(connection)

    async def page(self, *, limit: int, offset: int) -> tuple[list[EdgeReport], int]:
        """One page of edges by site and id, each with its outbox report and sequence tracker, and how many in all."""
        async with self._db.engine.connect() as connection:
            every = await _every_edge(connection)
            rows = every[offset : offset + limit]
            outboxes = {(r.site, r.edge): r for r in await outbox_reports(connection)}
            sequences = await sequence_states(connection, [(r.site, r.edge) for r in rows])
        reports = [
            EdgeReport(row, outboxes.get((row.site, row.edge)), sequences.get((row.site, row.edge))) for row in rows
        ]
        return reports, len(every)
