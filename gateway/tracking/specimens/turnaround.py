"""Turnaround time: each specimen's legs, whether it will make its target, and figures over many specimens.

Pure functions over `SpecimenRow`s and the rules in force; "now" is always passed in (the gateway's clock), so
simulations and tests decide what time it is. The alert engine calls `outlook` to raise at-risk alerts while
there is still time to act.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil
from typing import Literal

from gateway.rules import TrackingRules
from gateway.tracking.specimens.fold import SpecimenRow

LegName = Literal["collection_to_dispatch", "transit", "arrival_to_sorted", "arrival_to_result", "total"]
LEGS: tuple[LegName, ...] = ("collection_to_dispatch", "transit", "arrival_to_sorted", "arrival_to_result", "total")

OutlookState = Literal["met", "missed", "on_track", "tight", "at_risk", "overdue", "untargeted"]
"""`tight`: predicted on time, with less slack than the rules' `turnaround.amber_slack_minutes`."""
GroupBy = Literal["priority", "ward", "hour", "category"]


@dataclass(frozen=True, slots=True)
class Leg:
    name: LegName
    start: datetime | None
    end: datetime | None
    seconds: int | None
    """None until both ends happened."""


@dataclass(frozen=True, slots=True)
class Outlook:
    """Will the specimen make its target: `predicted_at` is when its result is expected (or came)."""

    state: OutlookState
    due_at: datetime | None
    predicted_at: datetime | None
    slack_s: int | None
    """due_at - predicted_at: negative when the prediction (or the result) is late."""


def legs(row: SpecimenRow) -> list[Leg]:
    """The specimen's legs: collection -> dispatch, transit, arrival -> sorted, arrival -> result, and total."""
    ends = {
        "collection_to_dispatch": (row.collected_at, row.dispatched_at),
        "transit": (row.dispatched_at, row.arrived_at),
        "arrival_to_sorted": (row.arrived_at, row.sorted_at),
        "arrival_to_result": (row.arrived_at, row.resulted_at),
        "total": (row.collected_at, row.resulted_at),
    }
    result = []
    for name in LEGS:
        start, end = ends[name]
        seconds = round((end - start).total_seconds()) if start is not None and end is not None else None
        result.append(Leg(name, start, end, seconds))
    return result


def _milestone(row: SpecimenRow) -> tuple[int, datetime]:
    """How far the specimen got (0 collected, 1 dispatched, 2 at the lab, 3 sorted or received) and since when."""
    status = row.status
    if status in ("sorted", "received"):
        return 3, row.sorted_at or row.lab_received_at or row.last_event_at
    if status in ("arrived", "scanned", "rejected"):
        return 2, row.arrived_at or row.last_event_at
    if status == "in_transit":
        return 1, row.dispatched_at or row.last_event_at
    return 0, row.collected_at or row.first_seen_at


def predicted_result(row: SpecimenRow, rules: TrackingRules, now: datetime) -> datetime:
    """When the result should come: the current leg's expected end (not before now) plus the legs still to go."""
    if row.resulted_at is not None:
        return row.resulted_at
    expected = rules.turnaround.expected_legs
    after = [
        expected.collection_to_dispatch,  # leaving milestone 0
        expected.transit,
        expected.arrival_to_sorted,
        expected.to_result(row.category),
    ]
    reached, since = _milestone(row)
    current_end = since + timedelta(minutes=after[reached])
    return max(now, current_end) + timedelta(minutes=sum(after[reached + 1 :]))


def outlook(row: SpecimenRow, rules: TrackingRules, now: datetime) -> Outlook:
    """Met or missed once resulted; before that overdue (past due), at risk (predicted late), tight (on time with
    less slack than `amber_slack_minutes`), or on track."""
    due = row.due_at
    if due is None:  # nothing to make (no collection reported): no prediction either, only the result if any
        return Outlook(state="untargeted", due_at=None, predicted_at=row.resulted_at, slack_s=None)
    predicted = predicted_result(row, rules, now)
    slack = round((due - predicted).total_seconds())
    state: OutlookState
    if row.resulted_at is not None:
        made_it = row.within_target if row.within_target is not None else row.resulted_at <= due
        state = "met" if made_it else "missed"
    elif now > due:
        state = "overdue"
    elif predicted > due:
        state = "at_risk"
    elif slack < rules.turnaround.amber_slack_minutes * 60:
        state = "tight"
    else:
        state = "on_track"
    return Outlook(state=state, due_at=due, predicted_at=predicted, slack_s=slack)


# -- figures over many specimens -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LegFigures:
    leg: LegName
    count: int
    p50_s: int | None
    p90_s: int | None


@dataclass(frozen=True, slots=True)
class Figures:
    """Turnaround over one group of resulted specimens."""

    key: str | None
    """The group's value (a priority, a ward, an hour "07", a category); None for the overall figures."""
    count: int
    p50_s: int | None
    p90_s: int | None
    targeted: int
    """How many had a target; `within_target` is the share of these that made it."""
    within_target: float | None
    legs: tuple[LegFigures, ...]


@dataclass(frozen=True, slots=True)
class TurnaroundReport:
    overall: Figures
    groups: tuple[Figures, ...]


def percentile(values: Sequence[int], p: float) -> int | None:
    """The nearest-rank percentile (an observed value, the same whatever order the values come in)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(ceil(p / 100 * len(ordered)), 1) - 1]


def figures(rows: Iterable[SpecimenRow], key: str | None = None) -> Figures:
    """Count, p50, p90 and share within target of the resulted specimens among `rows`, and the same per leg."""
    done = [r for r in rows if r.tat_s is not None]
    tats = [r.tat_s for r in done if r.tat_s is not None]
    targeted = [r.within_target for r in done if r.within_target is not None]
    per_leg: dict[LegName, list[int]] = defaultdict(list)
    for row in done:
        for leg in legs(row):
            if leg.seconds is not None:
                per_leg[leg.name].append(leg.seconds)
    return Figures(
        key=key,
        count=len(done),
        p50_s=percentile(tats, 50),
        p90_s=percentile(tats, 90),
        targeted=len(targeted),
        within_target=sum(targeted) / len(targeted) if targeted else None,
        legs=tuple(
            LegFigures(name, len(per_leg[name]), percentile(per_leg[name], 50), percentile(per_leg[name], 90))
            for name in LEGS
        ),
    )


def group_key(row: SpecimenRow, group_by: GroupBy) -> str | None:
    if group_by == "hour":
        return f"{row.collected_at:%H}" if row.collected_at is not None else None  # UTC hour of collection
    value: str | None = getattr(row, group_by)
    return value


def aggregate(rows: Iterable[SpecimenRow], group_by: GroupBy | None = None) -> TurnaroundReport:
    """Figures over all resulted rows, and per group when `group_by` is given (groups in key order)."""
    done = [r for r in rows if r.tat_s is not None]
    groups: dict[str | None, list[SpecimenRow]] = defaultdict(list)
    if group_by is not None:
        for row in done:
            groups[group_key(row, group_by)].append(row)
    ordered = sorted(groups.items(), key=lambda item: (item[0] is None, item[0] or ""))
    return TurnaroundReport(overall=figures(done), groups=tuple(figures(g, key) for key, g in ordered))
