"""Root causes: a device fault, or a sorter or tube system offline, as one alert saying what it holds.

- A blocked tube zone holds the carriers of that tube system on their way to or from the zone (by the reference
  data's station zones) and any of its carriers in transit longer than `carrier_transit_minutes` since the block.
- An offline tube system holds every carrier in transit on it.
- A sorter with a fault (jam, door open, ...) or offline holds the specimens waiting at it: scanned by it and not
  sorted, or arrived at a station and not yet through a sorter.

The carrier.lost, specimen.at_risk and specimen.overdue conditions about what a root cause holds are not raised
by themselves: `group_under_root_causes` lists them in the root cause's `children`, so one blocked zone is one
alert, not thirty. Only sorters and tube systems hold anything; other devices' offline alerts stay as they are.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from gateway.alerts.inputs import CarrierTrip, Condition, Snapshot
from gateway.alerts.text import clock_time
from gateway.rules import TrackingRules
from gateway.rules.alerting import SEVERITY_RANK, Severity
from gateway.tracking.specimens.fold import SpecimenRow

HOLDING_TYPES = frozenset({"sorter", "tube_system"})
"""Device types whose fault or absence holds carriers or specimens."""
CRITICAL_FAULTS = frozenset({"jam", "zone_blocked"})
"""Fault codes that are critical whatever severity the device reports (nothing passes until they clear)."""
EXPLAINED_KINDS = frozenset({"carrier.lost", "specimen.at_risk", "specimen.overdue"})
"""Kinds a root cause takes as its children when it holds their subject."""
ROOT_KINDS = ("device.fault", "device.offline")
"""The kinds of root-cause alerts (only a sorter's or tube system's `device.offline` is one)."""
ZONE_BLOCKED = "zone_blocked"
OFFLINE = "offline"
_SORTER_FAULTS = {"jam": "jammed", "door_open": "door open", "maintenance": "in maintenance"}


@dataclass(frozen=True, slots=True)
class RootCause:
    """A root-cause condition (without its children yet) and the subjects it holds."""

    condition: Condition
    carriers: tuple[str, ...]
    """Subjects (`carrier#transaction`) of the carrier trips it holds."""
    specimens: tuple[str, ...]
    """Barcodes of the specimens it holds."""


@dataclass(frozen=True, slots=True)
class _Cause:
    kind: str
    site: str
    device: str
    device_type: str
    fault: str
    component: str | None
    since: datetime
    severity: Severity
    note: str | None


def root_causes(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> list[RootCause]:
    """Every fault of a sorter or tube system (info faults aside) and every one offline past its grace."""
    offline = list(_offline(snapshot, rules, now))
    # A device offline says nothing new of its faults (the last it reported may be long gone): the offline is the cause.
    silent = {(c.site, c.device) for c in offline}
    causes = [*(f for f in _faults(snapshot) if (f.site, f.device) not in silent), *offline]
    sorters = Counter(d.site for d in snapshot.devices if d.device_type == "sorter")
    limit = rules.alerts.thresholds(device_type="tube_system").minutes("carrier_transit_minutes")
    held_trips = _assign_trips(causes, snapshot, limit, now)
    rows = {(r.site, r.barcode): r for r in snapshot.specimens}
    found = []
    for n, cause in enumerate(causes):
        trips = held_trips.get(n, [])
        barcodes = list(dict.fromkeys(b for t in trips for b in t.specimens))
        if cause.device_type == "sorter":
            waiting = _waiting_at(cause, snapshot.specimens, only_sorter=sorters[cause.site] <= 1)
            barcodes += [r.barcode for r in waiting if r.barcode not in barcodes]
        stat_trips = {b for t in trips if t.priority == "stat" for b in t.specimens}
        stat = [b for b in barcodes if _is_stat(rows.get((cause.site, b)), b in stat_trips)]
        found.append(
            RootCause(_condition(cause, trips, barcodes, stat), tuple(t.subject for t in trips), tuple(barcodes))
        )
    return found


def group_under_root_causes(causes: Sequence[RootCause], conditions: Iterable[Condition]) -> list[Condition]:
    """The root causes with the conditions they explain as children, then every condition none explains."""
    owner: dict[tuple[str, str, str], int] = {}
    for n, cause in enumerate(causes):
        site = cause.condition.site
        for subject in cause.carriers:
            owner.setdefault((site, "carrier", subject), n)
        for barcode in cause.specimens:
            owner.setdefault((site, "specimen", barcode), n)
    children: list[list[Condition]] = [[] for _ in causes]
    rest = []
    for condition in conditions:
        explained_by = owner.get((condition.site, condition.subject_kind, condition.subject_id))
        if condition.kind in EXPLAINED_KINDS and explained_by is not None:
            children[explained_by].append(condition)
        else:
            rest.append(condition)
    return [_with_children(cause.condition, kids) for cause, kids in zip(causes, children, strict=True)] + rest


def _with_children(condition: Condition, children: list[Condition]) -> Condition:
    ordered = sorted(children, key=lambda c: c.key)
    severity = max([condition.severity, *(c.severity for c in ordered)], key=SEVERITY_RANK.__getitem__)
    listed = [
        {
            "key": c.key,
            "kind": c.kind,
            "subject_kind": c.subject_kind,
            "subject_id": c.subject_id,
            "severity": c.severity,
        }
        for c in ordered
    ]
    return replace(condition, severity=severity, details={**condition.details, "children": listed})


def _faults(snapshot: Snapshot) -> Iterable[_Cause]:
    for f in snapshot.faults:
        if f.device_type not in HOLDING_TYPES or f.severity == "info":
            continue
        severity: Severity = "critical" if f.code in CRITICAL_FAULTS else f.severity
        yield _Cause(
            "device.fault", f.site, f.device, f.device_type, f.code, f.component, f.since, severity, f.description
        )


def _offline(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> Iterable[_Cause]:
    for d in snapshot.devices:
        if d.device_type not in HOLDING_TYPES or d.state != OFFLINE or d.since is None:
            continue
        if now - d.since <= rules.alerts.thresholds(device_type=d.device_type).minutes("offline_grace_minutes"):
            continue
        yield _Cause(
            "device.offline", d.site, d.device, d.device_type, OFFLINE, None, d.since, "critical", d.offline_reason
        )


def _assign_trips(
    causes: Sequence[_Cause], snapshot: Snapshot, limit: timedelta, now: datetime
) -> dict[int, list[CarrierTrip]]:
    """Each open trip to the one cause that holds it: its stations' zone blocked first, then its tube system offline,
    then the earliest block it has been in transit too long under."""
    held: dict[int, list[CarrierTrip]] = {}
    trips = sorted(snapshot.carrier_trips, key=lambda t: (t.dispatched_at or now, t.subject))
    for trip in trips:
        if trip.arrived_at is not None or trip.dispatched_at is None or trip.dispatched_at > now:
            continue
        zones = {snapshot.station_zones.get(s or "") for s in (trip.from_station, trip.to_station)}
        claims = []
        for n, cause in enumerate(causes):
            if (cause.site, cause.device) != (trip.site, trip.device) or trip.dispatched_at <= cause.since - limit:
                continue
            if cause.fault == ZONE_BLOCKED and cause.component in zones:
                claims.append((0, cause.since, n))
            elif cause.fault == OFFLINE:
                claims.append((1, cause.since, n))
            elif cause.fault == ZONE_BLOCKED and now - trip.dispatched_at > limit:
                claims.append((2, cause.since, n))
        if claims:
            held.setdefault(min(claims)[2], []).append(trip)
    return held


def _waiting_at(cause: _Cause, specimens: Iterable[SpecimenRow], *, only_sorter: bool) -> list[SpecimenRow]:
    """Specimens not yet through the sorter: scanned by it and not sorted, or (where it is the site's only sorter,
    so every tube that arrives is for it) arrived at a station."""
    waiting = [
        r
        for r in specimens
        if r.site == cause.site
        and r.resulted_at is None
        and r.lab_received_at is None
        and ((r.status == "arrived" and only_sorter) or (r.status == "scanned" and r.device == cause.device))
    ]
    return sorted(waiting, key=lambda r: (r.last_event_at, r.barcode))


def _is_stat(row: SpecimenRow | None, in_stat_carrier: bool) -> bool:
    return row.priority == "stat" if row is not None and row.priority is not None else in_stat_carrier


def _condition(cause: _Cause, trips: Sequence[CarrierTrip], barcodes: Sequence[str], stat: Sequence[str]) -> Condition:
    what, reason = _what(cause)
    stat_text = f" ({len(stat)} STAT)" if stat else ""
    if cause.device_type == "tube_system":
        held = f"{_count(len(trips), 'carrier')} and {_count(len(barcodes), 'specimen')} held{stat_text}"
    else:
        held = f"{_count(len(barcodes), 'specimen')} waiting at it{stat_text}"
    if cause.fault == OFFLINE:
        message = f"{what} since {clock_time(cause.since)}{f': {cause.note}' if cause.note else ''}; {held}"
    else:
        message = f"{what} since {clock_time(cause.since)}: {held}"
    details: dict[str, Any] = {
        "device": cause.device,
        "device_type": cause.device_type,
        "fault": cause.fault,
        "component": cause.component,
        "zone": cause.component if cause.fault == ZONE_BLOCKED else None,
        "since": cause.since.isoformat(),
        "reason": cause.note,
        "held_reason": reason,
        "carriers": list(dict.fromkeys(t.carrier for t in trips)),
        "specimens": list(barcodes),
        "stat_specimens": list(stat),
        "stat_count": len(stat),
        "children": [],
    }
    return Condition(
        kind=cause.kind,
        severity=cause.severity,
        site=cause.site,
        subject_kind="device",
        subject_id=cause.device,
        ward=None,
        message=message,
        details=details,
        episode=None
        if cause.kind == "device.offline"
        else f"{cause.fault}@{cause.component or ''}@{cause.since.isoformat()}",
    )


def _what(cause: _Cause) -> tuple[str, str]:
    """The message's opening and the short reason a held specimen shows (`zone zone-b blocked`)."""
    if cause.fault == OFFLINE:
        return f"Device {cause.device} ({cause.device_type.replace('_', ' ')}) offline", f"{cause.device} offline"
    if cause.fault == ZONE_BLOCKED and cause.component:
        return f"Tube zone {cause.component} ({cause.device}) blocked", f"zone {cause.component} blocked"
    if cause.device_type == "sorter":
        state = _SORTER_FAULTS.get(cause.fault, f"fault {cause.fault}")
        return f"Sorter {cause.device} {state}", f"{cause.device} {state}"
    at = f" at {cause.component}" if cause.component else ""
    return f"Tube system {cause.device} fault {cause.fault}{at}", f"{cause.device} fault {cause.fault}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
