"""The `edge_outbox` table: each edge's latest outbox report (contract `EdgeStatus`), for alerts and metrics."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contract import EdgeStatus
from gateway.storage.reliability_tables import edge_outbox


@dataclass(frozen=True, slots=True)
class OutboxReport:
    site: str
    edge: str
    epoch: str
    next_seq: int
    depth: int
    bytes: int
    max_bytes: int
    level: int
    oldest_created_at: datetime | None
    refused: int
    telemetry_dropped: int
    restarts: int
    problem: str | None
    reported_at: datetime
    received_at: datetime


async def record_status(connection: AsyncConnection, insert: Any, status: EdgeStatus, now: datetime) -> bool:
    """Upsert the report unless a newer one (by the edge's `at`) is already there; True when applied."""
    statement = insert(edge_outbox).values(
        site=status.site,
        edge=status.edge,
        epoch=status.epoch,
        next_seq=status.next_seq,
        depth=status.depth,
        bytes=status.bytes,
        max_bytes=status.max_bytes,
        level=status.level,
        oldest_created_at=status.oldest_created_at,
        refused=status.refused,
        telemetry_dropped=status.telemetry_dropped,
        restarts=status.restarts,
        problem=status.problem,
        reported_at=status.at,
        received_at=now,
    )
    excluded = statement.excluded
    columns = [c.name for c in edge_outbox.c if c.name not in ("site", "edge")]
    upsert = statement.on_conflict_do_update(
        index_elements=["site", "edge"],
        set_={name: getattr(excluded, name) for name in columns},
        where=edge_outbox.c.reported_at <= excluded.reported_at,
    ).returning(edge_outbox.c.site)
    return (await connection.execute(upsert)).first() is not None


async def outbox_reports(connection: AsyncConnection) -> list[OutboxReport]:
    rows = await connection.execute(sa.select(edge_outbox).order_by(edge_outbox.c.site, edge_outbox.c.edge))
    return [OutboxReport(**r._asdict()) for r in rows]
