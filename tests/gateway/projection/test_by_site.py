"""Projection by site: passes lock sites, not the database; each site has its own custody chain; subjects stay home.

Several projectors (processes or gateways) on one PostgreSQL project different sites at once, each event once,
and the sites of one that dies go to the others. A specimen or delivery belongs to the site that reported it first:
an event about it from another site is refused with its reason, never folded into it. SQLite runs the same code
with one writer (every site lock free); chains and refusals hold there too.
"""

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from contract import Event, Subject, new_event
from gateway.composition.stores import Stores
from gateway.custody.log import GENESIS_HASH
from gateway.ingest.event_store import BatchResult
from gateway.projection.held import HeldEvents, HistoryCache
from gateway.projection.runner import ProjectionRunner
from gateway.projection.transaction import Tx
from gateway.projection.worker import ProjectionCounters
from gateway.rules.in_force import RulesInForce
from gateway.settings import GatewaySettings
from gateway.storage.database import Database
from gateway.storage.site_tables import refused_events
from gateway.storage.stored_event import StoredEvent
from gateway.storage.tables import custody_log, events, projection_backlog, specimens
from gateway.tracking.registry import projectors

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
DATA: dict[str, dict[str, Any]] = {
    "specimen.collected": {"priority": "routine", "category": "chemistry", "ward": "ward-3a", "badge": "B100"},
    "specimen.scanned": {"input_rack": 1, "input_position": 1},
    "carrier.dispatched": {"from_station": "st-3a", "to_station": "st-lab"},
    "delivery.loaded": {"robot": "robot-1", "drawer": "d1", "badge": "B200"},
}


def event(kind: str, subject: str, site: str, seq: int, at: datetime = T0, **data: Any) -> Event:
    """An event of `site`'s edge about `subject`."""
    subject_kind = kind.split(".")[0]
    built = new_event(
        kind,
        seq=seq,
        site=site,
        edge=f"{site}-edge",
        device="station-1",
        subject=Subject(kind=subject_kind, id=subject),  # type: ignore[arg-type]
        occurred_at=at,
        data={**DATA.get(kind, {}), **data},
    )
    return built.model_copy(update={"received_at": at + timedelta(seconds=1)})


def site_events(sites: Sequence[str], per_site: int) -> list[Event]:
    """`per_site` collected specimens of each site, the sites' events interleaved."""
    return [
        event("specimen.collected", f"S-{site}-{n}", site, n + 1, T0 + timedelta(seconds=n))
        for n in range(per_site)
        for site in sites
    ]


async def chains(store: Stores) -> dict[str | None, list[Any]]:
    """Each chain's records in chain order, by site."""
    found: dict[str | None, list[Any]] = {}
    async with store.db.engine.connect() as connection:
        query = sa.select(custody_log).order_by(custody_log.c.site, custody_log.c.site_position)
        for row in await connection.execute(query):
            found.setdefault(row.site, []).append(row)
    return found


def ids(result: BatchResult) -> list[UUID]:
    return [e.id for e in result.new]


async def scalars(store: Stores, query: sa.Select[Any]) -> list[Any]:
    async with store.db.engine.connect() as connection:
        return list((await connection.execute(query)).scalars())


# -- the custody chain per site -----------------------------------------------------------------------------------
async def test_each_site_has_its_own_chain_and_verify_reports_each(store: Stores) -> None:
    await store.events.commit_batch(site_events(["north", "south", "east"], 4))
    await store.events.commit_batch(site_events(["south"], 6)[4:])  # two more of south's, in a pass of their own

    by_site = await chains(store)
    assert {site: len(rows) for site, rows in by_site.items()} == {"east": 4, "north": 4, "south": 6}
    for rows in by_site.values():
        assert [r.site_position for r in rows] == list(range(1, len(rows) + 1))
        assert [r.prev_hash for r in rows] == [GENESIS_HASH, *(r.hash for r in rows[:-1])]
    report = await store.custody.verify()
    assert report.intact, report.problems
    assert [(c.site, c.records, c.head_position, c.head_hash) for c in report.chains] == [
        (site, len(by_site[site]), len(by_site[site]), by_site[site][-1].hash) for site in ("east", "north", "south")
    ]


async def test_tampering_in_one_sites_chain_is_reported_for_that_site_alone(store: Stores) -> None:
    await store.events.commit_batch(site_events(["north", "south"], 3))
    async with store.db.engine.begin() as connection:
        c = custody_log.c
        edit = sa.update(custody_log).where(c.site == "south", c.site_position == 2).values(type="specimen.sorted")
        await connection.execute(edit)

    report = await store.custody.verify()
    assert {(p.site, p.kind, p.position) for p in report.problems} == {("south", "edited", 2)}
    assert {c.site: c.problems > 0 for c in report.chains} == {"north": False, "south": True}


async def test_a_record_inserted_at_a_place_another_holds_is_reported(store: Stores) -> None:
    await store.events.commit_batch(site_events(["north"], 3))
    async with store.db.engine.begin() as connection:
        second = (await connection.execute(sa.select(custody_log).where(custody_log.c.site_position == 2))).one()
        forged = {**second._asdict(), "position": 99, "event_id": UUID(int=1), "subject_id": "S-forged"}
        await connection.execute(sa.insert(custody_log), [forged])

    report = await store.custody.verify()
    assert ("north", "edited", 2) in {(p.site, p.kind, p.position) for p in report.problems}
    assert not report.intact


# -- specimens and deliveries stay at their site ------------------------------------------------------------------
@pytest.mark.parametrize("together", [False, True], ids=["later-pass", "same-pass"])
async def test_a_specimen_of_one_site_reported_by_another_sites_edge_is_refused_with_the_reason(
    store: Stores, together: bool
) -> None:
    home = event("specimen.collected", "S1", "north", 1, T0)
    foreign = [
        event("specimen.scanned", "S1", "south", 1, T0 + timedelta(minutes=5)),
        event("carrier.dispatched", "C9", "south", 2, T0 + timedelta(minutes=6), transaction=7, specimens=["S1"]),
    ]
    if together:
        passed = await store.projection.project_events(ids(await store.events.ingest_batch([home, *foreign])))
    else:
        await store.events.commit_batch([home])
        passed = await store.projection.project_events(ids(await store.events.ingest_batch(foreign)))

    assert set(passed.refused) == {e.id for e in foreign}
    assert "specimen S1 belongs to site north" in passed.refused[foreign[0].id]
    assert "edge south-edge of site south" in passed.refused[foreign[0].id]
    found = await store.specimens.get("S1")
    assert found is not None
    row, history = found
    assert (row.site, row.status, row.event_count, [e.id for e in history]) == ("north", "collected", 1, [home.id])
    refused = await scalars(store, sa.select(refused_events.c.event_id).order_by(refused_events.c.event_id))
    assert refused == sorted(e.id for e in foreign)
    assert await scalars(store, sa.select(events.c.id).where(events.c.site == "south")) == []  # no fold reads them
    assert await scalars(store, sa.select(projection_backlog.c.event_id)) == []
    assert await scalars(store, sa.select(custody_log.c.event_id)) == [home.id]
    assert (await store.custody.verify()).intact


async def test_a_delivery_of_one_site_loaded_at_another_is_refused(store: Stores) -> None:
    await store.events.commit_batch([event("delivery.loaded", "D1", "north", 1)])
    result = await store.events.ingest_batch([event("delivery.loaded", "D1", "south", 1, T0 + timedelta(minutes=1))])
    passed = await store.projection.project_events(ids(result))

    assert ["delivery D1 belongs to site north" in reason for reason in passed.refused.values()] == [True]
    found = await store.deliveries.get("D1")
    assert found is not None
    assert (found[0].site, found[0].event_count) == ("north", 1)


async def test_refused_events_are_counted_apart_from_projected_ones(store: Stores) -> None:
    counters = ProjectionCounters()
    projecting = ProjectionRunner(store.db, projectors(), RulesInForce(), on_pass=[counters.count])
    home = event("specimen.collected", "S1", "north", 1)
    await store.events.ingest_batch([home, event("specimen.scanned", "S1", "south", 1, T0 + timedelta(minutes=1))])
    await projecting.project_pending()

    assert (counters.projected, counters.refused, counters.passes) == (1, 1, 1)


# -- held histories per site --------------------------------------------------------------------------------------
def stored(site: str, carrier: str) -> StoredEvent:
    return StoredEvent(
        id=UUID(int=hash((site, carrier)) & (2**128 - 1)),
        seq=1,
        type="carrier.arrived",
        occurred_at=T0,
        received_at=T0,
        site=site,
        edge="e",
        device="d",
        data={"transaction": 1},
        subject_kind="carrier",
        subject_id=carrier,
    )


async def test_a_projector_drops_only_the_held_histories_of_sites_another_projected_since(store: Stores) -> None:
    mine, other = HistoryCache(), HistoryCache()
    north, south = ("trip", ("north", "C1", 1)), ("trip", ("south", "C2", 1))
    async with store.db.engine.begin() as connection:
        await mine.begin_pass(connection, [stored("north", "C1"), stored("south", "C2")])
        mine.hold(north, HeldEvents([]))
        mine.hold(south, HeldEvents([]))
        await other.begin_pass(connection, [stored("south", "C2")])  # another process projects south
        await mine.begin_pass(connection, [stored("north", "C1"), stored("south", "C2")])
    assert (mine.held(north) is not None, mine.held(south) is not None) == (True, False)


# -- several projectors on PostgreSQL -----------------------------------------------------------------------------
class Gate:
    """A projector that holds its pass open (inside its transaction, its site locks held) until released."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.pid: int | None = None

    async def __call__(self, tx: Tx, new: Sequence[Event]) -> None:
        self.pid = (await tx.connection.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
        self.entered.set()
        await self.release.wait()


@pytest.fixture
async def second(gateway_settings: GatewaySettings, store: Stores) -> AsyncIterator[Database]:
    """Another process's database handle on the same schema (its own connections)."""
    if not gateway_settings.resolved_database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: projectors on one SQLite file take turns")
    db = await Database.open(gateway_settings)
    try:
        yield db
    finally:
        await db.close()


async def site_locks_of(store: Stores, pid: int) -> int:
    """How many advisory locks the backend `pid` holds exclusively in this schema (sites; not the shared one)."""
    query = sa.text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = :pid AND granted "
        "AND mode = 'ExclusiveLock' AND objid::int = hashtext(current_schema())"
    )
    async with store.db.engine.connect() as connection:
        return int((await connection.execute(query, {"pid": pid})).scalar_one())


def runner(db: Database, *extra: Any) -> ProjectionRunner:
    return ProjectionRunner(db, [*extra, *projectors()], RulesInForce())


SITES = [f"site-{n:02}" for n in range(6)]


async def test_two_projectors_project_different_sites_at_once_each_event_once(store: Stores, second: Database) -> None:
    batch = site_events(SITES, 10)
    await store.events.ingest_batch(batch)
    gate = Gate()
    first = asyncio.create_task(runner(store.db, gate).project_pending(limit=20))  # the two longest waiting sites
    await gate.entered.wait()
    assert gate.pid is not None
    assert await site_locks_of(store, gate.pid) == 2

    meanwhile = await runner(second).project_pending(limit=1000)  # while the first pass is open
    gate.release.set()
    held = await first

    assert (len(held.sites), len(meanwhile.sites)) == (2, 4)
    assert set(held.sites).isdisjoint(meanwhile.sites)
    assert set(held.sites) | set(meanwhile.sites) == set(SITES)
    assert len(held.events) + len(meanwhile.events) == len(batch)
    assert await store.projection.backlog() == (0, 0)
    recorded = await scalars(store, sa.select(custody_log.c.event_id))
    assert sorted(recorded) == sorted(e.id for e in batch)  # every event recorded, none twice
    report = await store.custody.verify()
    assert report.intact, report.problems
    assert [c.site for c in report.chains] == SITES


async def test_a_killed_projectors_sites_are_taken_over(store: Stores, second: Database) -> None:
    batch = site_events(SITES, 10)
    await store.events.ingest_batch(batch)
    gate = Gate()
    doomed = asyncio.create_task(runner(second, gate).project_pending(limit=20))
    await gate.entered.wait()
    survivor = runner(store.db)
    while_alive = await survivor.project_pending(limit=1000)
    assert len(while_alive.sites) == 4  # the other two are the doomed pass's

    async with store.db.engine.connect() as connection:  # the projector dies mid-pass: its connection goes
        await connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": gate.pid})
    gate.release.set()
    with pytest.raises(Exception):  # noqa: B017, PT011  # whatever the driver raises for a dead connection
        await doomed
    taken_over = await survivor.project_pending(limit=1000)

    assert set(taken_over.sites) == set(SITES) - set(while_alive.sites)
    assert await store.projection.backlog() == (0, 0)
    recorded = await scalars(store, sa.select(custody_log.c.event_id))
    assert sorted(recorded) == sorted(e.id for e in batch)
    assert (await store.custody.verify()).intact
    assert len(await scalars(store, sa.select(specimens.c.barcode))) == len(batch)


async def test_a_projector_goes_on_with_other_sites_while_one_is_busy(store: Stores, second: Database) -> None:
    await store.events.ingest_batch(site_events(["busy"], 5))
    await store.events.ingest_batch(site_events(["free"], 5))  # queued later: "busy" waits longest
    gate = Gate()
    holding = asyncio.create_task(runner(second, gate).project_pending(limit=5))
    await gate.entered.wait()

    other = await runner(store.db).project_pending(limit=1000)
    gate.release.set()
    assert ((await holding).sites, other.sites) == (("busy",), ("free",))
