"""Device health as a pure fold: the same device events in any order give the same row.

Events are folded in health order (when they happened, then the edge's sequence number, then the id), so a late
event that happened earlier slots in before the later ones and the state never regresses. `last_seen_at` is a
maximum over everything heard from the device (any event, any telemetry), which is order-independent by nature.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from gateway.storage.stored_event import StoredEvent

DeviceState = Literal["online", "offline", "unknown"]

DEVICE_EVENT_TYPES = frozenset(
    {"device.online", "device.offline", "device.status_changed", "device.fault_raised", "device.fault_cleared"}
)


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    component: str
    status: str
    since: datetime


@dataclass(frozen=True, slots=True)
class ActiveFault:
    code: str
    component: str | None
    severity: str
    description: str
    since: datetime


@dataclass(frozen=True, slots=True)
class DeviceRow:
    site: str
    device: str
    edge: str
    state: DeviceState
    since: datetime | None
    """When the device entered `state`; None while the state is unknown."""
    last_seen_at: datetime
    status: str | None
    """The device's own status word (a status change without a component); None until one arrives."""
    components: tuple[ComponentStatus, ...]
    faults: tuple[ActiveFault, ...]
    offline_reason: str | None
    last_event_at: datetime | None
    """When the latest device-health event happened; None when only other events or telemetry were seen."""
    event_count: int


def health_order(event: StoredEvent) -> tuple[datetime, int, str]:
    """Sort key for a device's health events: a total order that does not depend on arrival."""
    return (event.occurred_at, event.seq, str(event.id))


def unknown_device(site: str, device: str, edge: str, last_seen_at: datetime) -> DeviceRow:
    """A device heard from (telemetry, other events) before any health event about it."""
    return DeviceRow(
        site=site,
        device=device,
        edge=edge,
        state="unknown",
        since=None,
        last_seen_at=last_seen_at,
        status=None,
        components=(),
        faults=(),
        offline_reason=None,
        last_event_at=None,
        event_count=0,
    )


def fold_device(
    site: str, device: str, events: Iterable[StoredEvent], last_seen_at: datetime | None = None
) -> DeviceRow | None:
    """The device's row from all of its health events; None when none of them is a device event."""
    ordered = sorted((e for e in events if e.type in DEVICE_EVENT_TYPES), key=health_order)
    if not ordered:
        return None
    state: DeviceState = "unknown"
    since: datetime | None = None
    reason: str | None = None
    status: str | None = None
    components: dict[str, ComponentStatus] = {}
    faults: dict[tuple[str | None, str], ActiveFault] = {}
    for event in ordered:
        data: Mapping[str, Any] = event.data
        if event.type in ("device.online", "device.offline"):
            new_state: DeviceState = "online" if event.type == "device.online" else "offline"
            if new_state != state:
                state, since = new_state, event.occurred_at
            reason = data.get("reason") if new_state == "offline" else None
        elif event.type == "device.status_changed":
            component = data.get("component")
            if component is None:
                status = data["status"]
            elif component not in components or components[component].status != data["status"]:
                components[component] = ComponentStatus(component, data["status"], event.occurred_at)
        elif event.type == "device.fault_raised":
            key = (data.get("component"), data["code"])
            earlier = faults.get(key)
            # A fault raised again while active is the same fault: it has been active since the first raise.
            faults[key] = ActiveFault(
                code=data["code"],
                component=data.get("component"),
                severity=data.get("severity", "warning"),
                description=data.get("description", ""),
                since=earlier.since if earlier else event.occurred_at,
            )
        else:
            faults.pop((data.get("component"), data["code"]), None)
    last = ordered[-1]
    seen = max(last.occurred_at, last_seen_at) if last_seen_at else last.occurred_at
    return DeviceRow(
        site=site,
        device=device,
        edge=last.edge,
        state=state,
        since=since,
        last_seen_at=seen,
        status=status,
        components=tuple(sorted(components.values(), key=lambda c: c.component)),
        faults=tuple(sorted(faults.values(), key=lambda f: (f.since, f.component or "", f.code))),
        offline_reason=reason,
        last_event_at=last.occurred_at,
        event_count=len(ordered),
    )
