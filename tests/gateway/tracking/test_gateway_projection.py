"""The specimen fold is order-independent and never regresses: a property of the pure projection logic."""

import random
from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from gateway.storage.stored_event import StoredEvent
from gateway.tracking.specimens.fold import custody_order, fold_specimen

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
DATA = {
    "specimen.scanned": {"input_rack": 1, "input_position": 2},
    "specimen.sorted": {"lane": 3, "rack": 1, "position": 12},
    "specimen.rejected": {"reason": "no_read", "lane": 9},
}


def event(n: int, kind: str, second: int, seq: int, device: str = "sorter-1") -> StoredEvent:
    at = T0 + timedelta(seconds=second)
    return StoredEvent(
        id=UUID(int=n),
        seq=seq,
        type=kind,
        occurred_at=at,
        received_at=at,
        site="general-hospital",
        edge="core-lab-edge",
        device=device,
        data=DATA[kind],
    )


@st.composite
def histories(draw: st.DrawFn) -> list[StoredEvent]:
    """A specimen's events, with ties in time (same instant, same seq) drawn on purpose."""
    size = draw(st.integers(min_value=1, max_value=8))
    return [
        event(
            n,
            draw(st.sampled_from(sorted(DATA))),
            draw(st.integers(min_value=0, max_value=3)),
            draw(st.integers(min_value=1, max_value=4)),
            draw(st.sampled_from(["sorter-1", "sorter-2"])),
        )
        for n in range(size)
    ]


@given(histories(), st.randoms(use_true_random=False))
def test_the_same_events_in_any_order_give_the_same_row(history: list[StoredEvent], rnd: random.Random) -> None:
    shuffled = list(history)
    rnd.shuffle(shuffled)
    assert fold_specimen("S1", shuffled) == fold_specimen("S1", history)
    assert sorted(shuffled, key=custody_order) == sorted(history, key=custody_order)


@given(histories(), st.integers(min_value=0, max_value=7))
def test_a_late_earlier_event_never_changes_the_latest_state(history: list[StoredEvent], late: int) -> None:
    earlier = event(99, "specimen.scanned", -1, 1)
    before, after = fold_specimen("S1", history), fold_specimen("S1", [*history[:late], earlier, *history[late:]])
    assert before is not None
    assert after is not None
    assert (after.status, after.device, after.lane, after.rack, after.position, after.last_event_at) == (
        before.status,
        before.device,
        before.lane,
        before.rack,
        before.position,
        before.last_event_at,
    )
    assert after.first_seen_at == earlier.occurred_at
    assert after.event_count == before.event_count + 1


def test_at_the_same_instant_an_outcome_ranks_above_a_scan() -> None:
    # The sort happened in the same millisecond as the scan and even carries a lower seq.
    row = fold_specimen("S1", [event(1, "specimen.sorted", 0, 1), event(2, "specimen.scanned", 0, 2)])
    assert row is not None
    assert row.status == "sorted"
    assert (row.lane, row.rack, row.position) == (3, 1, 12)


def test_a_rejection_carries_its_reason_and_error_lane() -> None:
    row = fold_specimen("S1", [event(1, "specimen.scanned", 0, 1), event(2, "specimen.rejected", 1, 2)])
    assert row is not None
    assert (row.status, row.reason, row.lane, row.rack) == ("rejected", "no_read", 9, None)


def test_no_specimen_events_fold_to_nothing() -> None:
    assert fold_specimen("S1", []) is None
