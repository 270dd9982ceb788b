"""Which specimens an open root-cause alert holds (a blocked tube zone, a jammed or offline sorter), for the board.

The root-cause alert lists the barcodes it holds in its details (`gateway.alerts.root_causes`); a specimen is held
while such an alert is open (raised or acknowledged, not cleared).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa

from gateway.alerts.root_causes import ROOT_KINDS
from gateway.storage.database import Database
from gateway.storage.tables import alerts


@dataclass(frozen=True, slots=True)
class Held:
    """Why a specimen cannot move on, and the alert that says so."""

    reason: str
    """Short, for a board cell: `zone zone-b blocked`, `sorter-1 jammed`, `sorter-1 offline`."""
    alert_id: UUID
    kind: str
    device: str
    fault: str
    """The fault code (jam, door_open, zone_blocked, ...) or `offline`."""
    zone: str | None
    since: datetime | None


class HeldSpecimens:
    """Reads the open root-cause alerts (few at a time) and answers which of some specimens they hold."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def of(self, specimens: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Held]:
        """(site, barcode) -> why it is held, for those of `specimens` an active root-cause alert holds
        (one that cleared and is only owed an acknowledgement holds nothing)."""
        wanted = set(specimens)
        if not wanted:
            return {}
        return {key: why for key, why in (await self.every()).items() if key in wanted}

    async def every(self) -> dict[tuple[str, str], Held]:
        """(site, barcode) -> why it is held, for every specimen an active root-cause alert holds (the few open
        root causes list them; the first raised names the reason when two hold one specimen)."""
        c = alerts.c
        query = (
            sa.select(c.id, c.kind, c.site, c.details)
            .where(c.open_key.is_not(None), c.state != "cleared", c.kind.in_(ROOT_KINDS))
            .order_by(c.raised_at, c.id)
        )
        async with self._db.engine.connect() as connection:
            rows = list(await connection.execute(query))
        held: dict[tuple[str, str], Held] = {}
        for row in rows:
            details = row.details or {}
            for barcode in details.get("specimens", ()):
                held.setdefault((row.site, barcode), _held(row.id, row.kind, details))
        return held


def _held(alert_id: UUID, kind: str, details: dict[str, object]) -> Held:
    since = details.get("since")
    zone = details.get("zone")
    return Held(
        reason=str(details.get("held_reason") or kind),
        alert_id=alert_id,
        kind=kind,
        device=str(details.get("device")),
        fault=str(details.get("fault")),
        zone=str(zone) if zone else None,
        since=datetime.fromisoformat(since) if isinstance(since, str) else None,
    )
