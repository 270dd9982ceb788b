"""Deliveries: the fold (status never regresses, any order gives the same row), due times, and the projector on
SQLite and PostgreSQL (restocks naming a delivery, the list's filters)."""

import asyncio
import dataclasses
import random
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gateway.projection.runner
from contract import Event
from gateway.composition.stores import Stores
from gateway.projection.transaction import Tx
from gateway.rules.pharmacy import DeliveryRules
from gateway.settings import GatewaySettings
from gateway.tracking.deliveries.fold import STEPS, delivery_steps, fold_delivery, progress
from gateway.tracking.deliveries.store import find_delivery, list_deliveries
from tests.pharmacy_events import (
    PARACETAMOL,
    T0,
    Seq,
    as_stored,
    cabinet_event,
    delivery_event,
    item,
    journey,
)

RULES = DeliveryRules()


def restocked_from(delivery: str, minute: float, seq: int, cabinet: str = "cabinet-1") -> Event:
    return cabinet_event(
        "cabinet.item_restocked",
        cabinet,
        minute,
        seq,
        **item("D1-08", PARACETAMOL, 20, badge="P-1001", delivery=delivery),
    )


def stored(events: list[Event], cabinet_of_restocks: str = "cabinet-1") -> list:  # type: ignore[type-arg]
    """As the store hands events to the fold: restocks carry their cabinet (their subject) in their data."""
    out = []
    for event in events:
        s = as_stored(event)
        if event.type == "cabinet.item_restocked":
            s = dataclasses.replace(s, data={**s.data, "cabinet": event.subject.id})
        out.append(s)
    return out


def test_a_delivery_that_goes_well_is_stocked_with_every_step_timed() -> None:
    row = fold_delivery("D-001", stored(journey()), RULES)
    assert row is not None
    assert (row.status, row.location, row.robot, row.drawer) == ("stocked", "cabinet-1", "robot-1", "A")
    assert (row.order_id, row.ward, row.destination, row.cabinet, row.priority) == (
        "PO-77",
        "ward-3a",
        "ward-3a",
        "cabinet-1",
        "stat",
    )
    assert [(line.gtin, line.quantity) for line in row.items] == [(PARACETAMOL, 20)]
    assert [row.created_at, row.assigned_at, row.loaded_at, row.departed_at, row.arrived_at] == [
        T0 + timedelta(minutes=m) for m in (0, 1, 4, 5, 15)
    ]
    assert (row.handed_over_at, row.handed_over_by) == (T0 + timedelta(minutes=20), "N-40217")
    assert row.stocked_at == T0 + timedelta(minutes=25)
    assert row.due_at == T0 + timedelta(minutes=30)  # stat: 30 minutes from creation
    assert (row.event_count, row.last_event_at) == (7, T0 + timedelta(minutes=25))


def test_where_it_is_follows_the_robot_then_the_ward_then_the_cabinet() -> None:
    events = journey()
    places = [fold_delivery("D-001", stored(events[: n + 1]), RULES) for n in range(len(events))]
    assert [(r.status, r.location) for r in places if r is not None] == [
        ("created", None),
        ("assigned", None),
        ("loaded", None),
        ("departed", "pharmacy"),
        ("arrived", "ward-3a"),
        ("handed_over", "ward-3a"),
        ("stocked", "cabinet-1"),
    ]


def test_a_late_earlier_event_fills_in_its_step_without_regressing_the_status() -> None:
    created, accepted, loaded, departed, arrived, *_ = journey()
    row = fold_delivery("D-001", stored([created, accepted, loaded, arrived, departed]), RULES)  # departed came late
    assert row is not None
    assert (row.status, row.location, row.departed_at) == ("arrived", "ward-3a", T0 + timedelta(minutes=5))


def test_a_failure_outranks_the_steps_before_the_hand_over_and_keeps_its_reason() -> None:
    created, accepted, loaded, departed, *_ = journey()
    failed = delivery_event("delivery.failed", "D-001", 9, 99, robot="robot-1", reason="path blocked for 8 min")
    row = fold_delivery("D-001", stored([failed, departed, created, loaded, accepted]), RULES)
    assert row is not None
    assert (row.status, row.failure_reason, row.failed_at) == (
        "failed",
        "path blocked for 8 min",
        T0 + timedelta(minutes=9),
    )
    assert row.location == "pharmacy"  # the robot's last node
    done = progress(row, T0 + timedelta(hours=5))
    assert (done.step, done.of, done.overdue) == (4, 7, False)  # created, assigned, loaded, departed; not overdue


def test_items_handed_over_count_as_delivered_even_after_a_reported_failure() -> None:
    events = journey()[:6]
    failed = delivery_event("delivery.failed", "D-001", 17, 99, robot="robot-1", reason="handover timeout")
    row = fold_delivery("D-001", stored([*events, failed]), RULES)
    assert row is not None
    assert (row.status, row.failure_reason) == ("handed_over", "handover timeout")


def test_without_a_creation_the_due_time_runs_from_the_first_event_at_the_routine_target() -> None:
    accepted = delivery_event(
        "delivery.accepted", "D-002", 3, 1, robot="robot-2", order_id="vda-2", destination="icu", drawer="B"
    )
    row = fold_delivery("D-002", stored([accepted]), RULES)
    assert row is not None
    assert (row.status, row.priority, row.created_at) == ("assigned", None, None)
    assert row.due_at == T0 + timedelta(minutes=3 + 120)
    quicker = fold_delivery("D-002", stored([accepted]), DeliveryRules(target_minutes={"stat": 10, "routine": 45}))
    assert quicker is not None
    assert quicker.due_at == T0 + timedelta(minutes=3 + 45)


def test_a_delivery_is_overdue_only_while_it_is_on_its_way() -> None:
    events = journey(priority="stat")
    on_its_way = fold_delivery("D-001", stored(events[:4]), RULES)
    handed_over = fold_delivery("D-001", stored(events[:6]), RULES)
    assert on_its_way is not None
    assert handed_over is not None
    assert not on_its_way.overdue(T0 + timedelta(minutes=30))  # due at 08:30 exactly: not yet late
    assert on_its_way.overdue(T0 + timedelta(minutes=31))
    assert not handed_over.overdue(T0 + timedelta(minutes=31))
    assert progress(on_its_way, T0 + timedelta(minutes=31)).step == 4


def test_a_cabinet_restock_naming_the_delivery_stocks_it() -> None:
    events = journey()[:6]
    row = fold_delivery("D-001", stored([*events, restocked_from("D-001", 24, 50, "cabinet-7")]), RULES)
    assert row is not None
    assert (row.status, row.stocked_at, row.cabinet, row.location) == (
        "stocked",
        T0 + timedelta(minutes=24),
        "cabinet-7",
        "cabinet-7",
    )
    other = fold_delivery("D-001", stored([*events, restocked_from("D-999", 24, 50)]), RULES)
    assert other is not None
    assert other.status == "handed_over"


def test_a_restock_alone_makes_no_delivery() -> None:
    assert fold_delivery("D-001", stored([restocked_from("D-001", 24, 50)]), RULES) is None


def test_steps_say_when_what_where_and_who() -> None:
    steps = delivery_steps("D-001", stored([*journey()[:6], restocked_from("D-001", 24, 50)]))
    assert [(s.status, s.place, s.robot, s.badge, s.detail) for s in steps] == [
        ("created", None, None, None, None),
        ("assigned", None, "robot-1", None, "A"),
        ("loaded", None, "robot-1", "P-1001", "A"),
        ("departed", "pharmacy", "robot-1", None, None),
        ("arrived", "ward-3a", "robot-1", None, None),
        ("handed_over", "ward-3a", "robot-1", "N-40217", "A"),
        ("stocked", "cabinet-1", None, "P-1001", "bin D1-08"),
    ]
    assert [s.at for s in steps] == sorted(s.at for s in steps)


def _history() -> list[Event]:
    n = Seq()
    events = journey(seq=n)
    events.insert(5, delivery_event("delivery.failed", "D-001", 16, n(), robot="robot-1", reason="door jammed"))
    return [*events, restocked_from("D-001", 26, n())]


HISTORY = _history()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(range(len(HISTORY))), min_size=1, max_size=20), st.randoms(use_true_random=False))
def test_any_order_and_duplication_of_the_events_gives_the_same_row_and_steps(
    picks: list[int], rng: random.Random
) -> None:
    chosen = [HISTORY[i] for i in picks]
    in_order = [HISTORY[i] for i in sorted(set(picks))]
    expected_row = fold_delivery("D-001", stored(in_order), RULES)
    expected_steps = delivery_steps("D-001", stored(in_order))
    shuffled = chosen + rng.sample(chosen, k=len(chosen) // 2)  # duplicates too
    rng.shuffle(shuffled)
    assert fold_delivery("D-001", stored(shuffled), RULES) == expected_row
    assert delivery_steps("D-001", stored(shuffled)) == expected_steps


# -- the projector, on SQLite and PostgreSQL ----------------------------------------------------------------------
async def test_the_projector_gives_the_same_row_for_batches_in_any_order(store: Stores) -> None:
    ordered, shuffled = journey("D-A"), journey("D-B")
    for event in ordered:
        await store.events.commit_batch([event])
    for index in (6, 0, 4, 2, 5, 1, 3):
        await store.events.commit_batch([shuffled[index]])
    await store.events.commit_batch(shuffled[2:4])  # duplicates change nothing
    async with store.db.engine.connect() as connection:
        a, b = await find_delivery(connection, "D-A"), await find_delivery(connection, "D-B")
    assert a is not None
    assert b is not None
    assert dataclasses.replace(a[0], delivery="D-B") == b[0]
    assert b[0] == fold_delivery("D-B", stored(journey("D-B")), RULES)
    assert [s.status for s in b[1]] == [*STEPS]


async def test_a_restock_stored_before_or_after_the_delivery_stocks_it(store: Stores) -> None:
    early, late = journey("D-E")[:6], journey("D-L")[:6]
    await store.events.commit_batch([restocked_from("D-E", 24, 100)])  # the cabinet's edge was quicker
    await store.events.commit_batch(early)
    await store.events.commit_batch(late)
    await store.events.commit_batch([restocked_from("D-L", 24, 101, "cabinet-2")])
    async with store.db.engine.connect() as connection:
        found = {d: await find_delivery(connection, d) for d in ("D-E", "D-L")}
    rows = {d: f[0] for d, f in found.items() if f is not None}
    assert {d: (r.status, r.cabinet, r.stocked_at) for d, r in rows.items()} == {
        "D-E": ("stocked", "cabinet-1", T0 + timedelta(minutes=24)),
        "D-L": ("stocked", "cabinet-2", T0 + timedelta(minutes=24)),
    }
    steps = found["D-L"][1] if found["D-L"] else []
    assert steps[-1].type == "cabinet.item_restocked"
    assert steps[-1].place == "cabinet-2"


async def test_the_list_filters_by_status_ward_robot_progress_and_overdue(store: Stores) -> None:
    n = Seq()
    stat_on_its_way = journey("D-1", priority="stat", seq=n)[:4]  # departed at 08:05, due 08:30
    routine_on_its_way = journey("D-2", priority="routine", seq=n)[:5]  # arrived, due 10:00
    done = journey("D-3", seq=n)
    elsewhere = [
        delivery_event(
            "delivery.accepted", "D-4", 2, n(), device="robot-2", robot="robot-2", order_id="v", destination="icu"
        )
    ]
    await store.events.commit_batch([*stat_on_its_way, *routine_on_its_way, *done, *elsewhere])

    async def ids(**filters: object) -> tuple[list[str], int]:
        async with store.db.engine.connect() as connection:
            rows, count = await list_deliveries(connection, limit=50, offset=0, **filters)  # type: ignore[arg-type]
        return [r.delivery for r in rows], count

    assert await ids() == (["D-3", "D-2", "D-1", "D-4"], 4)  # the most recently active first
    assert await ids(status="stocked") == (["D-3"], 1)
    assert await ids(ward="ward-3a", in_progress=True) == (["D-2", "D-1"], 2)
    assert await ids(robot="robot-2") == (["D-4"], 1)
    assert await ids(in_progress=False) == (["D-3"], 1)
    assert await ids(overdue_at=T0 + timedelta(minutes=45)) == (["D-1"], 1)
    assert await ids(overdue_at=T0 + timedelta(hours=3)) == (["D-2", "D-1", "D-4"], 3)
    async with store.db.engine.connect() as connection:
        page, total = await list_deliveries(connection, limit=1, offset=5)
    assert (page, total) == ([], 4)


async def test_two_batches_about_one_delivery_projected_at_once_both_count(
    store: Stores, gateway_settings: GatewaySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pharmacy system's `created` (through the API) and the robot's `accepted` (through MQTT), stored by two
    gateways, are projected by both at the same moment: the pass that tries the site's lock second finds it taken
    and leaves the site's events to the first, which folds both into the row."""
    if store.db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: two transactions never fold at the same time")
    created, accepted = journey("D-7")[:2]
    other = await Stores.open(gateway_settings)  # a second replica on the same database
    try:
        await store.events.ingest_batch([created])
        await other.events.ingest_batch([accepted])
        both_in_a_pass = asyncio.Barrier(2)
        lock = gateway.projection.runner.share_projection_lock

        async def after_both_began(tx: Tx) -> None:
            async with asyncio.timeout(10):
                await both_in_a_pass.wait()
            await lock(tx)

        monkeypatch.setattr(gateway.projection.runner, "share_projection_lock", after_both_began)
        passes = await asyncio.gather(store.projection.project_pending(), other.projection.project_pending())
    finally:
        await other.close()
    assert sorted(len(p.events) for p in passes) == [0, 2]  # one pass took both; the other found nothing left
    assert await store.projection.backlog() == (0, 0)
    async with store.db.engine.connect() as connection:
        found = await find_delivery(connection, "D-7")
    assert found is not None
    row, _ = found
    assert (row.status, row.ward, row.robot, row.event_count) == ("assigned", "ward-3a", "robot-1", 2)
