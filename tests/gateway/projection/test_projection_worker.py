"""Stored first, projected right after: the backlog between `Stores.ingest_batch` and the projections.

An edge's ack says its events are stored; the projector (`gateway.projection.worker`) folds them into the
projections and the custody log moments later. These tests pin what that split promises: nothing stored is ever
left unprojected (not by a gateway that stopped in between, not by an event whose projection raises), each event
is projected once, and projecting later gives exactly what projecting at once gives.
"""

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.schemas import schema_for
from contract import Event
from gateway.api.live import ChangeFilter, StreamEnd
from gateway.composition.stores import Stores
from gateway.custody.verify import verify_custody_log
from gateway.projection.changes import Change
from gateway.projection.notices import CHANNEL_PREFIX, STORED_PREFIX, listen_on, payloads, read_frame
from gateway.projection.transaction import Tx
from gateway.projection.worker import HEARTBEAT_FILE, ProjectionWorker, wake_on_commits
from gateway.service import Gateway, open_projector
from gateway.settings import GatewaySettings
from gateway.storage.tables import custody_log
from tests.cli import WARDLINK, cli_env, wardlink
from tests.gateway.storage.test_gateway_store import received
from tests.gateway.test_gateway_e2e import FakeEdge, specimen_event
from tests.infra import Infra
from tests.polling import eventually, until_projected

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def scanned(barcode: str, seq: int, at: datetime = T0) -> Event:
    return received("specimen.scanned", barcode, seq, at, input_rack=1, input_position=seq % 50 + 1)


@contextlib.asynccontextmanager
async def running(worker: ProjectionWorker) -> AsyncIterator[None]:
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def custody_records(store: Stores) -> list[str]:
    async with store.db.engine.connect() as connection:
        rows = await connection.execute(sa.select(custody_log.c.subject_id).order_by(custody_log.c.position))
        return list(rows.scalars())


async def test_stored_events_wait_in_the_backlog_until_the_projector_folds_them(store: Stores) -> None:
    events = [scanned(f"S{n}", n + 1, T0 + timedelta(seconds=n)) for n in range(30)]
    result = await store.events.ingest_batch(events)

    assert result.inserted == 30
    assert await store.projection.backlog() == (30, 0)
    assert await store.specimens.get("S0") is None  # stored, acknowledged, not yet queryable as a specimen
    projected = await store.projection.project_pending(limit=20)
    assert len(projected.events) == 20
    assert await store.projection.backlog() == (10, 0)
    await store.projection.project_pending()
    assert await store.projection.backlog() == (0, 0)
    assert len((await store.specimens.page(limit=100, offset=0))[0]) == 30
    assert len(await custody_records(store)) == 30
    assert (await store.projection.project_pending()).events == []  # nothing is projected twice


async def test_a_backlog_left_by_a_stopped_gateway_is_projected_from_the_database(
    gateway_settings: GatewaySettings,
) -> None:
    events = [scanned(f"S{n}", n + 1) for n in range(25)]
    first = await Stores.open(gateway_settings)
    try:
        await first.events.ingest_batch(events)  # then the process stops before projecting
    finally:
        await first.close()

    second, worker = await open_projector(gateway_settings)  # nothing of them in its memory: they are read back
    try:
        async with running(worker):
            await until_projected(second, [e.id for e in events])
        row = await second.specimens.get("S3")
        assert row is not None
        assert row[0].status == "scanned"
        assert sorted(await custody_records(second)) == sorted(f"S{n}" for n in range(25))
        async with second.db.engine.connect() as connection:
            assert (await verify_custody_log(connection)).problems == []
        assert worker.counters.projected == 25
    finally:
        await second.close()


async def test_projecting_later_in_bigger_passes_gives_what_projecting_each_batch_at_once_gives(
    infra: Infra, gateway_settings: GatewaySettings, tmp_path: Path
) -> None:
    # One specimen's story split over batches, in a shuffled order, plus others: pure folds, any pass size.
    events = [scanned(f"S{n % 7}", n + 1, T0 + timedelta(seconds=(n * 37) % 50)) for n in range(60)]
    batches = [events[i : i + 9] for i in range(0, len(events), 9)]

    late = await Stores.open(gateway_settings)
    try:
        for batch in batches:
            await late.events.ingest_batch(batch)
        await late.projection.project_pending(limit=25)
        await late.projection.project_pending(limit=25)
        await late.projection.project_pending(limit=25)
        deferred = (await late.specimens.page(limit=100, offset=0))[0]
    finally:
        await late.close()

    async with schema_for(infra.database_url) as schema:  # a second, empty database
        at_once = await Stores.open(infra.gateway_settings(tmp_path / "at-once", database_schema=schema))
        try:
            for batch in batches:
                await at_once.events.commit_batch(batch)
            immediate = (await at_once.specimens.page(limit=100, offset=0))[0]
        finally:
            await at_once.close()
    assert deferred == immediate
    assert [r.event_count for r in deferred] == [r.event_count for r in immediate]


async def test_an_event_whose_projection_raises_is_set_aside_and_the_rest_are_projected(
    gateway_settings: GatewaySettings, caplog: pytest.LogCaptureFixture
) -> None:
    events = [scanned(f"S{n}", n + 1) for n in range(10)]
    poison = events[4]

    async def refuses_the_poison(tx: Tx, new: Sequence[Event]) -> None:
        if any(e.id == poison.id for e in new):
            raise ValueError("a projector bug this event happens to trigger")

    store = await Stores.open(gateway_settings)
    try:
        store.projection._projectors.insert(0, refuses_the_poison)
        worker = ProjectionWorker(gateway_settings, store.projection, store.db)
        await store.events.ingest_batch(events)
        async with running(worker):
            await until_projected(store, [e.id for e in events if e is not poison])
            await eventually(store.projection.backlog, lambda b: b == (1, 1), what="the poison event marked failed")
        assert worker.counters.failed == 1
        assert await store.specimens.get(poison.subject.id) is None
        assert await store.specimens.get("S5") is not None
        assert f"event {poison.id} cannot be projected" in caplog.text

        store.projection._projectors.pop(0)  # the bug fixed: a gateway that starts puts the event back in line
        restarted = ProjectionWorker(gateway_settings, store.projection, store.db)
        async with running(restarted):
            await until_projected(store, [poison.id])
        assert await store.projection.backlog() == (0, 0)
        assert await store.specimens.get(poison.subject.id) is not None
    finally:
        await store.close()


async def test_the_projector_catches_up_with_what_another_replica_stored(gateway_settings: GatewaySettings) -> None:
    other_replica = await Stores.open(gateway_settings)
    this_replica = await Stores.open(gateway_settings)
    try:
        polls = gateway_settings.model_copy(update={"projection_poll_s": 0.1})
        worker = ProjectionWorker(polls, this_replica.projection, this_replica.db)
        async with running(worker):
            events = [scanned(f"S{n}", n + 1) for n in range(12)]
            await other_replica.events.ingest_batch(events)  # no wake-up reaches this replica's worker: it polls
            await until_projected(this_replica, [e.id for e in events])
        assert len((await this_replica.specimens.page(limit=100, offset=0))[0]) == 12
    finally:
        await this_replica.close()
        await other_replica.close()


async def test_gateways_that_only_store_leave_the_projecting_to_a_wardlink_projector_process(
    gateway_settings: GatewaySettings,
) -> None:
    store = await Stores.open(gateway_settings)
    try:
        events = [scanned(f"S{n}", n + 1) for n in range(40)]
        await store.events.ingest_batch(events)  # as a gateway started with WARDLINK_PROJECTOR=false leaves them
        env = cli_env(gateway_settings)
        code, out, _ = await wardlink(env, "projector", "--check")  # the compose file's health check
        assert (code, out) == (1, f"projector not running: no {gateway_settings.data_dir / HEARTBEAT_FILE}\n")
        process = await asyncio.create_subprocess_exec(
            str(WARDLINK), "projector", env=env, stderr=asyncio.subprocess.PIPE
        )
        try:
            await until_projected(store, [e.id for e in events])
            code, out, _ = await eventually(lambda: wardlink(env, "projector", "--check"), lambda r: r[0] == 0)
            assert out.startswith("projector alive: its last pass or look at the backlog was")
        finally:
            process.terminate()
            _, err = await process.communicate()
        assert len((await store.specimens.page(limit=100, offset=0))[0]) == 40
        assert b"Traceback" not in err, err.decode()
        an_hour_ago = time.time() - 3600
        os.utime(gateway_settings.data_dir / HEARTBEAT_FILE, (an_hour_ago, an_hour_ago))
        code, out, _ = await wardlink(env, "projector", "--check")
        assert code == 1
        assert out.startswith("projector stalled: its last pass or look at the backlog was 360"), out  # 3600 s, a bit
        assert out.endswith("s ago (limit 60 s)\n"), out
    finally:
        await store.close()


async def test_a_gateway_started_without_its_projector_stores_and_acknowledges_but_does_not_project(
    infra: Infra, gateway_settings: GatewaySettings
) -> None:
    quick = gateway_settings.model_copy(update={"projector": False, "ingest_batch_wait_ms": 5})
    async with Gateway(quick) as gateway, FakeEdge(infra).connected() as edge:
        assert gateway.store is not None
        event = specimen_event("specimen.scanned", "S1", 1, T0)
        await edge.send(event)
        await edge.until_acked(event)  # stored: acknowledged
        await asyncio.sleep(0.3)  # several of the projector's waits and polls, had it been running
        assert await gateway.store.projection.unprojected([event.id]) == {event.id}
        await gateway.store.projection.project_pending()  # what a `wardlink projector` process does
        assert await gateway.store.specimens.get("S1") is not None


async def test_every_gateways_live_stream_hears_of_a_pass_another_process_projected(
    gateway_settings: GatewaySettings,
) -> None:
    if gateway_settings.database_url is None or not gateway_settings.database_url.startswith("postgresql"):
        pytest.skip("one SQLite file has one process: its stream hears its own store")
    quick = gateway_settings.model_copy(update={"projector": False})
    async with Gateway(quick) as gateway:
        assert gateway.live is not None
        elsewhere = await Stores.open(gateway_settings)  # a `wardlink projector` process, or another replica
        try:
            with gateway.live.subscribe(ChangeFilter(subject_kind="specimen")) as subscription:
                events = [scanned(f"S{n}", n + 1) for n in range(3)]
                await elsewhere.events.ingest_batch(events)
                await elsewhere.projection.project_pending()
                async with asyncio.timeout(30):
                    heard = [await subscription.next() for _ in events]
        finally:
            await elsewhere.close()
    assert {c.event_id for c in heard if isinstance(c, Change)} == {e.id for e in events}


async def test_a_gateway_that_does_not_project_wakes_the_projector_process_with_each_commit(
    gateway_settings: GatewaySettings,
) -> None:
    if gateway_settings.database_url is None or not gateway_settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite has no notifications: a projector process beside it polls")
    projector, gateway = await Stores.open(gateway_settings), await Stores.open(gateway_settings)
    # It looks for stored events once an hour: only the gateways' notices can wake it in time.
    hourly = gateway_settings.model_copy(update={"projection_poll_s": 3600})
    worker = ProjectionWorker(hourly, projector.projection, projector.db)
    heard: list[str] = []

    def woken(payload: str) -> None:
        heard.append(payload)
        worker.wake()

    listening = asyncio.create_task(listen_on(projector.db.engine, STORED_PREFIX, woken, "test"))
    try:
        async with running(worker):
            await asyncio.sleep(0.5)  # its LISTEN is in place, its first look at the backlog done
            await gateway.events.ingest_batch([scanned("S1", 1)])  # a gateway that projects itself says nothing
            await asyncio.sleep(0.5)
            assert heard == []
            gateway = Stores.build(gateway.db, gateway_settings, keep_for_projection=False)  # WARDLINK_PROJECTOR=false
            later = [scanned("S2", 2), scanned("S3", 3)]
            await gateway.events.ingest_batch(later)
            await until_projected(projector, [e.id for e in later])
            assert len(heard) == 1  # one notice per commit
    finally:
        listening.cancel()
        await gateway.close()
        await projector.close()


async def test_a_projector_whose_listen_connection_dropped_projects_what_was_stored_meanwhile(
    gateway_settings: GatewaySettings,
) -> None:
    if gateway_settings.database_url is None or not gateway_settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite has no notifications")
    projector = await Stores.open(gateway_settings)
    gateway = await Stores.open(gateway_settings, keep_for_projection=False)
    hourly = gateway_settings.model_copy(update={"projection_poll_s": 3600})
    worker = ProjectionWorker(hourly, projector.projection, projector.db)
    channel = f"{STORED_PREFIX}{gateway_settings.database_schema}"
    waking = asyncio.create_task(wake_on_commits(projector.db, worker, max_backoff_s=1))
    try:
        async with running(worker):
            dropped = await eventually(lambda: listening_backend(gateway.db.engine, channel))
            await asyncio.sleep(0.5)  # its first looks at the backlog (at start, once listening) done
            await terminate(gateway.db.engine, dropped)
            # Stored before the projector listens again (it waits 0.2 s to reconnect): this commit's notice is lost.
            events = [scanned("S1", 1), scanned("S2", 2)]
            await gateway.events.ingest_batch(events)
            await until_projected(projector, [e.id for e in events])  # it polls once an hour
            await eventually(
                lambda: listening_backend(gateway.db.engine, channel),
                lambda pid: pid not in (None, dropped),
                what="a new LISTEN",
            )
    finally:
        waking.cancel()
        await gateway.close()
        await projector.close()


async def test_a_gateway_whose_notice_link_dropped_ends_its_live_streams_so_that_clients_re_read(
    gateway_settings: GatewaySettings,
) -> None:
    if gateway_settings.database_url is None or not gateway_settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite has no notifications: one process hears its own passes")
    channel = f"{CHANNEL_PREFIX}{gateway_settings.database_schema}"
    quick = gateway_settings.model_copy(update={"projector": False, "mqtt_max_backoff_s": 1})
    async with Gateway(quick) as gateway:
        assert gateway.live is not None
        assert gateway.store is not None
        engine = gateway.store.db.engine
        dropped = await eventually(lambda: listening_backend(engine, channel))
        with gateway.live.subscribe() as open_then:
            await terminate(engine, dropped)
            async with asyncio.timeout(30):
                end = await open_then.next()  # passes announced while it reconnected went unheard
        assert isinstance(end, StreamEnd)
        assert end.reason == "missed"
        elsewhere = await Stores.open(gateway_settings)  # a projector process
        try:
            with gateway.live.subscribe(ChangeFilter(subject_kind="specimen")) as opened_after:
                event = scanned("S1", 1)
                await elsewhere.events.ingest_batch([event])
                await elsewhere.projection.project_pending()
                async with asyncio.timeout(30):
                    heard = await opened_after.next()
        finally:
            await elsewhere.close()
    assert isinstance(heard, Change)
    assert heard.event_id == event.id


async def listening_backend(engine: AsyncEngine, channel: str) -> int | None:
    """The PostgreSQL backend whose last statement was `LISTEN` on `channel` (another one's id once it is back)."""
    listens = sa.text("SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query = :listen")
    async with engine.connect() as connection:  # pg_stat_activity: one snapshot per transaction
        return (await connection.execute(listens.bindparams(listen=f'LISTEN "{channel}"'))).scalar()


async def terminate(engine: AsyncEngine, pid: int) -> None:
    async with engine.connect() as connection:
        await connection.execute(sa.text("SELECT pg_terminate_backend(:pid)").bindparams(pid=pid))


def test_a_big_pass_is_announced_in_notices_under_postgresqls_payload_limit() -> None:
    changes = [
        Change(uuid.uuid4(), "specimen.scanned", "specimen", f"S{n:08d}", "general-hospital", T0, n % 2 == 0)
        for n in range(500)
    ]
    notices = payloads(changes)
    assert len(notices) > 1
    assert all(len(n.encode()) < 8000 for n in notices)
    assert [read_frame(frame) for n in notices for frame in json.loads(n)] == changes
