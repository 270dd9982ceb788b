"""Turnaround figures over a window, read from the rollups: rows summed, histograms merged, percentiles from them.

A window [since, until) is cut into what the rollups hold whole and what they cannot answer (`cover`): the partial
hours at either end from the specimens table, the whole hours from hour rows, and, when the window spans whole UTC
days, those days from day rows and only the hours around them from hour rows. Each end is rounded to the nearer
boundary: a window from 10:10 reads the hour row of 10:00 and takes out the specimens of 10:00-10:10 rather than
reading 10:10-11:00's, and one from 04:00 reads the day row and takes out the four hours before. So at most half an
hour of specimens and twelve hours of rows are read at each end, and none for the part of a window that is still to
come (hour rows alone when they are fewer than the days' and the hours' around them). Per hour of day
(`group_by=hour`) reads hour rows throughout. Of the rows of each period, only those that keep what the figures are
grouped or filtered by (`dimensions`), of the site asked for or else of the whole network (`NETWORK`): so the rows
read grow with the window's days and the groups that occur, never with the specimens or the sites. All of it is read
in one snapshot (PostgreSQL's repeatable read), so what is added and what is taken out agree.

Counts and shares within target equal a computation over the specimens; p50 and p90 are the midpoints of the
buckets the nearest-rank values fall in (`histogram.precision`).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
Signed = tuple[Span, int]
"""A span and whether its specimens are added (1) or taken out (-1)."""


@dataclass(frozen=True, slots=True)
class Cover:
    """How a window is read: `edges` from the specimens, `hours` from hour rows, `days` from day rows, each added or
    taken out; their signed sum is the window."""

    edges: tuple[Signed, ...]
    hours: tuple[Signed, ...]
    days: tuple[Signed, ...]


def _weight(start: datetime, end: datetime, now: datetime) -> float:
    """What reading [start, end) costs, as its length up to now (nothing is collected later)."""
    return max(0.0, (min(end, now) - start).total_seconds())


def _round_ends(since: datetime, until: datetime, grain_s: int, now: datetime) -> tuple[datetime, datetime]:
    """The period boundaries nearest the window's ends: the cheaper of the two around each, by `_weight`."""
    low, high = floor_to(since, grain_s), ceil_to(since, grain_s)
    first = low if _weight(low, since, now) < _weight(since, high, now) else high
    low, high = floor_to(until, grain_s), ceil_to(until, grain_s)
    last = high if _weight(until, high, now) < _weight(low, until, now) else low
    return first, last


def _around(since: datetime, until: datetime, first: datetime, last: datetime) -> tuple[Signed, ...]:
    """The signed spans that turn [first, last) into [since, until): added where the window reaches beyond, taken
    out where [first, last) does."""
    spans: list[Signed] = []
    for start, end in ((since, first), (last, until)):
        if start < end:
            spans.append(((start, end), 1))
        elif end < start:
            spans.append(((end, start), -1))
    return tuple(spans)


def cover(since: datetime, until: datetime, *, by_hour: bool = False, now: datetime | None = None) -> Cover:
    """Cut [since, until) into spans of specimens at the ends, whole hours, and whole days (unless `by_hour` or
    hour rows alone read fewer), each end rounded to the boundary that reads less (`now`, when given: nothing after
    it is counted as read)."""
    now = now or datetime.max.replace(tzinfo=UTC)
    first_hour, last_hour = _round_ends(since, until, HOUR, now)
    if first_hour >= last_hour:
        return Cover(edges=(((since, until), 1),), hours=(), days=())
    edges = _around(since, until, first_hour, last_hour)
    whole_hours = Cover(edges=edges, hours=(((first_hour, last_hour), 1),), days=())
    first_day, last_day = _round_ends(first_hour, last_hour, DAY, now)
    if by_hour or first_day >= last_day:
        return whole_hours
    hours = _around(first_hour, last_hour, first_day, last_day)
    rows_by_day = (last_day - first_day) / timedelta(days=1) + sum(_weight(*span, now) for span, _ in hours) / HOUR
    if rows_by_day >= _weight(first_hour, last_hour, now) / HOUR:
        return whole_hours
    return Cover(edges=edges, hours=hours, days=(((first_day, last_day), 1),))


def dimensions(group_by: GroupBy | None, wards: tuple[str, ...] | None) -> str:
    """The narrowest rows that answer: those that keep the grouped column, and the ward for a ward-scoped caller."""
    kept = {"ward": "w", "priority": "p", "category": "c"}.get(group_by or "", "")
    if wards is not None and "w" not in kept:
        kept = "w" + kept
    return kept if kept in DIMENSIONS else "wpc"


def _rollup_rows(
    grain_s: int, span: Span, site: str | None, wards: tuple[str, ...] | None, group_by: GroupBy | None
) -> sa.Select[Any]:
    """The rollup rows of one span of hours or days: their sums and the column they are grouped by."""
    t = turnaround_rollups.c
    start, end = span
    group = {None: sa.null(), "hour": t.period, "priority": t.priority, "ward": t.ward, "category": t.category}
    query = sa.select(t.count, t.targeted, t.within_target, t.histograms, group[group_by].label("grouped_by"))
    query = query.where(
        t.grain_s == grain_s,
        t.dims == dimensions(group_by, wards),
        t.period >= start,
        t.period < end,
        t.site == (NETWORK if site is None else site),
    )
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

    def add_row(self, row: Any, sign: int) -> None:
        self._group(_rollup_key(row, self.group_by)).add_stored(row, sign)

    def add_specimen(self, row: SpecimenRow, sign: int) -> None:
        counted = contribution(row)
        if counted is not None:
            key = group_key(row, self.group_by) if self.group_by is not None else None
            self._group(key).add_contribution(counted, sign)

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
    plan = cover(since, until, by_hour=group_by == "hour", now=datetime.now(UTC))
    if connection.dialect.name == "postgresql" and not connection.in_transaction():
        await connection.execution_options(isolation_level="REPEATABLE READ")  # one snapshot for every read below
    report = _Report(group_by)
    for (start, end), sign in plan.edges:
        for row in await resulted_between(connection, start, end, site):
            if visible(row.ward, wards):
                report.add_specimen(row, sign)
    for grain, spans in ((HOUR, plan.hours), (DAY, plan.days)):
        for span, sign in spans:
            for stored in await connection.execute(_rollup_rows(grain, span, site, wards, group_by)):
                report.add_row(stored, sign)
    return report.report()
