"""Migrations 0012 and 0017 backfill the turnaround rollups from the specimens a database already holds, and the
network's rows from the sites'."""

import dataclasses
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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
from gateway.tracking.specimens.rollup_rebuild import rebuild_rollups
from gateway.tracking.specimens.rollups import NETWORK, RollupKey, Tally, key_values, tallies
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


async def stored_rollups(connection: AsyncConnection) -> dict[RollupKey, dict[str, Any]]:
    """Every rollup row as stored, by key."""
    return {
        RollupKey(r.grain_s, r.dims, r.period, r.site, r.ward, r.priority, r.category): Tally.of_row(r).stored()
        for r in await connection.execute(sa.select(turnaround_rollups))
    }


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
        stored = await stored_rollups(connection)
        assert stored == {key: tally.stored() for key, tally in tallies(rows).items()}
        assert {key_values(k)["grain_s"] for k in stored} == {3600, 86400}
        since, until = T0 - timedelta(hours=3), T0 + timedelta(days=2, minutes=7)
        for group_by in (None, "ward", "hour"):
            rolled = await rolled_up_turnaround(connection, since, until, group_by=group_by)
            inside = [r for r in rows if r.collected_at is not None and since <= r.collected_at < until]
            assert_same_report(rolled, aggregate(inside, group_by))


async def test_migration_0017_sums_the_sites_rows_into_the_networks(
    engine: AsyncEngine, gateway_settings: GatewaySettings
) -> None:
    schema = gateway_settings.database_schema
    rows = projected_rows(120)
    async with engine.begin() as connection:  # a database as 0016 left it: rollups of its sites, none of the network
        await connection.run_sync(_upgrade_to, "0016", schema)
        await connection.execute(sa.insert(specimens), [dataclasses.asdict(row) for row in rows])
        await connection.run_sync(rebuild_rollups)
        await connection.execute(sa.delete(turnaround_rollups).where(turnaround_rollups.c.site == NETWORK))
        sites_rows = (await connection.execute(sa.select(sa.func.count()).select_from(turnaround_rollups))).scalar()

    await migrate(engine, schema)

    async with engine.connect() as connection:
        stored = await stored_rollups(connection)
    assert stored == {key: tally.stored() for key, tally in tallies(rows).items()}
    assert sum(1 for key in stored if key.site != NETWORK) == sites_rows  # the sites' rows untouched
    assert any(key.site == NETWORK for key in stored)
