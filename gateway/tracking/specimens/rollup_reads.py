"""Turnaround figures over a window, read from the rollups: rows summed, histograms merged, percentiles from them.

A window [since, until) is cut into what the rollups hold whole and what they cannot answer (`cover`): the
partial hours at either end (less than an hour each) come from the specimens table, as before; the whole hours
from hour rows; when the window spans whole UTC days, those days from day rows, and only the hours around them
from hour rows. Per hour of day (`group_by=hour`) reads hour rows throughout. Of the rows of each period, only those
that keep what the figures are grouped or filtered by (`dimensions`), of the site asked for or else of the whole
network (`NETWORK`): so the rows read grow with the window's days and the groups that occur, never with the
specimens or the sites.

Counts and shares within target equal a computation over the specimens; p50 and p90 are the midpoints of the
buckets the nearest-rank values fall in (`histogram.precision`).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage.rollup_tables import turnaround_rollups
from gateway.tracking.specimens.fold import SpecimenRow
from gateway.tracking.specimens.rollups import (
    DAY,
    DIMENSIONS,
    HOUR,
    NETWORK,
    NONE,
    Tally,
    ceil_to,
    contribution,
    floor_to,
)
from gateway.tracking.specimens.store import resulted_between
from gateway.tracking.specimens.turnaround import GroupBy, TurnaroundReport, group_key
from gateway.tracking.wards import visible

Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class Cover:
    """How a window is read: `edges` from the specimens, `hours` from hour rows, `days` from day rows."""

    edges: tuple[Span, ...]
    hours: tuple[Span, ...]
    days: tuple[Span, ...]


def cover(since: datetime, until: datetime, *, by_hour: bool = False) -> Cover:
    """Cut [since, until) into partial hours at the ends, whole hours, and whole days (unless `by_hour`)."""
    first_hour, last_hour = ceil_to(since, HOUR), floor_to(until, HOUR)
    if first_hour >= last_hour:
        return Cover(edges=((since, until),), hours=(), days=())
    edges = tuple(span for span in ((since, first_hour), (last_hour, until)) if span[0] < span[1])
    first_day, last_day = ceil_to(first_hour, DAY), floor_to(last_hour, DAY)
    if by_hour or first_day >= last_day:
        return Cover(edges=edges, hours=((first_hour, last_hour),), days=())
    hours = tuple(span for span in ((first_hour, first_day), (last_day, last_hour)) if span[0] < span[1])
    return Cover(edges=edges, hours=hours, days=((first_day, last_day),))


def dimensions(group_by: GroupBy | None, wards: tuple[str, ...] | None) -> str:
    """The narrowest rows that answer: those that keep the grouped column, and the ward for a ward-scoped caller."""
    kept = {"ward": "w", "priority": "p", "category": "c"}.get(group_by or "", "")
    if wards is not None and "w" not in kept:
        kept = "w" + kept
    return kept if kept in DIMENSIONS else "wpc"


def _rollup_rows(
    plan: Cover, site: str | None, wards: tuple[str, ...] | None, group_by: GroupBy | None
) -> sa.Select[Any]:
    """The rollup rows of the plan's hours and days: their sums and the column they are grouped by."""
    t = turnaround_rollups.c
    dims = dimensions(group_by, wards)
    spans = [(HOUR, span) for span in plan.hours] + [(DAY, span) for span in plan.days]
    periods = [
        sa.and_(t.grain_s == grain, t.dims == dims, t.period >= start, t.period < end) for grain, (start, end) in spans
    ]
    group = {None: sa.null(), "hour": t.period, "priority": t.priority, "ward": t.ward, "category": t.category}
    query = sa.select(t.count, t.targeted, t.within_target, t.histograms, group[group_by].label("grouped_by"))
    query = query.where(sa.or_(*periods), t.site == (NETWORK if site is None else site))
    if wards is not None:
        query = query.where(t.ward.in_(wards))
    return query


def _rollup_key(row: Any, group_by: GroupBy | None) -> str | None:
    if group_by is None:
        return None
    if group_by == "hour":
        return f"{row.grouped_by:%H}"  # hour rows only: `cover` reads no day rows per hour
    value: str = row.grouped_by
    return value if value != NONE else None


class _Report:
    """The overall tally and one per group, as rows and specimens are added."""

    def __init__(self, group_by: GroupBy | None) -> None:
        self.group_by = group_by
        self.groups: dict[str | None, Tally] = {}
        """Per group (one, keyed None, without `group_by`); the overall tally is their sum."""

    def _group(self, key: str | None) -> Tally:
        found = self.groups.get(key)
        if found is None:
            found = self.groups[key] = Tally()
        return found

    def add_row(self, row: Any) -> None:
        self._group(_rollup_key(row, self.group_by)).add_stored(row)

    def add_specimen(self, row: SpecimenRow) -> None:
        counted = contribution(row)
        if counted is not None:
            key = group_key(row, self.group_by) if self.group_by is not None else None
            self._group(key).add_contribution(counted)

    def report(self) -> TurnaroundReport:
        overall = Tally()
        for tally in self.groups.values():
            overall.add(tally)
        if self.group_by is None:
            return TurnaroundReport(overall=overall.figures(None), groups=())
        ordered = sorted(
            ((k, t) for k, t in self.groups.items() if t.count > 0), key=lambda item: (item[0] is None, item[0] or "")
        )
        return TurnaroundReport(overall=overall.figures(None), groups=tuple(t.figures(k) for k, t in ordered))


async def rolled_up_turnaround(
    connection: AsyncConnection,
    since: datetime,
    until: datetime,
    *,
    site: str | None = None,
    group_by: GroupBy | None = None,
    wards: tuple[str, ...] | None = None,
) -> TurnaroundReport:
    """Figures over the specimens collected in [since, until) and resulted (those of `wards`, when given)."""
    plan = cover(since, until, by_hour=group_by == "hour")
    report = _Report(group_by)
    for start, end in plan.edges:
        for row in await resulted_between(connection, start, end, site):
            if visible(row.ward, wards):
                report.add_specimen(row)
    if plan.hours or plan.days:
        for stored in await connection.execute(_rollup_rows(plan, site, wards, group_by)):
            report.add_row(stored)
    return report.report()
