"""Turnaround rollups: the projector keeps them equal to the specimens, and figures read from them equal figures
computed over the specimens (counts and shares exactly, percentiles within the histogram's precision)."""

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from contract import Event
from gateway.composition.stores import Stores
from gateway.storage.rollup_tables import turnaround_rollups
from gateway.storage.tables import specimens
from gateway.tracking.specimens.fold import SpecimenRow
from gateway.tracking.specimens.histogram import precision
from gateway.tracking.specimens.rollup_reads import rolled_up_turnaround
from gateway.tracking.specimens.rollups import RollupKey, Tally, key_values, tallies
from gateway.tracking.specimens.store import resulted_between, specimen_row
from gateway.tracking.specimens.turnaround import Figures, GroupBy, TurnaroundReport, aggregate
from gateway.tracking.wards import visible
from tests.turnaround_data import T0, Journeys

H = timedelta(hours=1)
WINDOWS = {
    "three days, edges unaligned": (T0 - 7 * H, T0 + timedelta(days=3, minutes=3)),
    "whole hours": (T0 + timedelta(minutes=50), T0 + timedelta(hours=7, minutes=50)),
    "within an hour": (T0 + timedelta(hours=5, minutes=12), T0 + timedelta(hours=5, minutes=48)),
    "whole UTC days": (datetime.fromisoformat("2026-11-21T00:00:00Z"), datetime.fromisoformat("2026-11-23T00:00:00Z")),
}


async def seeded(store: Stores, events: list[Event]) -> None:
    await store.events.commit_batch(events)


async def direct(
    store: Stores, since: datetime, until: datetime, group_by: GroupBy | None, site: str | None, wards: Any
) -> TurnaroundReport:
    """The figures as computed before the rollups: over every resulted specimen's row."""
    async with store.db.engine.connect() as connection:
        rows = await resulted_between(connection, since, until, site)
    return aggregate([r for r in rows if visible(r.ward, wards)], group_by)


def assert_same_figures(rolled: Figures, computed: Figures) -> None:
    assert (rolled.key, rolled.count, rolled.targeted, rolled.within_target) == (
        computed.key,
        computed.count,
        computed.targeted,
        computed.within_target,
    )
    pairs = [(rolled.p50_s, computed.p50_s), (rolled.p90_s, computed.p90_s)]
    for r_leg, c_leg in zip(rolled.legs, computed.legs, strict=True):
        assert (r_leg.leg, r_leg.count) == (c_leg.leg, c_leg.count)
        pairs += [(r_leg.p50_s, c_leg.p50_s), (r_leg.p90_s, c_leg.p90_s)]
    for reported, observed in pairs:
        assert (reported is None) == (observed is None)
        if reported is not None and observed is not None:
            assert abs(reported - observed) <= precision(observed), (reported, observed)


def assert_same_report(rolled: TurnaroundReport, computed: TurnaroundReport) -> None:
    assert_same_figures(rolled.overall, computed.overall)
    assert [g.key for g in rolled.groups] == [g.key for g in computed.groups]
    for r, c in zip(rolled.groups, computed.groups, strict=True):
        assert_same_figures(r, c)


async def stored_rollups(store: Stores) -> dict[tuple[Any, ...], dict[str, Any]]:
    async with store.db.engine.connect() as connection:
        rows = await connection.execute(sa.select(turnaround_rollups))
        return {tuple(key_values(_key(r)).values()): Tally.of_row(r).stored() for r in rows}


def _key(row: Any) -> RollupKey:
    return RollupKey(row.grain_s, row.dims, row.period, row.site, row.ward, row.priority, row.category)


async def rebuilt_rollups(store: Stores) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The rollups a rebuild computes from the specimens table as it is now."""
    async with store.db.engine.connect() as connection:
        rows = [specimen_row(r) for r in await connection.execute(sa.select(specimens))]
    return {tuple(key_values(k).values()): t.stored() for k, t in tallies(rows).items()}


async def specimen(store: Stores, barcode: str) -> SpecimenRow:
    async with store.db.engine.connect() as connection:
        return specimen_row(
            (await connection.execute(sa.select(specimens).where(specimens.c.barcode == barcode))).one()
        )


@pytest.mark.parametrize("window", list(WINDOWS))
async def test_figures_from_the_rollups_equal_figures_over_the_specimens(store: Stores, window: str) -> None:
    await seeded(store, Journeys().days())
    since, until = WINDOWS[window]
    async with store.db.engine.connect() as connection:
        for group_by in (None, "priority", "ward", "hour", "category"):
            for site, wards in ((None, None), ("north", None), (None, ("4b", "icu"))):
                rolled = await rolled_up_turnaround(connection, since, until, site=site, group_by=group_by, wards=wards)
                assert_same_report(rolled, await direct(store, since, until, group_by, site, wards))
    assert (await direct(store, since, until, None, None, None)).overall.count > 0  # the window is not empty


async def test_the_rollups_are_what_a_rebuild_from_the_specimens_gives(store: Stores) -> None:
    journeys = Journeys()
    events = journeys.days(60)
    await seeded(store, events[: len(events) // 2])  # results come in over several passes
    await seeded(store, events[len(events) // 2 :])
    assert await stored_rollups(store) == await rebuilt_rollups(store)
    assert len(await stored_rollups(store)) > 0


async def test_a_specimen_folded_again_is_counted_once(store: Stores) -> None:
    journeys = Journeys()
    await seeded(store, journeys.days(40))
    before = await stored_rollups(store)
    # A second result report for every specimen (a resend with a new id): each is folded again, nothing moves.
    again = []
    async with store.db.engine.connect() as connection:
        resulted = [specimen_row(r) for r in await connection.execute(sa.select(specimens))]
    for row in resulted:
        if row.resulted_at is not None:
            again.append(journeys.event("specimen.resulted", "specimen", row.barcode, row.resulted_at + H, row.site))
    await seeded(store, again)
    assert await stored_rollups(store) == before


async def test_a_corrected_result_moves_the_specimen_between_buckets_and_rows(store: Stores) -> None:
    journeys = Journeys()
    await seeded(store, journeys.days(40))
    row = next(
        r
        for r in [await specimen(store, f"R{n:05d}") for n in range(40)]
        if r.tat_s is not None and r.tat_s > 600 and r.ward is not None
    )
    assert row.collected_at is not None
    assert row.resulted_at is not None
    # The LIS reports the result earlier than first told; then the ward is corrected (the latest collection wins).
    earlier = journeys.event(
        "specimen.resulted", "specimen", row.barcode, row.collected_at + timedelta(seconds=90), row.site
    )
    await seeded(store, [earlier])
    moved = await specimen(store, row.barcode)
    assert moved.tat_s == 90
    assert await stored_rollups(store) == await rebuilt_rollups(store)

    other_ward = "ward-moved"
    recollected = journeys.event(
        "specimen.collected",
        "specimen",
        row.barcode,
        row.collected_at + timedelta(seconds=1),
        row.site,
        priority=row.priority,
        category=row.category,
        ward=other_ward,
    )
    await seeded(store, [recollected])
    assert (await specimen(store, row.barcode)).ward == other_ward
    stored = await stored_rollups(store)
    assert stored == await rebuilt_rollups(store)
    assert [key for key in stored if key[4] == other_ward]  # the row of the new ward exists, the count moved there
    async with store.db.engine.connect() as connection:
        day = (row.collected_at - timedelta(hours=2), row.collected_at + timedelta(hours=2))
        by_ward = await rolled_up_turnaround(connection, *day, group_by="ward")
    assert_same_report(by_ward, await direct(store, *day, "ward", None, None))


async def test_a_window_not_aligned_to_hours_takes_its_edges_from_the_specimens(store: Stores) -> None:
    journeys = Journeys()
    hour = T0.replace(minute=0) + 3 * H
    # Two specimens in one hour; a window from its half past counts only the later one, though its hour row has both.
    events = journeys.journey("E1", hour + timedelta(minutes=10)) + journeys.journey("E2", hour + timedelta(minutes=50))
    events += (
        journeys.event("specimen.resulted", "specimen", "E1", hour + 2 * H, "north"),
        journeys.event("specimen.resulted", "specimen", "E2", hour + 2 * H, "north"),
    )
    await seeded(store, events)
    async with store.db.engine.connect() as connection:
        whole = await rolled_up_turnaround(connection, hour, hour + H)
        later = await rolled_up_turnaround(connection, hour + timedelta(minutes=30), hour + 5 * H)
        earlier = await rolled_up_turnaround(connection, hour - 5 * H, hour + timedelta(minutes=30))
    assert (whole.overall.count, later.overall.count, earlier.overall.count) == (2, 1, 1)
    e2 = await specimen(store, "E2")
    assert later.overall.p50_s is not None
    assert e2.tat_s is not None
    assert abs(later.overall.p50_s - e2.tat_s) <= precision(e2.tat_s)
