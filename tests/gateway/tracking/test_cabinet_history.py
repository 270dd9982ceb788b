"""The cabinet projector reads only the events the fold needs, and stores the same row and stock as a fold over all.

Histories are drawn at random: door runs that began before the last snapshot, no snapshot at all, alarms raised
twice, events at the snapshot's very instant, and batches committed in any order.
"""

import random
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from contract import Event
from gateway.composition.stores import Stores
from gateway.tracking.cabinets.fold import CabinetState, fold_cabinet
from gateway.tracking.cabinets.history import Heading, bodies_needed
from gateway.tracking.cabinets.store import find_cabinets, stock_of
from tests.pharmacy_events import IBUPROFEN, INSULIN, PARACETAMOL, SITE, as_stored, cabinet_event, item

LINES = (("D1-01", PARACETAMOL), ("D1-02", IBUPROFEN), ("F-01", INSULIN))
DOOR = {"open": "cabinet.door_opened", "close": "cabinet.door_closed"}
MOVES = {"remove": "cabinet.item_removed", "return": "cabinet.item_returned", "restock": "cabinet.item_restocked"}


def random_history(rng: random.Random, cabinet: str, size: int) -> list[Event]:
    """`size` events of one cabinet, several on the same minute (ties); alarms often share a sequence number too."""
    history = []
    for seq in range(1, size + 1):
        minute = rng.randint(0, size // 2)  # about two events a minute: many share an instant
        kind = rng.choices(
            ("open", "close", "remove", "return", "restock", "inventory", "raise", "clear"),
            weights=(4, 4, 5, 1, 1, 1, 1, 1),
        )[0]
        bin_, gtin = rng.choice(LINES)
        badge = f"N-{rng.randint(1, 3)}"
        if kind in DOOR:
            history.append(cabinet_event(DOOR[kind], cabinet, minute, seq, badge=badge))
        elif kind in MOVES:
            moved = item(bin_, gtin, rng.randint(1, 5), badge=badge)
            history.append(cabinet_event(MOVES[kind], cabinet, minute, seq, **moved))
        elif kind == "inventory":
            bins = [item(b, g, rng.randint(0, 30)) for b, g in rng.sample(LINES, rng.randint(1, 3))]
            history.append(cabinet_event("cabinet.inventory_reported", cabinet, minute, seq, bins=bins))
        else:
            alarm = rng.choice(("door_ajar", "temperature_out_of_range"))
            type_ = "cabinet.alarm_raised" if kind == "raise" else "cabinet.alarm_cleared"
            history.append(cabinet_event(type_, cabinet, minute, rng.choice((seq, 1)), alarm=alarm))
    return history


def heading(event: Event) -> Heading:
    return Heading(event.id, event.type, event.occurred_at, event.seq)


def as_projected(state: CabinetState | None, events: list[Event]) -> CabinetState | None:
    """What the projector stores: the fold of the chosen events, counted and dated over all of them."""
    if state is None:
        return None
    row = replace(state.row, event_count=len(events), last_event_at=max(e.occurred_at for e in events))
    return CabinetState(row=row, stock=state.stock)


@settings(max_examples=300, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=1, max_value=40))
def test_the_fold_of_the_needed_bodies_is_the_fold_of_every_event(rng: random.Random, size: int) -> None:
    history = random_history(rng, "cabinet-1", size)
    needed = bodies_needed(heading(e) for e in history)
    chosen = [as_stored(e) for e in history if e.id in needed]
    expected = fold_cabinet(SITE, "cabinet-1", [as_stored(e) for e in history])
    assert as_projected(fold_cabinet(SITE, "cabinet-1", chosen), history) == expected


async def test_the_projector_stores_the_fold_of_every_event_for_random_histories_and_batches(store: Stores) -> None:
    rng = random.Random(20261123)
    histories = {f"cabinet-{n}": random_history(rng, f"cabinet-{n}", rng.randint(1, 60)) for n in range(25)}
    pending = [e for history in histories.values() for e in history]
    rng.shuffle(pending)
    while pending:  # batches of any size and mix, some events sent twice
        size = rng.randint(1, 40)
        batch, pending = pending[:size], pending[size:]
        await store.events.commit_batch(batch + rng.sample(batch, k=len(batch) // 4))
    async with store.db.engine.connect() as connection:
        stock = await stock_of(connection)
        for cabinet, history in histories.items():
            expected = fold_cabinet(SITE, cabinet, [as_stored(e) for e in history])
            assert expected is not None
            (row,) = await find_cabinets(connection, cabinet)
            assert (row, tuple(stock[(SITE, cabinet)])) == (expected.row, expected.stock), cabinet
