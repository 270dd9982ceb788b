"""A stored event as the folds and timelines read it back from `events`."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """What the fold and the timeline need of one stored event."""

    id: UUID
    seq: int
    type: str
    occurred_at: datetime
    received_at: datetime
    site: str
    edge: str
    device: str
    data: Mapping[str, Any]
    subject_kind: str = ""
    """What the event is about ("specimen", "carrier", ...); empty when the reader did not need it."""
    subject_id: str = ""
    historical: bool = False
    """It happened before its edge's current connection came up (a replayed backlog: `gateway.ingest.historical`)."""


def stored_event(row: Any) -> StoredEvent:
    """A row of `events` as the folds and timelines read it (with its subject, which a carrier's fold needs)."""
    return StoredEvent(
        id=row.id,
        seq=row.seq,
        type=row.type,
        occurred_at=row.occurred_at,
        received_at=row.received_at,
        site=row.site,
        edge=row.edge,
        device=row.device,
        data=row.body.get("data") or {},
        subject_kind=row.subject_kind,
        subject_id=row.subject_id,
        historical=bool(getattr(row, "historical", False)),
    )
