"""A ward cabinet as a pure fold: door, active alarms, last access and stock; any order of the events, same result.

Events are folded in the order they happened (then the edge's sequence number, then the id: a total order). Stock
per bin, GTIN and lot is the last `inventory_reported` snapshot plus every item movement after it: a removal takes
away, a return or a restock adds. Before any snapshot the movements alone count, and a line never goes below zero
(the next snapshot puts it right).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from gateway.storage.stored_event import StoredEvent

DoorState = Literal["open", "closed", "unknown"]

DOOR_EVENTS = frozenset({"cabinet.door_opened", "cabinet.door_closed"})
MOVEMENTS: Mapping[str, int] = {
    "cabinet.item_removed": -1,
    "cabinet.item_returned": 1,
    "cabinet.item_restocked": 1,
}
ACCESS_EVENTS = DOOR_EVENTS | frozenset(MOVEMENTS)
"""Who opened the cabinet and what they took, returned or put in."""
INVENTORY = "cabinet.inventory_reported"

StockKey = tuple[str, str, str]
"""(bin, gtin, lot)."""


@dataclass(frozen=True, slots=True)
class StockLine:
    """What one bin holds of one lot of one item."""

    bin: str
    gtin: str
    lot: str
    expiry: date
    quantity: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ActiveAlarm:
    alarm: str
    since: datetime
    detail: str
    badge: str | None


@dataclass(frozen=True, slots=True)
class CabinetRow:
    site: str
    cabinet: str
    door: DoorState
    door_since: datetime | None
    alarms: tuple[ActiveAlarm, ...]
    last_access_at: datetime | None
    last_access_by: str | None
    inventory_at: datetime | None
    """When the last full inventory snapshot was taken; None before the first one."""
    last_event_at: datetime
    event_count: int


@dataclass(frozen=True, slots=True)
class CabinetState:
    row: CabinetRow
    stock: tuple[StockLine, ...]
    """Sorted by bin, GTIN and lot; lines emptied by removals stay, at quantity 0."""


def cabinet_order(event: StoredEvent) -> tuple[datetime, int, str]:
    """Sort key for a cabinet's events: a total order that does not depend on arrival."""
    return (event.occurred_at, event.seq, str(event.id))


def _expiry(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _line(item: Mapping[str, Any], quantity: int, at: datetime) -> StockLine:
    return StockLine(item["bin"], item["gtin"], item["lot"], _expiry(item["expiry"]), quantity, at)


def fold_stock(events: Iterable[StoredEvent]) -> dict[StockKey, StockLine]:
    """Stock per (bin, gtin, lot) from a cabinet's events (already in `cabinet_order`, each id once)."""
    stock: dict[StockKey, StockLine] = {}
    for event in events:
        if event.type == INVENTORY:
            stock = {}
            for item in event.data.get("bins", ()):
                key = (item["bin"], item["gtin"], item["lot"])
                # A snapshot names each line once; should it repeat one, the quantities add up.
                held = stock[key].quantity if key in stock else 0
                stock[key] = _line(item, held + item["quantity"], event.occurred_at)
        elif (sign := MOVEMENTS.get(event.type)) is not None:
            data = event.data
            key = (data["bin"], data["gtin"], data["lot"])
            held = stock[key].quantity if key in stock else 0
            stock[key] = _line(data, max(0, held + sign * data["quantity"]), event.occurred_at)
    return stock


def fold_cabinet(site: str, cabinet: str, events: Iterable[StoredEvent]) -> CabinetState | None:
    """The cabinet's state from all of its events; None when there are none."""
    ordered = sorted({e.id: e for e in events}.values(), key=cabinet_order)
    if not ordered:
        return None
    door: DoorState = "unknown"
    door_since: datetime | None = None
    alarms: dict[str, ActiveAlarm] = {}
    access: StoredEvent | None = None
    inventory_at: datetime | None = None
    for event in ordered:
        data = event.data
        if event.type in DOOR_EVENTS:
            state: DoorState = "open" if event.type == "cabinet.door_opened" else "closed"
            if state != door:
                door, door_since = state, event.occurred_at
        elif event.type == "cabinet.alarm_raised":
            # Raised again while active: the same alarm, active since the first raise.
            earlier = alarms.get(data["alarm"])
            since = earlier.since if earlier else event.occurred_at
            alarms[data["alarm"]] = ActiveAlarm(data["alarm"], since, data.get("detail", ""), data.get("badge"))
        elif event.type == "cabinet.alarm_cleared":
            alarms.pop(data["alarm"], None)
        elif event.type == INVENTORY:
            inventory_at = event.occurred_at
        if event.type in ACCESS_EVENTS and event.type != "cabinet.door_closed":
            access = event
    stock = fold_stock(ordered)
    row = CabinetRow(
        site=site,
        cabinet=cabinet,
        door=door,
        door_since=door_since,
        alarms=tuple(sorted(alarms.values(), key=lambda a: (a.since, a.alarm))),
        last_access_at=access.occurred_at if access else None,
        last_access_by=access.data.get("badge") if access else None,
        inventory_at=inventory_at,
        last_event_at=ordered[-1].occurred_at,
        event_count=len(ordered),
    )
    return CabinetState(row=row, stock=tuple(stock[key] for key in sorted(stock)))
