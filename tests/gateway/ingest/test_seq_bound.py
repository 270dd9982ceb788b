"""A seq far past its edge's is rejected, not taken for a gap (issue 19, finding 3).

One event with seq 10^12 used to leave a permanent `edge.sequence_gap` alert ("999999992532 missing") and a resend
storm. Now a seq more than `max_seq_jump` past the highest stored for the edge's epoch (and past what the edge
reported numbering) is dead-lettered with the reason `seq_out_of_range`: not stored, not acknowledged, no gap.
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from contract import EdgeState, EdgeStatus, Event, Subject, new_event
from gateway.alerts.engine import AlertEngine
from gateway.composition.stores import Stores
from gateway.ingest.sequences import sequence_states
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.storage.tables import events
from tests.clock import SteppedClock
from tests.gateway.test_gateway_e2e import FakeEdge
from tests.infra import Infra
from tests.polling import eventually

SITE, EDGE = "general-hospital", "core-lab-edge"
KEY = (SITE, EDGE)
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
EPOCH = "ep-bound"


def scan(seq: int) -> Event:
    event = new_event(
        "specimen.scanned",
        seq=seq,
        site=SITE,
        edge=EDGE,
        device="sorter-1",
        subject=Subject(kind="specimen", id=f"S{seq % 10**9:09d}"),
        occurred_at=T0 + timedelta(seconds=seq % 86_400),
    )
    return event.model_copy(update={"received_at": event.occurred_at + timedelta(seconds=1)})


def birth(since: datetime = T0) -> EdgeState:
    return EdgeState(state="online", site=SITE, edge=EDGE, since=since, version="test", epoch=EPOCH, first_seq=1)


def report(next_seq: int) -> EdgeStatus:
    return EdgeStatus(
        site=SITE, edge=EDGE, at=T0, epoch=EPOCH, next_seq=next_seq, depth=0, bytes=0, max_bytes=10**9, level=0
    )


async def tracker(store: Stores) -> tuple[int, list[tuple[int, int]]]:
    async with store.db.engine.connect() as connection:
        state = (await sequence_states(connection, [KEY]))[KEY]
    return state.committed_through, state.missing


async def test_a_seq_far_past_the_highest_stored_is_rejected_and_leaves_no_gap(store: Stores) -> None:
    clock = SteppedClock(T0)
    bounded = Stores.build(store.db, GatewaySettings(max_seq_jump=1000), clock=clock)
    await bounded.events.record_edge_state(birth())
    await bounded.events.commit_batch([scan(n) for n in range(1, 6)])
    wild, next_one = scan(10**12), scan(6)
    result = await bounded.events.commit_batch([wild, next_one])
    [rejected] = result.out_of_range
    assert rejected.event.id == wild.id
    assert "seq 1000000000000" in rejected.reason
    assert "999999999995 past the highest seq stored (5)" in rejected.reason
    assert [e.id for e in result.stored] == [next_one.id]  # the wild one is never acknowledged
    assert await tracker(bounded) == (6, [])
    async with store.db.engine.connect() as connection:
        assert (await connection.execute(sa.select(events.c.id).where(events.c.seq > 6))).all() == []
    clock.now = T0 + timedelta(hours=1)
    assert (await AlertEngine(bounded.db, bounded.rules, clock).evaluate()).raised == []

    near = scan(6 + 1000)  # within the bound: a real hole, tracked and alerted as before
    assert (await bounded.events.commit_batch([near])).out_of_range == []
    assert await tracker(bounded) == (6, [(7, 1005)])


async def test_what_the_edge_reported_numbering_is_believed_past_the_jump(store: Stores) -> None:
    bounded = Stores.build(store.db, GatewaySettings(max_seq_jump=10), clock=SteppedClock(T0))
    await bounded.events.record_edge_state(birth())
    await bounded.events.record_edge_status(report(next_seq=50_001))  # a backlog of 50,000 being replayed
    result = await bounded.events.commit_batch([scan(1), scan(50_000), scan(50_001)])
    assert [item.event.seq for item in result.out_of_range] == [50_001]  # not numbered yet by the edge's own word
    assert await tracker(bounded) == (1, [(2, 49_999)])


async def test_an_edge_whose_epoch_is_unknown_is_not_judged(store: Stores) -> None:
    bounded = Stores.build(store.db, GatewaySettings(max_seq_jump=10), clock=SteppedClock(T0))
    result = await bounded.events.commit_batch([scan(1), scan(10**6)])  # no birth: numbering may have restarted
    assert result.out_of_range == []


async def test_over_the_wire_the_wild_seq_is_dead_lettered_and_never_acked(
    infra: Infra, gateway_settings: GatewaySettings
) -> None:
    settings = gateway_settings.model_copy(update={"ingest_batch_wait_ms": 5, "sequence_gap_resend_after_s": 0})
    async with Gateway(settings) as gateway, FakeEdge(infra, store=gateway.store).connected() as edge:
        await edge.publish(birth().model_dump_json().encode(), edge.topics.state, retain=True)

        async def epoch_known() -> bool:
            async with gateway.store.db.engine.connect() as connection:
                return KEY in await sequence_states(connection, [KEY])

        await eventually(epoch_known, what="the birth recorded")
        first, second, wild = scan(1), scan(2), scan(10**12)
        await edge.send(first, second)
        await edge.until_acked(first, second)
        await edge.send(wild)

        async def letters() -> list[str]:
            return [letter.reason for letter in edge.dead_letters]

        [reason] = await eventually(letters, what="the dead letter")
        assert reason.startswith("seq_out_of_range: seq 1000000000000 of general-hospital/core-lab-edge")
        third = scan(3)
        await edge.send(third)
        await edge.until_acked(third)
        assert wild.id not in edge.acked()
        assert all(ack.missing == [] for ack in edge.acks)  # no resend request: nothing is missing
        assert edge.acks[-1].committed_through == 3
        assert gateway.ingest.counters.out_of_range == 1
        assert gateway.ingest.counters.rejected.counts["seq_out_of_range"] == 1
