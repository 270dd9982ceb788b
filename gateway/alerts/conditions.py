"""Alert conditions as pure functions: rows + rules + now -> the set of conditions that hold now.

Specimens, carriers, deliveries, robots, devices and edges are here; cabinets in `cabinet_conditions`.
`active_conditions` is the one entry point: it drops disabled kinds, applies fixed severities, and keeps one
condition per key. Times in messages are UTC (`Z`); messages name barcodes, ids and badges, never people.
"""

import math
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta

from gateway.alerts.cabinet_conditions import cabinet_conditions
from gateway.alerts.inputs import Condition, Position, Snapshot
from gateway.alerts.reliability_conditions import reliability_conditions
from gateway.alerts.root_causes import HOLDING_TYPES, group_under_root_causes, root_causes
from gateway.alerts.text import clock_time, minutes_text
from gateway.ingest.presence import presence
from gateway.rules import TrackingRules
from gateway.rules.alerting import AlertRules, Severity
from gateway.tracking.specimens.turnaround import outlook

CLEARS_ON_ACKNOWLEDGEMENT = frozenset({"cabinet.discrepancy", "specimen.error_lane", "event.tampered"})
"""Kinds whose alert an acknowledgement clears (at once, or after `error_lane_clear_after_minutes`)."""
STICKY_KINDS = frozenset({"cabinet.discrepancy", "event.tampered"})
"""Kinds whose alert only acknowledgement clears: the removal dropping out of the lookback does not."""
ESCALATING_KINDS = frozenset({"edge.outbox_filling"})
"""Kinds whose open alert takes a higher severity when its condition gets worse (warning -> critical)."""
REFRESHED_KINDS = frozenset({"event.tampered", "device.fault", "device.offline"})
"""Kinds whose one open alert groups many occurrences: its message and details follow the condition while open
(a root cause's held carriers, specimens and children change while it lasts)."""

_REJECT_REASONS = {
    "no_read": "the sorter could not read the barcode",
    "unknown_order": "no order matches the barcode",
    "rack_full": "the output rack was full",
    "sorter_fault": "the sorter had a fault",
}


def active_conditions(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> list[Condition]:
    """Every condition that holds at `now`, one per key, in a stable order; what a root cause (a device fault or
    a sorter or tube system offline) explains is listed under it instead (`gateway.alerts.root_causes`)."""
    alerts = rules.alerts
    causes = [cause for cause in root_causes(snapshot, rules, now) if alerts.enabled(cause.condition.kind)]
    each = (c for family in _FAMILIES for c in family(snapshot, rules, now) if alerts.enabled(c.kind))
    found: dict[str, Condition] = {}
    for condition in group_under_root_causes(causes, each):
        fixed = alerts.severities.get(condition.kind)  # type: ignore[call-overload]  # Condition.kind is a str; a non-kind finds none
        if fixed is not None and fixed != condition.severity:
            condition = _with_severity(condition, fixed)
        found.setdefault(condition.key, condition)
    return sorted(found.values(), key=lambda c: c.key)


def clear_after_acknowledgement(kind: str, alerts: AlertRules, ward: str | None) -> timedelta | None:
    """How long after acknowledgement an alert of `kind` clears by itself; None: only when its condition goes."""
    if kind in ("cabinet.discrepancy", "event.tampered"):
        return timedelta(0)
    if kind == "specimen.error_lane":
        return alerts.thresholds(ward=ward).minutes("error_lane_clear_after_minutes")
    return None


def _with_severity(condition: Condition, severity: Severity) -> Condition:
    return Condition(
        kind=condition.kind,
        severity=severity,
        site=condition.site,
        subject_kind=condition.subject_kind,
        subject_id=condition.subject_id,
        ward=condition.ward,
        message=condition.message,
        details=condition.details,
        episode=condition.episode,
    )


# -- specimens -------------------------------------------------------------------------------------------------
def specimen_conditions(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> Iterator[Condition]:
    for row in snapshot.specimens:
        if row.status == "rejected":
            yield _error_lane(row.barcode, row.site, row.device, row.lane, row.reason, row.ward, row.last_event_at)
        if row.resulted_at is not None or row.due_at is None:
            continue
        thresholds = rules.alerts.thresholds(ward=row.ward)
        seen = outlook(row, rules, now)
        priority = row.priority or "routine"
        name = priority.upper() if priority == "stat" else priority
        where = _whereabouts(row.status, row.location, row.carrier)
        details = {
            "barcode": row.barcode,
            "priority": priority,
            "category": row.category,
            "status": row.status,
            "location": row.location,
            "carrier": row.carrier,
            "collected_at": _iso(row.collected_at),
            "due_at": _iso(seen.due_at),
            "predicted_at": _iso(seen.predicted_at),
            "slack_s": seen.slack_s,
        }
        severity: Severity = "critical" if priority == "stat" else "warning"
        if seen.state == "at_risk" and priority in thresholds.at_risk_priorities:
            late = _late_minutes(seen.due_at, seen.predicted_at)
            yield Condition(
                kind="specimen.at_risk",
                severity=severity,
                site=row.site,
                subject_kind="specimen",
                subject_id=row.barcode,
                ward=row.ward,
                message=f"{name} specimen {row.barcode}{_from_ward(row.ward)} is likely to miss its target: due "
                f"{clock_time(seen.due_at)}, expected {clock_time(seen.predicted_at)}{late}; {where}",
                details=details,
            )
        elif seen.state == "overdue" and priority in thresholds.overdue_priorities:
            yield Condition(
                kind="specimen.overdue",
                severity=severity,
                site=row.site,
                subject_kind="specimen",
                subject_id=row.barcode,
                ward=row.ward,
                message=f"{name} specimen {row.barcode}{_from_ward(row.ward)} is overdue: due "
                f"{clock_time(seen.due_at)} and not resulted; {where}",
                details=details,
            )


def _error_lane(
    barcode: str,
    site: str,
    device: str,
    lane: int | None,
    reason: str | None,
    ward: str | None,
    rejected_at: datetime,
) -> Condition:
    why = _REJECT_REASONS.get(reason or "", reason or "no reason given")
    in_lane = f" (lane {lane})" if lane is not None else ""
    return Condition(
        kind="specimen.error_lane",
        severity="warning",
        site=site,
        subject_kind="specimen",
        subject_id=barcode,
        ward=ward,
        message=f"Specimen {barcode} went to the error lane of {device}{in_lane} at {clock_time(rejected_at)}: "
        f"{why}; take it out and resolve it",
        details={
            "barcode": barcode,
            "device": device,
            "lane": lane,
            "reason": reason,
            "rejected_at": _iso(rejected_at),
        },
        episode=rejected_at.isoformat(),
    )


def _whereabouts(status: str, location: str | None, carrier: str | None) -> str:
    text = f"last {status.replace('_', ' ')}"
    if carrier and status in ("in_transit", "arrived"):
        text += f" in carrier {carrier}"
    if location:
        text += f" at {location}"
    return text


def _from_ward(ward: str | None) -> str:
    return f" from {ward}" if ward else ""


def _late_minutes(due: datetime | None, predicted: datetime | None) -> str:
    if due is None or predicted is None or predicted <= due:
        return ""
    return f" ({minutes_text(predicted - due)} late)"


# -- carriers --------------------------------------------------------------------------------------------------
def carrier_conditions(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> Iterator[Condition]:
    limit = rules.alerts.thresholds(device_type="tube_system").minutes("carrier_transit_minutes")
    for trip in snapshot.carrier_trips:
        if trip.dispatched_at is None or trip.arrived_at is not None or now - trip.dispatched_at <= limit:
            continue
        holds = (
            f"it holds {len(trip.specimens)} specimen(s): {', '.join(trip.specimens)}"
            if trip.specimens
            else "it holds no scanned specimens"
        )
        yield Condition(
            kind="carrier.lost",
            severity="critical" if trip.priority == "stat" or trip.specimens else "warning",
            site=trip.site,
            subject_kind="carrier",
            subject_id=trip.subject,
            ward=None,
            message=f"Carrier {trip.carrier} (transaction {trip.transaction}) sent from {trip.from_station or '?'} "
            f"to {trip.to_station or '?'} at {clock_time(trip.dispatched_at)} has not arrived after "
            f"{minutes_text(now - trip.dispatched_at)}; {holds}",
            details={
                "carrier": trip.carrier,
                "transaction": trip.transaction,
                "device": trip.device,
                "from_station": trip.from_station,
                "to_station": trip.to_station,
                "priority": trip.priority,
                "dispatched_at": _iso(trip.dispatched_at),
                "specimens": list(trip.specimens),
            },
        )


# -- deliveries and robots -------------------------------------------------------------------------------------
def delivery_conditions(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> Iterator[Condition]:
    stalled: dict[tuple[str, str], list[str]] = {}
    for d in snapshot.deliveries:
        if d.done:
            continue
        robot_at = f" with robot {d.robot}" if d.robot else ""
        if d.due_at is not None and now > d.due_at:
            yield Condition(
                kind="delivery.overdue",
                severity="critical" if d.priority == "stat" else "warning",
                site=d.site,
                subject_kind="delivery",
                subject_id=d.delivery,
                ward=d.ward,
                message=f"Delivery {d.delivery} (order {d.order_id or '?'}) for {d.ward or 'an unknown ward'} is "
                f"overdue: due {clock_time(d.due_at)}, still {d.status.replace('_', ' ')}{robot_at}",
                details={
                    "delivery": d.delivery,
                    "order_id": d.order_id,
                    "priority": d.priority,
                    "status": d.status,
                    "robot": d.robot,
                    "location": d.location,
                    "due_at": _iso(d.due_at),
                },
            )
        if d.robot is None or d.status == "created":
            continue
        thresholds = rules.alerts.thresholds(ward=d.ward, device_type="robot")
        window = thresholds.minutes("robot_no_progress_minutes")
        if now - d.last_event_at <= window:
            continue
        track = snapshot.robot_tracks.get((d.site, d.robot), ())
        if _moved(track, since=now - window, at_least_m=thresholds.robot_moved_m):
            continue
        stalled.setdefault((d.site, d.robot), []).append(d.delivery)
        if len(stalled[(d.site, d.robot)]) > 1:
            continue
        yield Condition(
            kind="robot.no_progress",
            severity="warning",
            site=d.site,
            subject_kind="device",
            subject_id=d.robot,
            ward=d.ward,
            message=f"Robot {d.robot} has made no progress with delivery {d.delivery} for "
            f"{minutes_text(now - d.last_event_at)}: last {d.status.replace('_', ' ')} at "
            f"{clock_time(d.last_event_at)}{f' at {d.location}' if d.location else ''}, and it has not moved since",
            details={
                "robot": d.robot,
                "delivery": d.delivery,
                "status": d.status,
                "location": d.location,
                "last_event_at": _iso(d.last_event_at),
            },
        )


def _moved(track: Sequence[Position], *, since: datetime, at_least_m: float) -> bool:
    """Whether the robot got at least `at_least_m` away from where it was at `since` (or first seen after)."""
    recent = sorted((p for p in track if p.at >= since), key=lambda p: p.at)
    if len(recent) < 2:
        return False
    start = recent[0]
    return any(math.hypot(p.x - start.x, p.y - start.y) >= at_least_m for p in recent[1:])


def battery_conditions(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> Iterator[Condition]:
    for (site, robot), reading in snapshot.batteries.items():
        limit = rules.alerts.thresholds(device_type="robot").battery_critical_percent
        if reading.value >= limit:
            continue
        yield Condition(
            kind="robot.battery_critical",
            severity="critical",
            site=site,
            subject_kind="device",
            subject_id=robot,
            ward=None,
            message=f"Robot {robot} battery at {reading.value:.0f} % (critical below {limit:g} %) at "
            f"{clock_time(reading.at)}; send it to charge",
            details={"robot": robot, "battery_percent": reading.value, "at": _iso(reading.at), "limit": limit},
        )


# -- devices and edges -----------------------------------------------------------------------------------------
def health_conditions(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> Iterator[Condition]:
    wards = {cabinet: rule.ward for cabinet, rule in rules.cabinets.items()}
    for device in snapshot.devices:
        if device.state != "offline" or device.since is None or device.device_type in HOLDING_TYPES:
            continue  # a sorter or tube system offline is a root cause (`gateway.alerts.root_causes`)
        ward = wards.get(device.device) if device.device_type == "cabinet" else None
        grace = rules.alerts.thresholds(ward=ward, device_type=device.device_type).minutes("offline_grace_minutes")
        if now - device.since <= grace:
            continue
        reason = f": {device.offline_reason}" if device.offline_reason else ""
        yield Condition(
            kind="device.offline",
            severity="warning",
            site=device.site,
            subject_kind="device",
            subject_id=device.device,
            ward=ward,
            message=f"Device {device.device} ({device.device_type.replace('_', ' ')}) offline since "
            f"{clock_time(device.since)}{reason}",
            details={
                "device": device.device,
                "device_type": device.device_type,
                "since": _iso(device.since),
                "reason": device.offline_reason,
            },
        )
    grace = rules.alerts.thresholds().minutes("offline_grace_minutes")
    for edge in snapshot.edges:
        if edge.state != "offline" or now - edge.since <= grace:
            continue
        if edge.recorded_at is not None and presence(edge.state, edge.recorded_at, edge.last_event_at, now).note:
            continue  # its events keep arriving after the offline state: a stale or foreign state, not a death
        yield Condition(
            kind="edge.offline",
            severity="critical",
            site=edge.site,
            subject_kind="edge",
            subject_id=edge.edge,
            ward=None,
            message=f"Edge agent {edge.edge} at {edge.site} offline since {clock_time(edge.since)}; "
            "none of its devices can report until it is back",
            details={"edge": edge.edge, "since": _iso(edge.since)},
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


_FAMILIES: tuple[Callable[[Snapshot, TrackingRules, datetime], Iterator[Condition]], ...] = (
    specimen_conditions,
    carrier_conditions,
    delivery_conditions,
    battery_conditions,
    cabinet_conditions,
    health_conditions,
    reliability_conditions,
)
