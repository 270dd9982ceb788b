"""Delivery-guarantee alert conditions (pure): outbox filling, sequence gaps, tampered event ids.

- `edge.outbox_filling`: the edge's latest report says its outbox is at least `outbox_warning_percent` full
  (warning) or `outbox_critical_percent` (critical; the open alert escalates); clears when it drains below.
- `edge.sequence_gap`: the edge's sequence has had holes for longer than `sequence_gap_minutes`; names the ranges;
  clears when they are filled.
- `event.tampered`: ids came again with another body; critical, one open alert per edge whatever the number of ids
  (count, attempts and ids in its details, kept current while it is open: `REFRESHED_KINDS`), stays until
  acknowledged (see `STICKY_KINDS`); attempts seen before the last acknowledgement raise nothing again.
"""

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from gateway.alerts.inputs import Condition, Snapshot, TamperedEvent
from gateway.alerts.text import clock_time, minutes_text
from gateway.ingest.sequences import ranges_text
from gateway.rules import TrackingRules

MAX_IDS = 100
"""Tampered ids listed in one alert's details (`events` counts them all)."""


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
    """One alert per edge, however many ids were tampered with: the count and the ids are in its details."""
    by_edge: dict[tuple[str, str], list[TamperedEvent]] = defaultdict(list)
    for item in snapshot.tampered:
        dealt_with = snapshot.tamper_acknowledged.get((item.site, item.edge))
        if dealt_with is None or _last_seen(item) > dealt_with:
            by_edge[(item.site, item.edge)].append(item)
    for (site, edge), items in sorted(by_edge.items()):
        items.sort(key=lambda t: (t.first_seen_at, t.event_id))
        first = items[0].first_seen_at
        latest = max(_last_seen(t) for t in items)
        attempts = sum(t.attempts for t in items)
        yield Condition(
            kind="event.tampered",
            severity="critical",
            site=site,
            subject_kind="edge",
            subject_id=edge,
            ward=None,
            message=f"Edge {edge} at {site}: {len(items)} event id(s) arrived again with a different body "
            f"({attempts} attempt(s) since {clock_time(first)}, the latest at {clock_time(latest)}); rejected, the "
            "stored events stand",
            details={
                "edge": edge,
                "events": len(items),
                "attempts": attempts,
                "event_ids": [t.event_id for t in items[:MAX_IDS]],
                "first_seen_at": first.isoformat(),
                "last_seen_at": latest.isoformat(),
            },
        )


def _last_seen(item: TamperedEvent) -> datetime:
    return item.last_seen_at or item.first_seen_at


def reliability_conditions(snapshot: Snapshot, rules: TrackingRules, now: datetime) -> Iterator[Condition]:
    yield from outbox_conditions(snapshot, rules, now)
    yield from gap_conditions(snapshot, rules, now)
    yield from tamper_conditions(snapshot, rules, now)
