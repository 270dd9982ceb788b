"""The specimen projection as a pure fold: the same events in any order give the same row.

A specimen's history is its own events (collected at a ward, scanned and sorted or rejected by the sorter,
received and resulted by the lab) plus the events of every tube-carrier trip it was loaded in (dispatched,
rerouted, arrived, released): when a carrier arrives, its specimens arrive.

Events are put in custody order (`custody_order`): when they happened, then — at the same instant — the journey's
order (collected, dispatched, arrived, released, scanned, sorted or rejected, received, resulted), then the edge's
sequence number, then the id, so that the order is total. A late event that happened earlier slots in before the
later ones. The status comes from the furthest stage of the journey reached (ward, tube, sorter, lab receipt,
result), and within a stage from the latest event, so a status never regresses even when two systems' clocks
disagree a little. Duplicates (the same id twice) count once.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from gateway.rules import TrackingRules
from gateway.storage.stored_event import StoredEvent

SpecimenStatus = Literal["collected", "in_transit", "arrived", "scanned", "sorted", "rejected", "received", "resulted"]

SPECIMEN_STATUSES: tuple[SpecimenStatus, ...] = (
    "collected",
    "in_transit",
    "arrived",
    "scanned",
    "sorted",
    "rejected",
    "received",
    "resulted",
)

_STATUS: dict[str, SpecimenStatus] = {
    "specimen.collected": "collected",
    "carrier.dispatched": "in_transit",
    "carrier.rerouted": "in_transit",
    "carrier.arrived": "arrived",
    "carrier.released": "arrived",
    "specimen.scanned": "scanned",
    "specimen.sorted": "sorted",
    "specimen.rejected": "rejected",
    "specimen.received": "received",
    "specimen.resulted": "resulted",
}
SPECIMEN_EVENT_TYPES = frozenset(t for t in _STATUS if t.startswith("specimen."))
CARRIER_EVENT_TYPES = frozenset(t for t in _STATUS if t.startswith("carrier."))

# The journey's stages: the status is taken from the furthest stage reached, then the latest event within it.
_STAGE = {
    "specimen.collected": 0,
    "carrier.dispatched": 1,
    "carrier.rerouted": 1,
    "carrier.arrived": 1,
    "carrier.released": 1,
    "specimen.scanned": 2,
    "specimen.sorted": 2,
    "specimen.rejected": 2,
    "specimen.received": 3,
    "specimen.resulted": 4,
}
# At the same instant the journey's order decides: e.g. the tube was scanned, then placed.
_RANK = {
    "specimen.collected": 0,
    "carrier.dispatched": 1,
    "carrier.rerouted": 2,
    "carrier.arrived": 3,
    "carrier.released": 4,
    "specimen.scanned": 5,
    "specimen.sorted": 6,
    "specimen.rejected": 6,
    "specimen.received": 7,
    "specimen.resulted": 8,
}
_SORTER_STATUSES = frozenset({"scanned", "sorted", "rejected"})


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
    """Where it is now: a ward, a carrier (in transit), a station, a sorter, a lab location (see `Ref` kinds)."""
    custodian: str | None = None
    """Who has it now: a badge, a carrier, a device, or the lab system that received it."""
    carrier: str | None = None
    """The carrier of its latest tube trip."""
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


RefKind = Literal["ward", "station", "carrier", "device", "lab", "person", "system"]


@dataclass(frozen=True, slots=True)
class Ref:
    """A place (ward, station, carrier, device, lab) or a handler (person by badge, carrier, device, system)."""

    kind: RefKind
    id: str


@dataclass(frozen=True, slots=True)
class CustodyStep:
    """One event of the specimen's journey, with where it happened and who handled the specimen."""

    event: StoredEvent
    place: Ref | None
    handler: Ref | None


@dataclass(frozen=True, slots=True)
class Custody:
    """One holder in the chain of custody: from the first to the last step in a row it handled."""

    handler: Ref
    place: Ref | None
    since: datetime
    until: datetime


def custody_order(event: StoredEvent) -> tuple[datetime, int, int, str]:
    """Sort key for a specimen's events: a total order that does not depend on arrival."""
    return (event.occurred_at, _RANK.get(event.type, 0), event.seq, str(event.id))


def _journey_order(event: StoredEvent) -> tuple[int, tuple[datetime, int, int, str]]:
    return (_STAGE[event.type], custody_order(event))


def journey_events(events: Iterable[StoredEvent]) -> list[StoredEvent]:
    """The events that belong to a specimen's journey, each id once, in custody order."""
    unique = {e.id: e for e in events if e.type in _STATUS}
    return sorted(unique.values(), key=custody_order)


def place_of(event: StoredEvent) -> Ref | None:
    """Where the event happened, as the timeline shows it."""
    data, kind = event.data, event.type
    if kind == "specimen.collected":
        return Ref("ward", data["ward"])
    if kind == "carrier.dispatched":
        return Ref("station", data["from_station"])
    if kind == "carrier.rerouted":
        return Ref("carrier", event.subject_id)
    if kind in ("carrier.arrived", "carrier.released"):
        return Ref("station", data["station"])
    if kind in ("specimen.scanned", "specimen.sorted", "specimen.rejected"):
        return Ref("device", event.device)
    if kind == "specimen.received":
        return Ref("lab", data.get("location") or event.device)
    return None  # a result moves nothing


def handler_of(event: StoredEvent) -> Ref | None:
    """Who had the specimen in hand at this step: a badge, the carrier, the sorter, or the lab's system."""
    data, kind = event.data, event.type
    badge = data.get("badge")
    if kind in ("carrier.dispatched", "carrier.rerouted", "carrier.arrived"):
        return Ref("carrier", event.subject_id)
    if kind in ("specimen.scanned", "specimen.sorted", "specimen.rejected"):
        return Ref("device", event.device)
    if badge:
        return Ref("person", badge)
    if kind in ("specimen.received", "specimen.resulted"):
        return Ref("system", event.device)
    return None


def custody_steps(events: Iterable[StoredEvent]) -> list[CustodyStep]:
    """The journey in custody order: each step with its place and handler ("who had it")."""
    return [CustodyStep(e, place_of(e), handler_of(e)) for e in journey_events(events)]


def custody_chain(steps: Iterable[CustodyStep]) -> list[Custody]:
    """Who held the specimen, in turn: consecutive steps by the same handler merge; a result is no handover."""
    chain: list[Custody] = []
    for step in steps:
        if step.handler is None or step.event.type == "specimen.resulted":
            continue
        at = step.event.occurred_at
        if chain and chain[-1].handler == step.handler:
            last = chain[-1]
            chain[-1] = Custody(last.handler, last.place, last.since, at)
        else:
            chain.append(Custody(step.handler, step.place, at, at))
    return chain


def _current_place(here: StoredEvent) -> Ref | None:
    if here.type in ("carrier.dispatched", "carrier.rerouted"):
        return Ref("carrier", here.subject_id)  # in the tube
    return place_of(here)


def current_custody(events: Iterable[StoredEvent]) -> tuple[Ref | None, Ref | None]:
    """Where the specimen is now and who has it, from its furthest physical step (a result moves nothing)."""
    physical = [e for e in journey_events(events) if e.type != "specimen.resulted"]
    if not physical:
        return None, None
    here = max(physical, key=_journey_order)
    return _current_place(here), handler_of(here)


def _first(events: list[StoredEvent], *types: str) -> datetime | None:
    return next((e.occurred_at for e in events if e.type in types), None)


def _arrived_at(ordered: list[StoredEvent]) -> datetime | None:
    """When its latest trip arrived: a trip arrives with its first arrival (or release, if that was missed)."""
    trips: dict[tuple[str, str, Any], datetime] = {}
    for e in ordered:
        if e.type in ("carrier.arrived", "carrier.released"):
            trips.setdefault((e.site, e.subject_id, e.data.get("transaction")), e.occurred_at)
    return max(trips.values(), default=None)


def fold_specimen(
    barcode: str, events: Iterable[StoredEvent], rules: "TrackingRules | None" = None
) -> SpecimenRow | None:
    """The specimen's current row from its events and its carriers' trip events; None when there are none.

    With `rules`, a collected specimen gets its turnaround target, due time and, once resulted, whether it made it.
    """
    ordered = journey_events(events)
    if not ordered:
        return None
    status_event = max(ordered, key=_journey_order)
    status = _STATUS[status_event.type]
    place, handler = current_custody(ordered)
    physical = [e for e in ordered if e.type != "specimen.resulted"]
    device = max(physical, key=_journey_order).device if physical else status_event.device
    data = status_event.data
    lane = rack = position = None
    if status == "scanned":
        # On the way in: where the tube waits in the input rack, no output lane yet.
        rack, position = data.get("input_rack"), data.get("input_position")
    elif status in _SORTER_STATUSES:
        lane, rack, position = data.get("lane"), data.get("rack"), data.get("position")

    collections = [e for e in ordered if e.type == "specimen.collected"]
    ordered_by = collections[-1].data if collections else {}  # the latest word on priority, category, ward
    collected_at = collections[0].occurred_at if collections else None
    transport = [e for e in ordered if e.type in CARRIER_EVENT_TYPES]
    resulted_at = _first(ordered, "specimen.resulted")
    target_s = due_at = tat_s = within_target = None
    if collected_at is not None and rules is not None:
        minutes = rules.turnaround.target_minutes(
            ordered_by.get("priority"), ordered_by.get("category"), ordered_by.get("ward")
        )
        if minutes is not None:
            target_s = round(minutes * 60)
            due_at = collected_at + timedelta(seconds=target_s)
    if collected_at is not None and resulted_at is not None:
        tat_s = round((resulted_at - collected_at).total_seconds())
        within_target = None if target_s is None else tat_s <= target_s
    return SpecimenRow(
        barcode=barcode,
        status=status,
        site=status_event.site,
        device=device,
        lane=lane,
        rack=rack,
        position=position,
        reason=data.get("reason") if status == "rejected" else None,
        first_seen_at=ordered[0].occurred_at,
        last_event_at=ordered[-1].occurred_at,
        event_count=len(ordered),
        priority=ordered_by.get("priority", "routine") if collections else None,
        category=ordered_by.get("category"),
        ward=ordered_by.get("ward"),
        order_id=ordered_by.get("order_id"),
        location=place.id if place else None,
        custodian=handler.id if handler else None,
        carrier=transport[-1].subject_id if transport else None,
        collected_at=collected_at,
        dispatched_at=_first(ordered, "carrier.dispatched"),
        arrived_at=_arrived_at(ordered),
        sorted_at=_first(ordered, "specimen.sorted"),
        lab_received_at=_first(ordered, "specimen.received"),
        resulted_at=resulted_at,
        target_s=target_s,
        due_at=due_at,
        tat_s=tat_s,
        within_target=within_target,
    )
