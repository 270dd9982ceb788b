"""Builders for the pharmacy's events (deliveries and cabinets) as an edge or the pharmacy system reports them."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

from contract import Event, Subject, new_event
from gateway.storage.stored_event import StoredEvent

SITE, EDGE = "general-hospital", "hospital-edge"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
PARACETAMOL = "00614141001019"
IBUPROFEN = "00614141001026"
INSULIN = "00614141001934"
EXPIRY = date(2027, 6, 30)


class Seq:
    """The edge's sequence numbers: every event built through one `Seq` gets the next."""

    def __init__(self) -> None:
        self.last = 0

    def __call__(self) -> int:
        self.last += 1
        return self.last


def delivery_event(
    type_: str, delivery: str, minute: float, seq: int, *, device: str = "robot-1", site: str = SITE, **data: Any
) -> Event:
    event = new_event(
        type_,  # type: ignore[arg-type]
        seq=seq,
        site=site,
        edge=EDGE,
        device=device,
        subject=Subject(kind="delivery", id=delivery),
        occurred_at=T0 + timedelta(minutes=minute),
        data=data,
    )
    return event.model_copy(update={"received_at": event.occurred_at + timedelta(seconds=1)})


def cabinet_event(type_: str, cabinet: str, minute: float, seq: int, *, site: str = SITE, **data: Any) -> Event:
    event = new_event(
        type_,  # type: ignore[arg-type]
        seq=seq,
        site=site,
        edge=EDGE,
        device=cabinet,
        subject=Subject(kind="cabinet", id=cabinet),
        occurred_at=T0 + timedelta(minutes=minute),
        data=data,
    )
    return event.model_copy(update={"received_at": event.occurred_at + timedelta(seconds=1)})


def item(bin_: str, gtin: str, quantity: int, lot: str = "L01A001", **extra: Any) -> dict[str, Any]:
    return {"bin": bin_, "gtin": gtin, "lot": lot, "expiry": EXPIRY.isoformat(), "quantity": quantity, **extra}


def journey(delivery: str = "D-001", *, priority: str = "stat", seq: Seq | None = None) -> list[Event]:
    """A delivery that goes well: created 08:00, handed over 08:20, stocked into cabinet-1 at 08:25."""
    n = seq or Seq()
    return [
        delivery_event(
            "delivery.created",
            delivery,
            0,
            n(),
            device="pharmacy-system",
            order_id="PO-77",
            ward="ward-3a",
            destination="ward-3a",
            cabinet="cabinet-1",
            priority=priority,
            items=[{"gtin": PARACETAMOL, "quantity": 20}],
        ),
        delivery_event(
            "delivery.accepted", delivery, 1, n(), robot="robot-1", order_id="vda-1", destination="ward-3a", drawer="A"
        ),
        delivery_event("delivery.loaded", delivery, 4, n(), robot="robot-1", drawer="A", badge="P-1001"),
        delivery_event("delivery.departed", delivery, 5, n(), robot="robot-1", node="pharmacy"),
        delivery_event("delivery.arrived", delivery, 15, n(), robot="robot-1", node="ward-3a"),
        delivery_event("delivery.handed_over", delivery, 20, n(), robot="robot-1", drawer="A", badge="N-40217"),
        delivery_event("delivery.stocked", delivery, 25, n(), device="pharmacy-system", cabinet="cabinet-1"),
    ]


def as_stored(event: Event) -> StoredEvent:
    """The event as the store hands it to a fold (data as JSON, like the events table keeps it)."""
    assert event.received_at is not None
    return StoredEvent(
        id=event.id,
        seq=event.seq,
        type=event.type,
        occurred_at=event.occurred_at,
        received_at=event.received_at,
        site=event.site,
        edge=event.edge,
        device=event.device,
        data=event.model_dump(mode="json")["data"],
    )


def robot_event(type_: str, robot: str, minute: float, seq: int, **data: Any) -> Event:
    """A robot's health event as its edge reports it (device.online, device.status_changed with its task...)."""
    event = new_event(
        type_,  # type: ignore[arg-type]
        seq=seq,
        site=SITE,
        edge=EDGE,
        device=robot,
        subject=Subject(kind="device", id=robot),
        occurred_at=T0 + timedelta(minutes=minute),
        data=data,
    )
    return event.model_copy(update={"received_at": event.occurred_at + timedelta(seconds=1)})
