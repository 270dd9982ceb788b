"""Migration 0012 backfills the turnaround rollups from the specimens a database already holds; a rebuild computes
the same rows in PostgreSQL (one statement) as in Python."""

import dataclasses
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from contract import Event
from gateway.rules import default_rules
from gateway.settings import GatewaySettings
from gateway.storage.engine import create_engine
from gateway.storage.migrate import MIGRATIONS, migrate
from gateway.storage.rollup_tables import turnaround_rollups
from gateway.storage.stored_event import StoredEvent
from gateway.storage.tables import specimens
from gateway.tracking.specimens.fold import SpecimenRow, fold_specimen
from gateway.tracking.specimens.rollup_reads import rolled_up_turnaround
from gateway.tracking.specimens.rollup_rebuild import rebuild_in_python, rebuild_rollups
from gateway.tracking.specimens.rollups import RollupKey, Tally, key_values, tallies
from gateway.tracking.specimens.turnaround import aggregate
from tests.gateway.tracking.test_turnaround_rollups import assert_same_report
from tests.turnaround_data import T0, Journeys

RULES = default_rules()


@pytest.fixture
async def engine(gateway_settings: GatewaySettings) -> AsyncIterator[AsyncEngine]:
    created = create_engine(gateway_settings)
    try:
        yield created
    finally:
        await created.dispose()


def _upgrade_to(connection: sa.Connection, revision: str, schema: str | None) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    command.upgrade(config, revision)


def as_stored(event: Event) -> StoredEvent:
    data = event.model_dump(mode="json")["data"]
    return StoredEvent(
        event.id,
        event.seq,
        event.type,
        event.occurred_at,
        event.received_at or event.occurred_at,
        event.site,
        event.edge,
        event.device,
        data,
        event.subject.kind,
        event.subject.id,
    )


def projected_rows(count: int) -> list[SpecimenRow]:
    """The specimens' rows as the projector folds them (each journey's carrier trip carries its one specimen)."""
    history: dict[str, list[StoredEvent]] = defaultdict(list)
    trips: dict[int, list[StoredEvent]] = defaultdict(list)
    for event in map(as_stored, Journeys().days(count)):
        if event.subject_kind == "specimen":
            history[event.subject_id].append(event)
        else:
            trips[event.data["transaction"]].append(event)
    for trip in trips.values():
        for barcode in next(e for e in trip if e.type == "carrier.dispatched").data["specimens"]:
            history[barcode] += trip
    return [row for barcode, events in sorted(history.items()) if (row := fold_specimen(barcode, events, RULES))]


async def test_the_migration_counts_the_specimens_already_stored(
    engine: AsyncEngine, gateway_settings: GatewaySettings
) -> None:
    schema = gateway_settings.database_schema
    rows = projected_rows(120)
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade_to, "0010", schema)
        await connection.execute(sa.insert(specimens), [dataclasses.asdict(row) for row in rows])

    await migrate(engine, schema)

    async with engine.connect() as connection:
        stored = {
            RollupKey(r.grain_s, r.dims, r.period, r.site, r.ward, r.priority, r.category): Tally.of_row(r).stored()
            for r in await connection.execute(sa.select(turnaround_rollups))
        }
        assert stored == {key: tally.stored() for key, tally in tallies(rows).items()}
        assert {key_values(k)["grain_s"] for k in stored} == {3600, 86400}
        since, until = T0 - timedelta(hours=3), T0 + timedelta(days=2, minutes=7)
        for group_by in (None, "ward", "hour"):
            rolled = await rolled_up_turnaround(connection, since, until, group_by=group_by)
            inside = [r for r in rows if r.collected_at is not None and since <= r.collected_at < until]
            assert_same_report(rolled, aggregate(inside, group_by))


def varied_rows() -> list[SpecimenRow]:
    """Projected rows bent into every case the SQL rebuild must round, bucket and key as Python does."""
    rows = projected_rows(160)
    midnight = datetime(2026, 11, 22, tzinfo=UTC)
    s = timedelta(seconds=1)
    varied = []
    for n, row in enumerate(rows):
        at = row.collected_at
        if at is None or row.tat_s is None:
            varied.append(row)
            continue
        change: dict[str, Any]
        match n % 12:
            case 0:  # clocks that disagree: a leg ends before it starts, in the exact and in the log buckets
                change = {"dispatched_at": at - (3 + 41 * n) * s, "arrived_at": at - 2 * s}
            case 1:  # walked to the lab: no carrier legs
                change = {"dispatched_at": None, "arrived_at": None}
            case 2:  # ordered without ward, priority or category
                change = {"ward": None, "priority": None, "category": None}
            case 3:  # on the hour, and a microsecond before it
                hour = at.replace(minute=0, second=0, microsecond=0)
                change = {"collected_at": hour if n % 24 == 3 else hour - s / 1_000_000}
            case 4:  # on a UTC day's first instant, and a microsecond before it
                change = {"collected_at": midnight if n % 24 == 4 else midnight - s / 1_000_000}
            case 5:  # other sites
                change = {"site": f"site-{n // 12 % 3}"}
            case 6:  # half seconds, which round to the even second (round() in Python), either way round and sign
                change = {"sorted_at": row.arrived_at and row.arrived_at + (n % 5 + 0.5) * s}
                change["resulted_at"] = at + (n % 2 * 1000 + 128.5) * s
                change["dispatched_at"] = at - 2.5 * s
            case 7:  # weeks, and a fraction that rounds up
                change = {"resulted_at": at + timedelta(days=17, seconds=5, microseconds=700_001)}
            case 8:  # an empty ward, not a missing one
                change = {"ward": "", "within_target": None}
            case 9:  # counted without a result time: every leg but the result's is still counted
                change = {"resulted_at": None}
            case _:
                change = {}
        varied.append(dataclasses.replace(row, **change))
    return varied


def _snapshot(connection: sa.Connection) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """The rollup rows as stored: key -> count, targeted, within_target and the histograms' JSON as read."""
    return {tuple(r[:7]): tuple(r[7:]) for r in connection.execute(sa.select(turnaround_rollups))}


def _rebuilt_both_ways(connection: sa.Connection) -> tuple[Any, ...]:
    counted = rebuild_rollups(connection)  # in one SQL statement on PostgreSQL
    rebuilt = _snapshot(connection)
    counted_in_python = rebuild_in_python(connection)
    return counted, rebuilt, counted_in_python, _snapshot(connection)


async def test_a_rebuild_gives_the_rows_python_computes(engine: AsyncEngine, gateway_settings: GatewaySettings) -> None:
    rows = varied_rows()
    await migrate(engine, gateway_settings.database_schema)
    async with engine.begin() as connection:
        await connection.execute(sa.insert(specimens), [dataclasses.asdict(row) for row in rows])
        counted, rebuilt, counted_in_python, in_python = await connection.run_sync(_rebuilt_both_ways)

    expected = {tuple(key_values(key).values()): tally.stored() for key, tally in tallies(rows).items()}
    assert counted == counted_in_python == sum(1 for r in rows if r.tat_s is not None and r.collected_at is not None)
    assert rebuilt == in_python  # the same keys, counts and histograms, row for row
    assert {
        key: dict(zip(("count", "targeted", "within_target", "histograms"), values, strict=True))
        for key, values in rebuilt.items()
    } == expected
    kinds = {(key[0], key[1]) for key in rebuilt}
    assert len(kinds) == 10  # every grain and dimension
    assert {key[3] for key in rebuilt} >= {"north", "south", "site-0", "site-1", "site-2"}
    histograms = [h for *_, h in rebuilt.values()]
    assert any(b < 0 for h in histograms for pairs in h.values() for b in pairs[::2])  # negative legs were bucketed
    assert any("total" not in h for h in histograms)  # a leg never counted is left out
