"""Turnaround rollups as values: what one resulted specimen adds to its hour's and its day's row, and the sums.

A rollup row counts the resulted specimens collected in one period (an hour, or a UTC day) at one site, ordered by
one ward, at one priority, of one test category: how many, how many had a target and made it, and a histogram of
every leg's seconds (`gateway.tracking.specimens.histogram`). Each specimen is also counted in rows that keep only
some of ward, priority and category (`DIMENSIONS`), so a figure per priority over 90 days sums a few rows per day
instead of one per ward, priority and category that occurred; and in the same rows of the whole network
(`NETWORK`), so a figure over every site reads what one site's reads, not one row per site. Everything here is
pure, so the projector, the migrations that backfill the table and the benchmark that bulk-loads it compute the
same rows from the same specimens.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.tracking.specimens import histogram
from gateway.tracking.specimens.fold import SpecimenRow
from gateway.tracking.specimens.turnaround import LEGS, Figures, LegFigures, LegName, legs

HOUR = 3600
DAY = 86400
GRAINS = (HOUR, DAY)
"""Every resulted specimen is counted in the row of its hour and in the row of its UTC day."""
NONE = ""
"""A ward, priority or category that is not known, or not kept by the row (`dims`), as stored in its key (keys cannot
be NULL)."""
NETWORK = ""
"""The site key of the rows that count every site (a site id is never empty: `contract.ids`)."""
DIMENSIONS = ("wpc", "w", "p", "c", "")
"""Which of ward (w), priority (p) and category (c) a row keeps: all three, one (what `group_by` and a ward-scoped
caller need), or none (the overall figures and per hour)."""


def floor_to(at: datetime, grain_s: int) -> datetime:
    """The start of the period of `grain_s` seconds (aligned to the Unix epoch, so to UTC) that `at` falls in."""
    seconds = int(at.timestamp())
    return datetime.fromtimestamp(seconds - seconds % grain_s, UTC)


def ceil_to(at: datetime, grain_s: int) -> datetime:
    """The start of the first period of `grain_s` seconds that begins at or after `at`."""
    floor = floor_to(at, grain_s)
    return floor if floor == at else datetime.fromtimestamp(floor.timestamp() + grain_s, UTC)


@dataclass(frozen=True, slots=True)
class RollupKey:
    grain_s: int
    dims: str
    period: datetime
    site: str
    ward: str
    priority: str
    category: str


@dataclass(frozen=True, slots=True)
class Contribution:
    """What a resulted specimen counts for: two equal contributions make the same rollup rows."""

    hour: datetime
    site: str
    ward: str
    priority: str
    category: str
    targeted: bool
    within_target: bool
    legs: tuple[tuple[LegName, int], ...]
    """The histogram bucket of each leg that has both ends (`total` always)."""

    def rollup_keys(self) -> list[RollupKey]:
        """The rows it counts in: per grain, one for each of `DIMENSIONS`, of its site and of the network."""
        keys = []
        for grain in GRAINS:
            period = floor_to(self.hour, grain)
            for dims in DIMENSIONS:
                ward = self.ward if "w" in dims else NONE
                priority = self.priority if "p" in dims else NONE
                category = self.category if "c" in dims else NONE
                for site in (self.site, NETWORK):
                    keys.append(RollupKey(grain, dims, period, site, ward, priority, category))
        return keys


def contribution(row: SpecimenRow) -> Contribution | None:
    """What the specimen adds to the rollups: nothing until it has a turnaround (collected and resulted)."""
    if row.tat_s is None or row.collected_at is None:
        return None
    return Contribution(
        hour=floor_to(row.collected_at, HOUR),
        site=row.site,
        ward=row.ward or NONE,
        priority=row.priority or NONE,
        category=row.category or NONE,
        targeted=row.within_target is not None,
        within_target=bool(row.within_target),
        legs=tuple((leg.name, histogram.bucket_of(leg.seconds)) for leg in legs(row) if leg.seconds is not None),
    )


@dataclass(slots=True)
class Tally:
    """Sums over resulted specimens: a rollup row's values, or a report group's while rows are added up."""

    count: int = 0
    targeted: int = 0
    within_target: int = 0
    histograms: dict[LegName, histogram.Histogram] = field(default_factory=dict)

    def add(self, other: "Tally", sign: int = 1) -> None:
        self.count += sign * other.count
        self.targeted += sign * other.targeted
        self.within_target += sign * other.within_target
        for leg, counts in other.histograms.items():
            histogram.add(self.histograms.setdefault(leg, {}), counts, sign)

    def add_stored(self, row: Any, sign: int = 1) -> None:
        """Add a stored rollup row's sums, or take them out with `sign` -1 (the read path's inner loop: no histogram
        decoded on the way)."""
        self.count += sign * row.count
        self.targeted += sign * row.targeted
        self.within_target += sign * row.within_target
        stored: Mapping[LegName, list[int]] = row.histograms
        for leg, pairs in stored.items():
            counts = self.histograms.get(leg)
            if counts is None:
                counts = self.histograms[leg] = {}
            values = iter(pairs)
            for bucket, n in zip(values, values, strict=True):
                counts[bucket] = counts.get(bucket, 0) + sign * n

    def add_contribution(self, c: Contribution, sign: int = 1) -> None:
        self.count += sign
        self.targeted += sign * c.targeted
        self.within_target += sign * c.within_target
        for leg, bucket in c.legs:
            counts = self.histograms.setdefault(leg, {})
            counts[bucket] = counts.get(bucket, 0) + sign

    def is_zero(self) -> bool:
        """Nothing counted (a delta that cancels out, or a row whose last specimen moved away)."""
        return (
            self.count == 0
            and self.targeted == 0
            and self.within_target == 0
            and not any(n for counts in self.histograms.values() for n in counts.values())
        )

    def stored(self) -> dict[str, Any]:
        """The row's values, histograms encoded (`histogram.encode`), legs never counted left out."""
        encoded = {leg: histogram.encode(counts) for leg, counts in self.histograms.items()}
        return {
            "count": self.count,
            "targeted": self.targeted,
            "within_target": self.within_target,
            "histograms": {leg: pairs for leg, pairs in encoded.items() if pairs},
        }

    @classmethod
    def of_row(cls, row: Any) -> "Tally":
        """A stored rollup row's sums."""
        stored: Mapping[LegName, list[int]] = row.histograms
        return cls(row.count, row.targeted, row.within_target, {leg: histogram.decode(p) for leg, p in stored.items()})

    def figures(self, key: str | None) -> Figures:
        """The same figures as `turnaround.figures` over these specimens, percentiles within `histogram.precision`."""
        total = self.histograms.get("total", {})

        def leg_figures(name: LegName) -> LegFigures:
            counts = self.histograms.get(name, {})
            return LegFigures(
                name, histogram.total(counts), histogram.percentile(counts, 50), histogram.percentile(counts, 90)
            )

        return Figures(
            key=key,
            count=self.count,
            p50_s=histogram.percentile(total, 50),
            p90_s=histogram.percentile(total, 90),
            targeted=self.targeted,
            within_target=self.within_target / self.targeted if self.targeted else None,
            legs=tuple(leg_figures(name) for name in LEGS),
        )


def tallies(rows: Iterable[SpecimenRow]) -> dict[RollupKey, Tally]:
    """The rollup rows of these specimens (the backfill's and the benchmark's way; the projector applies deltas)."""
    result: dict[RollupKey, Tally] = {}
    for row in rows:
        c = contribution(row)
        if c is None:
            continue
        for key in c.rollup_keys():
            result.setdefault(key, Tally()).add_contribution(c)
    return result


def key_values(key: RollupKey) -> dict[str, Any]:
    return {
        "grain_s": key.grain_s,
        "dims": key.dims,
        "period": key.period,
        "site": key.site,
        "ward": key.ward,
        "priority": key.priority,
        "category": key.category,
    }
