"""Delivery-guarantee alert conditions (pure): outbox filling, sequence gaps, tampered event ids.

- `edge.outbox_filling`: the edge's latest report says its outbox is at least `outbox_warning_percent` full
  (warning) or `outbox_critical_percent` (critical; the open alert escalates); clears when it drains below.
- `edge.sequence_gap`: the edge's sequence has had holes for longer than `sequence_gap_minutes`; names the ranges;
  clears when they are filled.
- `event.tampered`: an id came again with another body; critical, one per id (the id is the episode), stays until
  acknowledged (see `STICKY_KINDS`).
"""

from collections.abc import Iterator
from datetime import datetime

from gateway.alerts.inputs import Condition, Snapshot
from gateway.alerts.text import clock_time, minutes_text
from gateway.ingest.sequences import ranges_text
from gateway.rules import TrackingRules


def outbox_conditions(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> Iterator[Condition]:
    limits = rules.alerts.thresholds()
    for fill in snapshot.outboxes:
        percent = 100 * fill.bytes / fill.max_bytes if fill.max_bytes > 0 else 100.0
        if percent < limits.outbox_warning_percent:
            continue
        critical = percent >= limits.outbox_critical_percent
        age = (
            f"; the oldest unacknowledged event waits {minutes_text(fill.reported_at - fill.oldest_created_at)}"
            if fill.oldest_created_at is not None
            else ""
        )
        refused = f"; {fill.refused} event(s) refused to the dead-letter topic" if fill.refused else ""
        yield Condition(
            kind="edge.outbox_filling",
            severity="critical" if critical else "warning",
            site=fill.site,
            subject_kind="edge",
            subject_id=fill.edge,
            ward=None,
            message=f"Edge {fill.edge} at {fill.site}: outbox {percent:.0f} % full ({fill.depth} events, "
            f"{fill.bytes} of {fill.max_bytes} bytes) at {clock_time(fill.reported_at)}{age}{refused}",
            details={
                "edge": fill.edge,
                "percent": round(percent, 1),
                "depth": fill.depth,
                "bytes": fill.bytes,
                "max_bytes": fill.max_bytes,
                "oldest_created_at": fill.oldest_created_at.isoformat() if fill.oldest_created_at else None,
                "oldest_age_s": (fill.reported_at - fill.oldest_created_at).total_seconds()
                if fill.oldest_created_at
                else None,
                "refused": fill.refused,
                "reported_at": fill.reported_at.isoformat(),
            },
        )


def gap_conditions(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> Iterator[Condition]:
    after = rules.alerts.thresholds().minutes("sequence_gap_minutes")
    for gap in snapshot.sequence_gaps:
        if not gap.missing or now - gap.since <= after:
            continue
        count = sum(high - low + 1 for low, high in gap.missing)
        yield Condition(
            kind="edge.sequence_gap",
            severity="warning",
            site=gap.site,
            subject_kind="edge",
            subject_id=gap.edge,
            ward=None,
            message=f"Edge {gap.edge} at {gap.site}: {count} event(s) missing from its sequence since "
            f"{clock_time(gap.since)} (seq {ranges_text(gap.missing)}); the gateway asked for them again",
            details={
                "edge": gap.edge,
                "missing": [list(r) for r in gap.missing[:100]],
                "count": count,
                "since": gap.since.isoformat(),
            },
        )


def tamper_conditions(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> Iterator[Condition]:
    for item in snapshot.tampered:
        yield Condition(
            kind="event.tampered",
            severity="critical",
            site=item.site,
            subject_kind="event",
            subject_id=item.event_id,
            ward=None,
            message=f"Event {item.event_id} from edge {item.edge} arrived again with a different body "
            f"({item.attempts} time(s) since {clock_time(item.first_seen_at)}); rejected, the stored one stands",
            details={
                "event_id": item.event_id,
                "edge": item.edge,
                "attempts": item.attempts,
                "first_seen_at": item.first_seen_at.isoformat(),
            },
            episode=item.event_id,
        )


def reliability_conditions(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> Iterator[Condition]:
    yield from outbox_conditions(snapshot, rules, now)
    yield from gap_conditions(snapshot, rules, now)
    yield from tamper_conditions(snapshot, rules, now)
