"""The specimen projection as a pure fold: the same events in any order give the same row.

Events are folded in custody order (`custody_order`): when they happened, then — at the same instant — an
outcome (sorted, rejected) after a scan, then the edge's sequence number, then the id so that the order is total.
A late event that happened earlier slots in before the later ones, so a specimen's state never regresses.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

SpecimenStatus = Literal["scanned", "sorted", "rejected"]

_STATUS: dict[str, SpecimenStatus] = {
    "specimen.scanned": "scanned",
    "specimen.sorted": "sorted",
    "specimen.rejected": "rejected",
}
# At the same instant an outcome outranks a scan: the tube was scanned, then placed.
_RANK = {"specimen.scanned": 0, "specimen.sorted": 1, "specimen.rejected": 1}


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


@dataclass(frozen=True, slots=True)
class SpecimenRow:
    barcode: str
    status: SpecimenStatus
    site: str
    device: str
    lane: int | None
    rack: int | None
    position: int | None
    reason: str | None
    first_seen_at: datetime
    last_event_at: datetime
    event_count: int
    priority: str | None = None
    category: str | None = None
    ward: str | None = None
    order_id: str | None = None
    location: str | None = None
    custodian: str | None = None
    carrier: str | None = None
    collected_at: datetime | None = None
    dispatched_at: datetime | None = None
    arrived_at: datetime | None = None
    sorted_at: datetime | None = None
    lab_received_at: datetime | None = None
    resulted_at: datetime | None = None
    target_s: int | None = None
    due_at: datetime | None = None
    tat_s: int | None = None
    within_target: bool | None = None


def custody_order(event: StoredEvent) -> tuple[datetime, int, int, str]:
    """Sort key for a specimen's events: a total order that does not depend on arrival."""
    return (event.occurred_at, _RANK.get(event.type, 0), event.seq, str(event.id))


def fold_specimen(barcode: str, events: Iterable[StoredEvent]) -> SpecimenRow | None:
    """The specimen's current row from all of its events; None when none of them is a specimen event."""
    ordered = sorted((e for e in events if e.type in _STATUS), key=custody_order)
    if not ordered:
        return None
    last = ordered[-1]
    data = last.data
    if last.type == "specimen.scanned":
        # On the way in: where the tube waits in the input rack, no output lane yet.
        lane, rack, position = None, data.get("input_rack"), data.get("input_position")
    else:
        lane, rack, position = data.get("lane"), data.get("rack"), data.get("position")
    return SpecimenRow(
        barcode=barcode,
        status=_STATUS[last.type],
        site=last.site,
        device=last.device,
        lane=lane,
        rack=rack,
        position=position,
        reason=data.get("reason") if last.type == "specimen.rejected" else None,
        first_seen_at=ordered[0].occurred_at,
        last_event_at=last.occurred_at,
        event_count=len(ordered),
    )
