"""Cabinets: the fold (door, alarms, last access, stock = last snapshot + movements after it) in any order, and the
projector and stock queries on SQLite and PostgreSQL."""

import random
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from contract import Event
from gateway.composition.stores import Stores
from gateway.tracking.cabinets.fold import fold_cabinet
from gateway.tracking.cabinets.store import access_log, cabinet_items, find_cabinets, stock_of
from tests.pharmacy_events import EXPIRY, IBUPROFEN, INSULIN, PARACETAMOL, SITE, T0, Seq, as_stored, cabinet_event, item


def at(minute: float) -> object:
    return T0 + timedelta(minutes=minute)


def shift(n: Seq | None = None, cabinet: str = "cabinet-1") -> list[Event]:
    """A morning: snapshot, a nurse takes and returns, a fridge alarm, the pharmacy restocks, a door left open."""
    n = n or Seq()
    c = cabinet
    return [
        cabinet_event(
            "cabinet.inventory_reported",
            c,
            0,
            n(),
            bins=[item("D1-01", PARACETAMOL, 20), item("D1-02", IBUPROFEN, 5), item("F-01", INSULIN, 8)],
        ),
        cabinet_event("cabinet.door_opened", c, 10, n(), badge="N-40217"),
        cabinet_event("cabinet.item_removed", c, 11, n(), **item("D1-01", PARACETAMOL, 2, badge="N-40217")),
        cabinet_event(
            "cabinet.item_removed", c, 12, n(), **item("D1-02", IBUPROFEN, 5, badge="N-40217", order_id="MO-9")
        ),
        cabinet_event("cabinet.item_returned", c, 13, n(), **item("D1-01", PARACETAMOL, 1, badge="N-40217")),
        cabinet_event("cabinet.door_closed", c, 14, n(), badge="N-40217"),
        cabinet_event("cabinet.alarm_raised", c, 20, n(), alarm="temperature_out_of_range", detail="fridge 9.1 °C"),
        cabinet_event("cabinet.alarm_raised", c, 22, n(), alarm="temperature_out_of_range", detail="fridge 9.8 °C"),
        cabinet_event("cabinet.door_opened", c, 30, n(), badge="P-1001"),
        cabinet_event(
            "cabinet.item_restocked", c, 31, n(), **item("D1-02", IBUPROFEN, 10, lot="L02B002", badge="P-1001")
        ),
        cabinet_event("cabinet.alarm_raised", c, 33, n(), alarm="door_ajar", detail="door open for 120 s"),
    ]


def test_stock_is_the_snapshot_plus_every_movement_after_it() -> None:
    state = fold_cabinet(SITE, "cabinet-1", [as_stored(e) for e in shift()])
    assert state is not None
    assert [(s.bin, s.gtin, s.lot, s.quantity) for s in state.stock] == [
        ("D1-01", PARACETAMOL, "L01A001", 19),  # 20 - 2 + 1
        ("D1-02", IBUPROFEN, "L01A001", 0),  # emptied, still listed
        ("D1-02", IBUPROFEN, "L02B002", 10),  # a new lot restocked
        ("F-01", INSULIN, "L01A001", 8),
    ]
    assert {s.expiry for s in state.stock} == {EXPIRY}
    assert state.stock[0].updated_at == at(13)


def test_door_alarms_and_last_access() -> None:
    state = fold_cabinet(SITE, "cabinet-1", [as_stored(e) for e in shift()])
    assert state is not None
    row = state.row
    assert (row.door, row.door_since) == ("open", at(30))
    assert (row.last_access_at, row.last_access_by) == (at(31), "P-1001")
    assert [(a.alarm, a.since, a.detail) for a in row.alarms] == [
        ("temperature_out_of_range", at(20), "fridge 9.8 °C"),  # raised again: active since the first raise
        ("door_ajar", at(33), "door open for 120 s"),
    ]
    assert (row.inventory_at, row.last_event_at, row.event_count) == (at(0), at(33), 11)


def test_a_cleared_alarm_is_no_longer_active() -> None:
    cleared = cabinet_event("cabinet.alarm_cleared", "cabinet-1", 25, 99, alarm="temperature_out_of_range")
    state = fold_cabinet(SITE, "cabinet-1", [as_stored(e) for e in [*shift(), cleared]])
    assert state is not None
    assert [a.alarm for a in state.row.alarms] == ["door_ajar"]


def test_a_new_snapshot_replaces_what_came_before_and_a_late_movement_before_it_changes_nothing() -> None:
    n = Seq()
    events = shift(n)
    snapshot = cabinet_event("cabinet.inventory_reported", "cabinet-1", 40, n(), bins=[item("D1-01", PARACETAMOL, 30)])
    late_removal = cabinet_event("cabinet.item_removed", "cabinet-1", 35, n(), **item("D1-01", PARACETAMOL, 4))
    after = cabinet_event("cabinet.item_removed", "cabinet-1", 41, n(), **item("D1-01", PARACETAMOL, 3))
    state = fold_cabinet(SITE, "cabinet-1", [as_stored(e) for e in [*events, snapshot, after, late_removal]])
    assert state is not None
    assert [(s.bin, s.quantity) for s in state.stock] == [("D1-01", 27)]
    assert state.row.inventory_at == at(40)


def test_before_any_snapshot_movements_count_and_never_go_below_zero() -> None:
    events = [
        cabinet_event("cabinet.item_removed", "cabinet-2", 1, 1, **item("D1-01", PARACETAMOL, 3)),
        cabinet_event("cabinet.item_restocked", "cabinet-2", 2, 2, **item("D1-01", PARACETAMOL, 10)),
        cabinet_event("cabinet.item_restocked", "cabinet-2", 3, 3, **item("D1-02", IBUPROFEN, 4)),
    ]
    state = fold_cabinet(SITE, "cabinet-2", [as_stored(e) for e in events])
    assert state is not None
    assert [(s.bin, s.quantity) for s in state.stock] == [("D1-01", 10), ("D1-02", 4)]
    assert (state.row.door, state.row.inventory_at) == ("unknown", None)


def test_no_events_no_cabinet() -> None:
    assert fold_cabinet(SITE, "cabinet-1", []) is None


HISTORY = shift()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(range(len(HISTORY))), min_size=1, max_size=25), st.randoms(use_true_random=False))
def test_any_order_and_duplication_of_the_events_gives_the_same_cabinet(picks: list[int], rng: random.Random) -> None:
    chosen = [as_stored(HISTORY[i]) for i in picks]
    expected = fold_cabinet(SITE, "cabinet-1", [as_stored(HISTORY[i]) for i in sorted(set(picks))])
    shuffled = chosen + rng.sample(chosen, k=len(chosen) // 2)
    rng.shuffle(shuffled)
    assert fold_cabinet(SITE, "cabinet-1", shuffled) == expected


# -- the projector and queries, on SQLite and PostgreSQL ----------------------------------------------------------
async def test_the_projector_stores_the_same_cabinet_and_stock_for_batches_in_any_order(store: Stores) -> None:
    in_order, shuffled = shift(cabinet="cabinet-1"), shift(cabinet="cabinet-2")
    for event in in_order:
        await store.events.commit_batch([event])
    for index in (10, 3, 0, 7, 1, 9, 5, 2, 8, 4, 6):
        await store.events.commit_batch([shuffled[index]])
    await store.events.commit_batch(shuffled[:3])  # duplicates change nothing
    async with store.db.engine.connect() as connection:
        (one,), (two,) = await find_cabinets(connection, "cabinet-1"), await find_cabinets(connection, "cabinet-2")
        stock = await stock_of(connection)
    assert one.cabinet == "cabinet-1"
    assert (two.door, two.event_count, [a.alarm for a in two.alarms]) == (
        "open",
        11,
        ["temperature_out_of_range", "door_ajar"],
    )
    assert one.alarms == two.alarms
    assert stock[(SITE, "cabinet-1")] == stock[(SITE, "cabinet-2")]
    expected = fold_cabinet(SITE, "cabinet-2", [as_stored(e) for e in shuffled])
    assert expected is not None
    assert (two, tuple(stock[(SITE, "cabinet-2")])) == (expected.row, expected.stock)


async def test_a_new_snapshot_removes_lines_it_no_longer_lists(store: Stores) -> None:
    await store.events.commit_batch(shift())
    snapshot = cabinet_event("cabinet.inventory_reported", "cabinet-1", 60, 99, bins=[item("F-01", INSULIN, 6)])
    await store.events.commit_batch([snapshot])
    async with store.db.engine.connect() as connection:
        stock = await stock_of(connection, [(SITE, "cabinet-1"), (SITE, "cabinet-9")])
    assert [(s.bin, s.quantity) for s in stock[(SITE, "cabinet-1")]] == [("F-01", 6)]
    assert stock[(SITE, "cabinet-9")] == []  # never heard of: nothing in it


async def test_cabinet_items_lists_what_the_given_bins_hold(store: Stores) -> None:
    await store.events.commit_batch(shift())
    async with store.db.engine.connect() as connection:
        fridge = await cabinet_items(connection, SITE, "cabinet-1", ["F-01", "F-02"])
        everything = await cabinet_items(connection, SITE, "cabinet-1", None)
        elsewhere = await cabinet_items(connection, "other-site", "cabinet-1", None)
    assert [(i.cabinet, i.line.bin, i.line.gtin, i.line.quantity, i.line.expiry) for i in fridge] == [
        ("cabinet-1", "F-01", INSULIN, 8, EXPIRY)
    ]
    # The emptied ibuprofen lot is not an item the cabinet holds.
    assert [(i.line.bin, i.line.lot) for i in everything] == [
        ("D1-01", "L01A001"),
        ("D1-02", "L02B002"),
        ("F-01", "L01A001"),
    ]
    assert elsewhere == []


async def test_the_access_log_lists_door_and_item_events_in_a_window(store: Stores) -> None:
    await store.events.commit_batch(shift())
    async with store.db.engine.connect() as connection:
        records, total = await access_log(connection, SITE, "cabinet-1", since=at(11), until=at(31), limit=3, offset=0)
    assert total == 5  # removed, removed, returned, closed, opened; alarms are not access
    assert [(r.event.type, r.event.data.get("badge")) for r in records] == [
        ("cabinet.item_removed", "N-40217"),
        ("cabinet.item_removed", "N-40217"),
        ("cabinet.item_returned", "N-40217"),
    ]
    assert records[1].event.data["order_id"] == "MO-9"
