"""Pharmacy deliveries as a pure fold: the same events in any order, duplicated or late, give the same row.

A delivery moves created -> assigned -> loaded -> departed -> arrived -> handed_over -> stocked, or fails. The
status is the furthest step any event reached, so it never regresses: a late earlier event only fills in that
step's time. A failure outranks every step before the hand-over; a hand-over or stocking (the items reached the
ward) outranks a failure. Each step's time is its first occurrence; robot, drawer and location follow the events
in the order they happened. A `cabinet.item_restocked` that names the delivery counts as its stocking.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from gateway.rules.pharmacy import DeliveryRules
from gateway.storage.stored_event import StoredEvent

DeliveryStatus = Literal["created", "assigned", "loaded", "departed", "arrived", "handed_over", "stocked", "failed"]

STEPS: tuple[DeliveryStatus, ...] = ("created", "assigned", "loaded", "departed", "arrived", "handed_over", "stocked")
"""The steps of a delivery that goes well, in order."""
DONE: frozenset[DeliveryStatus] = frozenset({"handed_over", "stocked", "failed"})
"""No longer in progress: the items reached the ward, or the delivery failed."""

RESTOCKED = "cabinet.item_restocked"
_STATUS: dict[str, DeliveryStatus] = {
    "delivery.created": "created",
    "delivery.accepted": "assigned",
    "delivery.loaded": "loaded",
    "delivery.departed": "departed",
    "delivery.arrived": "arrived",
    "delivery.handed_over": "handed_over",
    "delivery.stocked": "stocked",
    RESTOCKED: "stocked",
    "delivery.failed": "failed",
}
_RANK: dict[DeliveryStatus, int] = {
    "created": 0,
    "assigned": 1,
    "loaded": 2,
    "departed": 3,
    "arrived": 4,
    "failed": 5,
    "handed_over": 6,
    "stocked": 7,
}
DELIVERY_EVENT_TYPES = frozenset(t for t in _STATUS if t != RESTOCKED)


@dataclass(frozen=True, slots=True)
class DeliveryLine:
    gtin: str
    quantity: int


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One row of the deliveries table."""

    delivery: str
    site: str
    status: DeliveryStatus
    order_id: str | None
    ward: str | None
    destination: str | None
    cabinet: str | None
    priority: str | None
    items: tuple[DeliveryLine, ...]
    robot: str | None
    drawer: str | None
    location: str | None
    """Where it is: the robot's last node, then the destination once handed over, the cabinet once stocked."""
    created_at: datetime | None
    assigned_at: datetime | None
    loaded_at: datetime | None
    departed_at: datetime | None
    arrived_at: datetime | None
    handed_over_at: datetime | None
    handed_over_by: str | None
    stocked_at: datetime | None
    failed_at: datetime | None
    failure_reason: str | None
    due_at: datetime | None
    last_event_at: datetime
    event_count: int

    @property
    def in_progress(self) -> bool:
        return self.status not in DONE

    def overdue(self, now: datetime) -> bool:
        """Still on its way and past its due time."""
        return self.in_progress and self.due_at is not None and now > self.due_at


@dataclass(frozen=True, slots=True)
class DeliveryStep:
    """One entry of a delivery's timeline: when, what, where, and who handled it (robot, badge)."""

    event_id: str
    at: datetime
    type: str
    status: DeliveryStatus
    place: str | None
    robot: str | None
    badge: str | None
    detail: str | None
    """The failure's reason, the drawer, or the bin a restock went into."""


@dataclass(frozen=True, slots=True)
class Progress:
    step: int
    """How many of the steps the delivery has reached (a failed one: the steps it reached before failing)."""
    of: int
    status: DeliveryStatus
    due_at: datetime | None
    overdue: bool


def delivery_order(event: StoredEvent) -> tuple[datetime, int, int, str]:
    """Sort key: when it happened, then the step's rank at the same instant, then seq and id (a total order)."""
    return (event.occurred_at, _RANK[_STATUS[event.type]], event.seq, str(event.id))


def _relevant(events: Iterable[StoredEvent], delivery: str) -> list[StoredEvent]:
    """The delivery's own events and the restocks naming it, each id once, in delivery order."""
    unique = {e.id: e for e in events}
    chosen = [
        e
        for e in unique.values()
        if e.type in DELIVERY_EVENT_TYPES or (e.type == RESTOCKED and e.data.get("delivery") == delivery)
    ]
    return sorted(chosen, key=delivery_order)


@dataclass(slots=True)
class _Journey:
    """What the fold has learnt so far, walking the events in the order they happened."""

    order_id: str | None = None
    ward: str | None = None
    destination: str | None = None
    cabinet: str | None = None
    priority: str | None = None
    items: tuple[DeliveryLine, ...] = ()
    robot: str | None = None
    drawer: str | None = None
    location: str | None = None

    def place(self, event: StoredEvent) -> str | None:
        """Take in one event; where the delivery is after it (None: no news about where)."""
        data: Mapping[str, Any] = event.data
        status = _STATUS[event.type]
        if event.type == "delivery.created":
            self.order_id = data.get("order_id")
            self.ward = data.get("ward")
            self.priority = data.get("priority", "routine")
            self.items = tuple(DeliveryLine(i["gtin"], i["quantity"]) for i in data.get("items", ()))
            self.destination = data.get("destination") or self.destination
            self.cabinet = data.get("cabinet") or self.cabinet
        elif event.type == "delivery.accepted":
            self.destination = self.destination or data.get("destination")
        self.robot = data.get("robot") or self.robot
        self.drawer = data.get("drawer") or self.drawer
        place: str | None = None
        if event.type in ("delivery.departed", "delivery.arrived"):
            place = data.get("node")
        elif event.type == "delivery.handed_over":
            place = self.destination or self.location
        elif status == "stocked":
            self.cabinet = data.get("cabinet") or self.cabinet
            place = data.get("cabinet")
        if place is not None:
            self.location = place
        return place


def fold_delivery(delivery: str, events: Iterable[StoredEvent], rules: DeliveryRules) -> DeliveryRow | None:
    """The delivery's row from its events (and the restocks naming it); None without any delivery event.

    A restock is a cabinet event: its cabinet must be in its data as `cabinet` (the store puts the subject id there).
    """
    ordered = _relevant(events, delivery)
    own = [e for e in ordered if e.type in DELIVERY_EVENT_TYPES]
    if not own:
        return None
    journey = _Journey()
    first: dict[DeliveryStatus, StoredEvent] = {}
    for event in ordered:
        first.setdefault(_STATUS[event.type], event)
        journey.place(event)
    failed, handed = first.get("failed"), first.get("handed_over")
    target = rules.target(journey.priority)
    start = first["created"].occurred_at if "created" in first else own[0].occurred_at

    def at(status: DeliveryStatus) -> datetime | None:
        event = first.get(status)
        return event.occurred_at if event else None

    return DeliveryRow(
        delivery=delivery,
        site=own[-1].site,
        status=max(first, key=_RANK.__getitem__),
        order_id=journey.order_id,
        ward=journey.ward,
        destination=journey.destination,
        cabinet=journey.cabinet,
        priority=journey.priority,
        items=journey.items,
        robot=journey.robot,
        drawer=journey.drawer,
        location=journey.location,
        created_at=at("created"),
        assigned_at=at("assigned"),
        loaded_at=at("loaded"),
        departed_at=at("departed"),
        arrived_at=at("arrived"),
        handed_over_at=at("handed_over"),
        handed_over_by=handed.data.get("badge") if handed else None,
        stocked_at=at("stocked"),
        failed_at=at("failed"),
        failure_reason=failed.data.get("reason") if failed else None,
        due_at=start + target if target is not None else None,
        last_event_at=ordered[-1].occurred_at,
        event_count=len(ordered),
    )


def delivery_steps(delivery: str, events: Iterable[StoredEvent]) -> list[DeliveryStep]:
    """The delivery's timeline in the order things happened, each event id once."""
    journey = _Journey()
    steps = []
    for event in _relevant(events, delivery):
        data = event.data
        status = _STATUS[event.type]
        place = journey.place(event)
        if event.type == "delivery.failed":
            detail = data.get("reason")
        elif status == "stocked":
            detail = f"bin {data['bin']}" if event.type == RESTOCKED else None
        else:
            detail = data.get("drawer")
        robot = data.get("robot") if event.type != RESTOCKED else None
        steps.append(
            DeliveryStep(
                event_id=str(event.id),
                at=event.occurred_at,
                type=event.type,
                status=status,
                place=place,
                robot=robot,
                badge=data.get("badge"),
                detail=detail,
            )
        )
    return steps


def progress(row: DeliveryRow, now: datetime) -> Progress:
    """Which step of how many the delivery has reached, when it is due, and whether it is overdue by `now`."""
    times = (
        row.created_at,
        row.assigned_at,
        row.loaded_at,
        row.departed_at,
        row.arrived_at,
        row.handed_over_at,
        row.stocked_at,
    )
    if row.status == "failed":
        step = max((n for n, t in enumerate(times, 1) if t is not None), default=0)
    else:
        step = STEPS.index(row.status) + 1
    return Progress(step=step, of=len(STEPS), status=row.status, due_at=row.due_at, overdue=row.overdue(now))
