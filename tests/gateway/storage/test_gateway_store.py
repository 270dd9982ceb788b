"""Storage on an empty SQLite file and an empty PostgreSQL schema: migrations, store-once, re-projection, edges."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from contract import EdgeState, Event, Subject, new_event
from gateway.composition.stores import Stores
from gateway.storage.migrate import migrate
from tests.infra import Infra

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def received(kind: str, barcode: str, seq: int, at: datetime, **data: object) -> Event:
    event = new_event(
        kind,  # type: ignore[arg-type]
        seq=seq,
        site="general-hospital",
        edge="core-lab-edge",
        device="sorter-1",
        subject=Subject(kind="specimen", id=barcode),
        occurred_at=at,
        data=data,
    )
    return event.model_copy(update={"received_at": at + timedelta(seconds=1)})


async def test_migrations_create_the_tables_and_the_version_in_the_configured_place(
    infra: Infra, store: Stores
) -> None:
    await migrate(store.db.engine, infra.database_schema)  # a second run finds nothing to do

    def inspect(connection: sa.Connection) -> tuple[set[str], list[str]]:
        tables = set(sa.inspect(connection).get_table_names(schema=infra.database_schema))
        versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
        return tables, list(versions)

    async with store.db.engine.connect() as connection:
        tables, versions = await connection.run_sync(inspect)
    assert {"events", "specimens", "edges", "telemetry", "device_readings", "devices", "alembic_version"} <= tables
    assert {"edge_sequences", "tampered_events", "edge_outbox"} <= tables  # 0005: delivery guarantees
    assert "projection_backlog" in tables  # 0006: stored, not yet projected
    assert "projection_passes" in tables  # 0007: what a projector's held histories are checked against
    assert {"reference_versions", "reference_items"} <= tables  # 0008: names beside ids
    assert {"hl7_messages", "hl7_orders", "clinical_dead_letters"} <= tables  # 0009: HL7 v2 inbound
    assert {"hl7_outbox", "hl7_outbox_cursor"} <= tables  # 0010: HL7 v2 outbound to the LIS
    assert versions == ["0019"]  # 0018: custody anchors; 0019: the open work by priority
    if store.db.engine.dialect.name == "sqlite":
        async with store.db.engine.connect() as connection:
            assert (await connection.execute(sa.text("PRAGMA journal_mode"))).scalar_one() == "wal"


async def test_device_events_are_stored_without_touching_specimens(store: Stores) -> None:
    offline = new_event(
        "device.offline",
        seq=1,
        site="general-hospital",
        edge="core-lab-edge",
        device="sorter-1",
        subject=Subject(kind="device", id="sorter-1"),
        occurred_at=T0,
        data={"reason": "modbus timeout"},
    ).model_copy(update={"received_at": T0})
    result = await store.events.commit_batch([offline])
    assert (result.inserted, result.duplicates) == (1, 0)
    assert await store.specimens.page(limit=10, offset=0) == ([], 0)


async def test_each_event_id_is_stored_once(store: Stores) -> None:
    scanned = received("specimen.scanned", "S1", 1, T0)
    first = await store.events.commit_batch([scanned, scanned])
    again = await store.events.commit_batch([scanned])
    assert (first.inserted, first.duplicates, [e.id for e in first.stored]) == (1, 1, [scanned.id])
    assert (again.inserted, again.duplicates) == (0, 1)
    found = await store.specimens.get("S1")
    assert found is not None
    row, timeline = found
    assert row.event_count == 1
    assert timeline[0].received_at == scanned.received_at


async def test_a_late_earlier_event_slots_in_without_regressing_the_specimen(store: Stores) -> None:
    sorted_ = received("specimen.sorted", "S2", 2, T0 + timedelta(seconds=5), lane=3, rack=1, position=7)
    scanned = received("specimen.scanned", "S2", 1, T0)
    await store.events.commit_batch([sorted_])
    await store.events.commit_batch([scanned])
    found = await store.specimens.get("S2")
    assert found is not None
    row, timeline = found
    assert (row.status, row.lane, row.rack, row.position) == ("sorted", 3, 1, 7)
    assert (row.first_seen_at, row.last_event_at, row.event_count) == (T0, sorted_.occurred_at, 2)
    assert [e.id for e in timeline] == [scanned.id, sorted_.id]


async def test_a_stale_death_never_hides_a_newer_birth(store: Stores) -> None:
    def state(value: str, since: datetime) -> EdgeState:
        return EdgeState(state=value, site="general-hospital", edge="core-lab-edge", since=since, version="0.1.0")  # type: ignore[arg-type]

    later = T0 + timedelta(minutes=1)
    assert await store.events.record_edge_state(state("online", T0))
    assert await store.events.record_edge_state(state("online", later))
    assert not await store.events.record_edge_state(state("offline", T0))
    [edge] = await store.edges.all()
    assert (edge.state, edge.since) == ("online", later)
    assert await store.events.record_edge_state(state("offline", later))
    [edge] = await store.edges.all()
    assert (edge.state, edge.since) == ("offline", later)
