"""Per-edge sequence gaps: tracked in the shared database, acked as `committed_through` + `missing`, alerted.

Stores-level tests run on SQLite and PostgreSQL (`infra`); two stores on one PostgreSQL database stand for two
gateway replicas writing at once. The wire tests run a gateway and show what the edge is told.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from contract import EdgeState, Event, Subject, new_event
from gateway.alerts.alert_store import AlertFilter, list_alerts
from gateway.alerts.engine import AlertEngine
from gateway.composition.stores import Stores
from gateway.ingest.sequences import merge, missing_ranges, ranges_text, sequence_states
from gateway.projection.transaction import INTEGRATION_EDGE
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.storage.reliability_tables import edge_sequences
from tests.clock import SteppedClock
from tests.gateway.test_gateway_e2e import FakeEdge
from tests.infra import Infra
from tests.polling import eventually

SITE, EDGE = "general-hospital", "core-lab-edge"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
KEY = (SITE, EDGE)


def scan(seq: int, edge: str = EDGE) -> Event:
    event = new_event(
        "specimen.scanned",
        seq=seq,
        site=SITE,
        edge=edge,
        device="sorter-1",
        subject=Subject(kind="specimen", id=f"S{seq:06d}"),
        occurred_at=T0 + timedelta(seconds=seq % 86_400),
    )
    return event.model_copy(update={"received_at": event.occurred_at + timedelta(seconds=1)})


def birth(epoch: str, since: datetime = T0, first_seq: int = 1) -> EdgeState:
    return EdgeState(
        state="online", site=SITE, edge=EDGE, since=since, version="test", epoch=epoch, first_seq=first_seq
    )


# -- the interval arithmetic -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("through", "ranges", "seqs", "expected"),
    [
        (0, [], [1, 2, 3], (3, [])),
        (0, [], [2, 3, 7], (0, [(2, 3), (7, 7)])),
        (0, [(2, 3), (7, 7)], [1], (3, [(7, 7)])),
        (3, [(7, 7)], [4, 5, 6], (7, [])),
        (5, [], [2, 5], (5, [])),  # old seqs (a resend of something committed) change nothing
        (0, [(5, 9)], [11, 10], (0, [(5, 11)])),
    ],
)
def test_merge_absorbs_what_joins_and_keeps_the_rest_as_runs(
    through: int, ranges: list[tuple[int, int]], seqs: list[int], expected: tuple[int, list[tuple[int, int]]]
) -> None:
    assert merge(through, ranges, seqs) == expected


def test_missing_ranges_are_the_holes_before_and_between_the_runs() -> None:
    assert missing_ranges(3, [(7, 9), (12, 12)]) == [(4, 6), (10, 11)]
    assert missing_ranges(3, []) == []
    assert ranges_text([(4, 6), (10, 10)]) == "4-6, 10"


# -- in the commit transaction ---------------------------------------------------------------------------------
async def tracker(store: Stores) -> tuple[str | None, int, list[tuple[int, int]]]:
    async with store.db.engine.connect() as connection:
        state = (await sequence_states(connection, [KEY]))[KEY]
    return state.epoch, state.committed_through, state.missing


async def test_the_tracker_follows_commits_in_any_order_and_the_batch_result_reports_it(store: Stores) -> None:
    await store.events.record_edge_state(birth("ep-a"))
    result = await store.events.commit_batch([scan(1), scan(2), scan(5)])
    assert result.sequences[KEY].committed_through == 2
    assert result.sequences[KEY].missing == [(3, 4)]
    assert result.sequences[KEY].gap_since is not None
    await store.events.commit_batch([scan(4)])
    assert await tracker(store) == ("ep-a", 2, [(3, 3)])
    result = await store.events.commit_batch([scan(3), scan(3)])  # the missing one, twice
    assert (result.sequences[KEY].committed_through, result.sequences[KEY].gap_since) == (5, None)


async def test_an_edge_that_lost_its_outbox_starts_again_at_its_new_epoch(store: Stores) -> None:
    await store.events.record_edge_state(birth("ep-a"))
    await store.events.commit_batch([scan(n) for n in range(1, 11)])
    assert await tracker(store) == ("ep-a", 10, [])
    await store.events.record_edge_state(birth("ep-b", since=T0 + timedelta(hours=1)))
    assert await tracker(store) == ("ep-b", 0, [])
    fresh = [scan(n) for n in (1, 2, 3)]  # new ids, old numbers: stored, and the new epoch is contiguous
    fresh = [e.model_copy(update={"occurred_at": e.occurred_at + timedelta(hours=2)}) for e in fresh]
    result = await store.events.commit_batch(fresh)
    assert result.inserted == 3
    assert await tracker(store) == ("ep-b", 3, [])
    await store.events.record_edge_state(birth("ep-a", since=T0))  # a stale birth of the old connection changes nothing
    assert await tracker(store) == ("ep-b", 3, [])


async def test_an_edge_seen_before_epochs_existed_starts_after_what_is_stored(store: Stores) -> None:
    await store.events.commit_batch([scan(n) for n in range(1, 101)])  # no birth with an epoch yet
    await store.events.record_edge_state(birth("ep-a"))  # the upgraded edge: first_seq 1, history already stored
    await store.events.commit_batch([scan(101)])
    assert await tracker(store) == ("ep-a", 101, [])


async def test_a_hole_in_the_history_of_an_upgraded_edge_stays_a_hole(store: Stores) -> None:
    await store.events.commit_batch([scan(n) for n in range(1, 11) if n != 4])  # seq 4 never arrived
    await store.events.record_edge_state(birth("ep-a"))
    assert await tracker(store) == ("ep-a", 3, [(4, 4)])  # never "committed through 10": the edge deletes by it
    await store.events.commit_batch([scan(4)])
    assert await tracker(store) == ("ep-a", 10, [])


async def test_integration_events_are_never_tracked(store: Stores) -> None:
    await store.events.commit_batch([scan(10**12, edge=INTEGRATION_EDGE)])
    async with store.db.engine.connect() as connection:
        rows = (await connection.execute(sa.select(edge_sequences))).all()
    assert rows == []


@pytest.fixture
async def replica(gateway_settings: GatewaySettings, store: Stores) -> AsyncIterator[Stores]:
    """A second store on the same database: another gateway replica."""
    other = await Stores.open(gateway_settings)
    try:
        yield other
    finally:
        await other.close()


async def test_two_replicas_committing_interleaved_batches_at_once_leave_no_false_gap(
    infra: Infra, store: Stores, replica: Stores
) -> None:
    await store.events.record_edge_state(birth("ep-a"))
    seqs = list(range(1, 401))
    odd = [scan(n) for n in seqs if (n // 10) % 2 == 1]  # 10-19, 30-39, ...: the shared stream split in two
    even = [scan(n) for n in seqs if (n // 10) % 2 == 0]

    async def commit_all(target: Stores, events: list[Event]) -> None:
        for start in range(0, len(events), 10):
            await target.events.commit_batch(events[start : start + 10])

    await asyncio.gather(commit_all(store, odd), commit_all(replica, even))
    assert await tracker(store) == ("ep-a", 400, [])


# -- the alert -------------------------------------------------------------------------------------------------
async def test_a_gap_open_longer_than_the_threshold_raises_an_alert_that_clears_when_it_closes(store: Stores) -> None:
    clock = SteppedClock(T0)
    store = Stores.build(store.db, GatewaySettings(), clock=clock)  # gap times on the test's clock
    engine = AlertEngine(store.db, store.rules, clock)
    await store.events.record_edge_state(birth("ep-a"))
    await store.events.commit_batch([scan(1), scan(4), scan(9)])
    clock.now = T0 + timedelta(minutes=4)
    assert (await engine.evaluate()).raised == []  # younger than sequence_gap_minutes (5)
    clock.now = T0 + timedelta(minutes=6)
    [raised] = (await engine.evaluate()).raised
    async with store.db.engine.connect() as connection:
        [alert], _ = await list_alerts(connection, AlertFilter(kind="edge.sequence_gap"), limit=10, offset=0)
    assert alert.id == raised
    assert (alert.subject_kind, alert.subject_id, alert.severity) == ("edge", EDGE, "warning")
    assert alert.details["missing"] == [[2, 3], [5, 8]]
    assert "seq 2-3, 5-8" in alert.message
    await store.events.commit_batch([scan(n) for n in (2, 3, 5, 6, 7, 8)])
    assert (await engine.evaluate()).cleared == [raised]


# -- over the wire ---------------------------------------------------------------------------------------------
@pytest.fixture
async def quick_gateway(gateway_settings: GatewaySettings) -> AsyncIterator[Gateway]:
    settings = gateway_settings.model_copy(update={"ingest_batch_wait_ms": 5, "sequence_gap_resend_after_s": 0})
    async with Gateway(settings) as running:
        yield running


async def test_the_ack_tells_the_edge_how_far_it_is_committed_and_which_seqs_to_resend(
    infra: Infra, quick_gateway: Gateway
) -> None:
    async with FakeEdge(infra, store=quick_gateway.store).connected() as edge:
        await edge.publish(birth("ep-wire").model_dump_json().encode(), edge.topics.state, retain=True)

        async def epoch_known() -> bool:
            async with quick_gateway.store.db.engine.connect() as connection:
                return KEY in await sequence_states(connection, [KEY])

        await eventually(epoch_known, what="the birth recorded")
        first, second, fifth = scan(1), scan(2), scan(5)
        await edge.send(first, second)
        await edge.until_acked(first, second)
        await edge.send(fifth)
        await edge.until_acked(fifth)
        last = next(a for a in reversed(edge.acks) if fifth.id in a.ids)
        assert (last.epoch, last.committed_through, last.missing) == ("ep-wire", 2, [(3, 4)])
        third, fourth = scan(3), scan(4)
        await edge.send(third, fourth)
        await edge.until_acked(third, fourth)

        async def closed() -> tuple[int | None, list[tuple[int, int]]]:
            ack = edge.acks[-1]
            return ack.committed_through, ack.missing

        assert await eventually(closed, lambda v: v == (5, []), what="the gap closed in an ack") == (5, [])
    assert quick_gateway.ingest.counters.resend_requests >= 1
