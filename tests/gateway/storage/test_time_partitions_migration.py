"""Migration 0014 on PostgreSQL: a database of several months moves into monthly partitions without losing a row,
and the gateway goes on storing, deduplicating and verifying custody over it."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from contract import Event
from gateway.composition.stores import Stores
from gateway.custody.verify import verify_custody_log
from gateway.settings import GatewaySettings
from gateway.storage.database import Database
from gateway.storage.engine import create_engine
from gateway.storage.migrate import migrate
from gateway.storage.partitions import Month, month_start
from gateway.storage.site_tables import custody_anchors
from gateway.storage.tables import telemetry
from tests.gateway.custody.test_custody_log import custody_event, device_event
from tests.infra import real_infra

pytestmark = pytest.mark.real_services

MONTHS = [datetime(2026, m, 10, 9, 0, tzinfo=UTC) for m in (8, 9, 10, 11)]
LONG_AGO = datetime(1999, 5, 1, tzinfo=UTC)
"""Older than the migration gives a month of its own: the row lands in the default partition."""
ORDER = {"events": "id", "custody_log": "position", "telemetry": "site, device, metric, resolution_s, at"}
KEY = {"events": "occurred_at", "custody_log": "recorded_at", "telemetry": "at"}


@pytest.fixture
async def settings(tmp_path: Path) -> AsyncIterator[GatewaySettings]:
    async with real_infra() as infra:
        yield infra.gateway_settings(tmp_path)


def history() -> list[Event]:
    """Custody and device events spread over four months, and one from long ago."""
    made: list[Event] = []
    for month, at in enumerate(MONTHS):
        for n in range(5):
            seq = month * 10 + n + 1
            made.append(custody_event("specimen.collected", f"S{month}-{n}", seq, at + timedelta(hours=n)))
        made.append(device_event(month * 10 + 9, at))
    made.append(custody_event("specimen.collected", "S-old", 99, LONG_AGO))
    return made


def readings() -> list[dict[str, Any]]:
    return [
        {
            "site": "general-hospital",
            "device": "fridge-1",
            "metric": "temperature",
            "resolution_s": 60,
            "at": at + timedelta(minutes=n),
            "edge": "ward-edge",
            "value": 4.0 + n / 10,
            "samples": 6,
            "unit": "C",
        }
        for at in MONTHS
        for n in range(3)
    ]


async def fingerprints(db: Database) -> dict[str, tuple[int, str]]:
    """Per table: the row count and an MD5 of every row's text, in key order."""
    found = {}
    async with db.engine.connect() as connection:
        for table, order in ORDER.items():
            query = f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY {order})) FROM {table} t"  # noqa: S608
            count, digest = (await connection.execute(sa.text(query))).one()
            found[table] = (count, digest)
    return found


async def placement(db: Database, table: str) -> dict[str, str]:
    """Each row's partition, by its key's text."""
    key = KEY[table]
    query = f"SELECT {key}, tableoid::regclass::text FROM {table}"  # noqa: S608
    async with db.engine.connect() as connection:
        return {at.isoformat(): partition for at, partition in await connection.execute(sa.text(query))}


def expected_partition(table: str, at: datetime) -> str:
    return f"{table}_default" if at < datetime(2000, 1, 1, tzinfo=UTC) else Month(table, month_start(at)).name


async def test_an_upgrade_moves_every_row_into_its_month_and_the_gateway_works_on(settings: GatewaySettings) -> None:
    engine = create_engine(settings)
    await migrate(engine, settings.database_schema, target="0013")  # the revision before the partitions
    db = Database(engine)
    store = Stores.build(db, settings)
    try:
        # Today's projector writes the history; it reads the custody anchors (0018), which a 0013 database has not:
        # the table is lent for the seeding and dropped before the upgrade.
        async with db.engine.begin() as connection:
            await connection.run_sync(custody_anchors.create)
        await store.events.commit_batch(history())
        async with db.engine.begin() as connection:
            await connection.run_sync(custody_anchors.drop)
            await connection.execute(sa.insert(telemetry), readings())
        before = await fingerprints(db)
        assert before["events"][0] == 25
        assert before["custody_log"][0] == 21
        assert before["telemetry"][0] == 12

        await migrate(engine, settings.database_schema)

        assert await fingerprints(db) == before
        async with db.engine.connect() as connection:
            kinds = await connection.execute(
                sa.text(
                    "SELECT relname, relkind::text FROM pg_class WHERE oid IN (to_regclass('events'), "
                    "to_regclass('custody_log'), to_regclass('telemetry'))"
                )
            )
            assert {name: kind for name, kind in kinds} == {"events": "p", "custody_log": "p", "telemetry": "p"}
            attached = set(
                (
                    await connection.execute(
                        sa.text(
                            "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = to_regclass('events')"
                        )
                    )
                ).scalars()
            )
        months_now = {Month("events", month_start(datetime.now(UTC), plus=n)).name for n in range(4)}
        assert {"events_p202608", "events_p202611", "events_default"} | months_now <= attached
        for table in ORDER:
            for at, partition in (await placement(db, table)).items():
                assert partition == expected_partition(table, datetime.fromisoformat(at)), (table, at)

        new = custody_event("specimen.collected", "S-new", 200, datetime(2026, 12, 1, 8, tzinfo=UTC))
        stored = await store.events.commit_batch([new])
        assert stored.inserted == 1
        again = await store.events.commit_batch([new])
        assert (again.inserted, again.duplicates) == (0, 1)
        moved = new.model_copy(update={"occurred_at": datetime(2026, 9, 1, tzinfo=UTC)})  # same id, another month
        tampered = await store.events.commit_batch([moved])
        assert (tampered.inserted, [t.event.id for t in tampered.tampered]) == (0, [new.id])
        async with db.engine.connect() as connection:
            assert await connection.scalar(sa.text("SELECT count(*) FROM events WHERE id = :id"), {"id": new.id}) == 1
            report = await verify_custody_log(connection)
        assert report.intact, report.summary()
        assert report.records == 22
    finally:
        await db.close()


async def test_the_keys_and_indexes_carry_the_partition_column(settings: GatewaySettings) -> None:
    db = await Database.open(settings)
    try:
        async with db.engine.connect() as connection:
            rows = await connection.execute(
                sa.text(
                    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid IN (to_regclass('events'), to_regclass('custody_log')) AND contype IN ('p', 'u')"
                )
            )
            constraints = {(table, name): definition for table, name, definition in rows}
            indexes = set(
                (
                    await connection.execute(
                        sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'events' AND schemaname = :s"),
                        {"s": settings.database_schema},
                    )
                ).scalars()
            )
    finally:
        await db.close()
    assert constraints == {
        ("events", "events_pkey"): "PRIMARY KEY (id, occurred_at)",
        ("custody_log", "custody_log_pkey"): 'PRIMARY KEY ("position", recorded_at)',
        ("custody_log", "custody_log_event_id_key"): "UNIQUE (event_id, recorded_at)",
    }
    assert {"ix_events_occurred", "ix_events_subject_occurred", "ix_events_type_received"} <= indexes
