"""Tamper detection: an event id seen again with a different body.

An event is what the edge said; `received_at` is the gateway's stamp, so it is left out of the fingerprint
(`custody_log.body_sha256` over the canonical JSON of the rest). So is the `seq` of an event a clinical system
reported over HTTP or HL7 (edge `integration`): the gateway numbers each report as it arrives, so a retried report
carries the same event under a new seq. The same id with the same fingerprint is a
harmless duplicate (a resend). The same id with another fingerprint is rejected: not stored, not acknowledged,
recorded in `tampered_events` (in the commit transaction) for the `event.tampered` alert, and dead-lettered by
ingest with the reason `tampered`. The first body stored stays the truth.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contract import Event
from gateway.custody.log import body_sha256
from gateway.projection.transaction import INTEGRATION_EDGE
from gateway.storage.reliability_tables import tampered_events
from gateway.storage.tables import events

_GATEWAY_STAMPS = ("received_at",)
_INTEGRATION_STAMPS = ("received_at", "seq")


@dataclass(frozen=True, slots=True)
class Tampered:
    event: Event
    stored_sha256: str
    offered_sha256: str


def fingerprint(body: Mapping[str, Any]) -> str:
    """The SHA-256 of an event body as the edge sent it (canonical JSON, without the gateway's stamps)."""
    stamps = _INTEGRATION_STAMPS if body.get("edge") == INTEGRATION_EDGE else _GATEWAY_STAMPS
    return body_sha256({k: v for k, v in body.items() if k not in stamps})


def event_fingerprint(event: Event) -> str:
    return fingerprint(event.model_dump(mode="json"))


async def stored_fingerprints(connection: AsyncConnection, ids: Sequence[UUID]) -> dict[UUID, str]:
    """The fingerprints of the stored bodies of these ids."""
    found: dict[UUID, str] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        rows = await connection.execute(sa.select(events.c.id, events.c.body).where(events.c.id.in_(chunk)))
        found.update({row.id: fingerprint(row.body) for row in rows})
    return found


async def record(connection: AsyncConnection, insert: Any, found: Sequence[Tampered], now: datetime) -> None:
    """Keep each tampered id once, counting the attempts (the alert reads this table)."""
    for item in found:
        statement = insert(tampered_events).values(
            event_id=item.event.id,
            site=item.event.site,
            edge=item.event.edge,
            stored_sha256=item.stored_sha256,
            offered_sha256=item.offered_sha256,
            attempts=1,
            first_seen_at=now,
            last_seen_at=now,
        )
        await connection.execute(
            statement.on_conflict_do_update(
                index_elements=["event_id"],
                set_={
                    "attempts": tampered_events.c.attempts + 1,
                    "last_seen_at": statement.excluded.last_seen_at,
                    "offered_sha256": statement.excluded.offered_sha256,
                },
            )
        )


@dataclass(frozen=True, slots=True)
class TamperRow:
    event_id: UUID
    site: str
    edge: str
    attempts: int
    first_seen_at: datetime
    last_seen_at: datetime


async def recent_tampering(connection: AsyncConnection, since: datetime) -> list[TamperRow]:
    """Tampered ids seen since `since` (for the `event.tampered` alert)."""
    c = tampered_events.c
    query = sa.select(c.event_id, c.site, c.edge, c.attempts, c.first_seen_at, c.last_seen_at).where(
        c.last_seen_at >= since
    )
    return [TamperRow(**r._asdict()) for r in await connection.execute(query)]
