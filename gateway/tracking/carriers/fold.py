"""Tube-carrier trips as a pure fold: one trip is a carrier's events that share a transaction number.

A trip is dispatched (from a station, with the specimens scanned into it), may be rerouted, arrives at a station
and, for a secure carrier, is released there by a badge. Its status is the furthest of those reached, so it never
regresses whatever order the events arrive in; duplicates (the same id twice) count once.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from gateway.projection.held import TripKey
from gateway.storage.stored_event import StoredEvent
from gateway.tracking.specimens.fold import custody_order

TripStatus = Literal["dispatched", "rerouted", "arrived", "released"]
TRIP_STATUSES: tuple[TripStatus, ...] = ("dispatched", "rerouted", "arrived", "released")
IN_TRANSIT: tuple[TripStatus, ...] = ("dispatched", "rerouted")

_STATUS: dict[str, TripStatus] = {
    "carrier.dispatched": "dispatched",
    "carrier.rerouted": "rerouted",
    "carrier.arrived": "arrived",
    "carrier.released": "released",
}
_PHASE = {"carrier.dispatched": 0, "carrier.rerouted": 1, "carrier.arrived": 2, "carrier.released": 3}

"""(site, carrier, transaction)."""


@dataclass(frozen=True, slots=True)
class TripRow:
    site: str
    carrier: str
    transaction: int
    device: str
    status: TripStatus
    from_station: str | None
    to_station: str | None
    """Where it is bound: the dispatch's destination, or the latest reroute's."""
    station: str | None
    """Where it arrived; None while in transit."""
    priority: str | None
    secure: bool
    specimens: tuple[str, ...]
    dispatched_at: datetime | None
    arrived_at: datetime | None
    released_at: datetime | None
    released_by: str | None
    reroutes: int
    last_event_at: datetime


def fold_trip(key: TripKey, events: Iterable[StoredEvent]) -> TripRow | None:
    """The trip's row from all of its events; None when none of them is a carrier event."""
    unique = {e.id: e for e in events if e.type in _STATUS}
    ordered = sorted(unique.values(), key=custody_order)
    if not ordered:
        return None
    site, carrier, transaction = key
    furthest = max(ordered, key=lambda e: (_PHASE[e.type], custody_order(e)))
    dispatches = [e for e in ordered if e.type == "carrier.dispatched"]
    reroutes = [e for e in ordered if e.type == "carrier.rerouted"]
    arrivals = [e for e in ordered if e.type == "carrier.arrived"]
    releases = [e for e in ordered if e.type == "carrier.released"]
    dispatch = dispatches[0].data if dispatches else {}
    specimens: dict[str, None] = {}
    for event in dispatches:  # the first dispatch's order, then anything a repeated report added
        specimens.update(dict.fromkeys(event.data.get("specimens", ())))
    at_station = (arrivals or releases)[-1].data["station"] if arrivals or releases else None
    return TripRow(
        site=site,
        carrier=carrier,
        transaction=transaction,
        device=(dispatches or ordered)[0].device,
        status=_STATUS[furthest.type],
        from_station=dispatch.get("from_station"),
        to_station=reroutes[-1].data["to_station"] if reroutes else dispatch.get("to_station"),
        station=at_station,
        priority=dispatch.get("priority", "normal") if dispatches else None,
        secure=bool(dispatch.get("secure", False)),
        specimens=tuple(specimens),
        dispatched_at=dispatches[0].occurred_at if dispatches else None,
        arrived_at=arrivals[0].occurred_at if arrivals else None,
        released_at=releases[0].occurred_at if releases else None,
        released_by=releases[0].data["badge"] if releases else None,
        reroutes=len(reroutes),
        last_event_at=ordered[-1].occurred_at,
    )
