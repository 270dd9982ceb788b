"""The edge outbox: events are durable before publishing, numbered forever, and leave only when acked."""

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contract import Subject
from edge.observation import Observation
from edge.outbox import Outbox, OutboxFullError

NOW = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)


def _scan(barcode: str) -> Observation:
    return Observation("specimen.scanned", "sorter-1", Subject(kind="specimen", id=barcode), NOW)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "edge.outbox.sqlite"


def _open(path: Path) -> Outbox:
    return Outbox(path, site="general-hospital", edge="core-lab-edge")


def test_sequence_numbers_keep_increasing_across_restarts(path: Path) -> None:
    box = _open(path)
    first = box.append([_scan("S1"), _scan("S2")])
    box.close()
    box = _open(path)
    second = box.append([_scan("S3")])
    assert [e.seq for e in first + second] == [1, 2, 3]
    assert len({e.id for e in first + second}) == 3


def test_sequence_numbers_continue_after_everything_was_acked(path: Path) -> None:
    box = _open(path)
    events = box.append([_scan("S1")])
    box.mark_sent([1])
    box.ack([events[0].id])
    assert box.depth() == 0
    assert box.append([_scan("S2")])[0].seq == 2


def test_unacked_events_survive_a_restart_with_their_ids(path: Path) -> None:
    box = _open(path)
    events = box.append([_scan("S1"), _scan("S2")])
    box.mark_sent(e.seq for e in events)
    box.close()  # e.g. the process was killed after publishing, before the gateway's ack

    box = _open(path)
    box.unmark_sent()
    due = box.due(resend_after_s=60, limit=10)
    assert [p.id for p in due] == [str(e.id) for e in events]
    assert [p.payload for p in due] == [e.model_dump_json().encode() for e in events]


def test_sent_events_are_due_again_only_after_the_resend_delay(path: Path) -> None:
    box = _open(path)
    events = box.append([_scan("S1")])
    assert len(box.due(resend_after_s=60, limit=10)) == 1
    box.mark_sent([events[0].seq])
    assert box.due(resend_after_s=60, limit=10) == []
    assert len(box.due(resend_after_s=0, limit=10)) == 1


def test_an_ack_removes_exactly_the_named_events_and_ignores_unknown_ids(path: Path) -> None:
    box = _open(path)
    events = box.append([_scan("S1"), _scan("S2"), _scan("S3")])
    box.mark_sent([1, 2, 3])
    assert box.ack([events[0].id, events[2].id, "00000000-0000-0000-0000-000000000000"]) == 2
    assert [p.seq for p in box.due(resend_after_s=0, limit=10)] == [2]


def test_the_device_cursor_moves_in_the_same_transaction_as_the_events(path: Path) -> None:
    box = _open(path)
    assert box.cursor("sorter-1") is None
    box.append([_scan("S1")], cursor=("sorter-1", "41:abc"))
    box.close()
    assert _open(path).cursor("sorter-1") == "41:abc"


def test_due_is_in_sequence_order_and_bounded(path: Path) -> None:
    box = _open(path)
    box.append([_scan(f"S{i}") for i in range(10)])
    assert [p.seq for p in box.due(resend_after_s=0, limit=4)] == [1, 2, 3, 4]


# -- delivery guarantees: the bound, the epoch, acks by sequence, resend requests, backlog and live ---------------
def _bounded(path: Path, max_bytes: int) -> Outbox:
    return Outbox(path, site="general-hospital", edge="core-lab-edge", max_bytes=max_bytes)


def test_an_append_past_the_bound_writes_nothing_and_the_cursor_stays(path: Path) -> None:
    size = len(_open(path).append([_scan("S1")])[0].model_dump_json().encode())
    box = _bounded(path, max_bytes=3 * size + size // 2)  # reopened: the first event still counts
    assert box.bytes == size
    box.append([_scan("S2"), _scan("S3")], cursor=("sorter-1", "2"))
    with pytest.raises(OutboxFullError):
        box.append([_scan("S4")], cursor=("sorter-1", "3"))
    assert box.depth() == 3
    assert box.cursor("sorter-1") == "2"
    assert box.next_seq() == 4  # no sequence number was used up by the refused append


def test_acks_make_room_again_and_the_size_survives_a_restart(path: Path) -> None:
    box = _open(path)
    events = box.append([_scan("S1"), _scan("S2")])
    sizes = [len(e.model_dump_json().encode()) for e in events]
    box.close()
    box = _bounded(path, max_bytes=sum(sizes))
    assert box.bytes == sum(sizes)
    assert box.full
    box.mark_sent([1])
    box.ack([events[0].id])
    assert box.bytes == sizes[1]
    assert not box.full
    assert box.append([_scan("S3")])[0].seq == 3


def test_the_fill_report_names_depth_bytes_and_the_oldest_event(path: Path) -> None:
    box = _bounded(path, max_bytes=10_000)
    assert box.fill().oldest_created_at is None
    events = box.append([_scan("S1"), _scan("S2")])
    fill = box.fill()
    assert (fill.depth, fill.max_bytes) == (2, 10_000)
    assert fill.bytes == sum(len(e.model_dump_json().encode()) for e in events)
    assert fill.oldest_created_at is not None


def test_the_epoch_is_kept_with_the_file_and_a_new_file_starts_a_new_one(path: Path, tmp_path: Path) -> None:
    box = _open(path)
    epoch = box.epoch
    box.close()
    assert _open(path).epoch == epoch
    assert _open(path).first_seq == 1
    other = Outbox(tmp_path / "lost-disk.sqlite", site="general-hospital", edge="core-lab-edge")
    assert other.epoch != epoch


def test_an_ack_through_a_seq_removes_everything_up_to_it_for_this_epoch_only(path: Path) -> None:
    box = _open(path)
    box.append([_scan(f"S{n}") for n in range(1, 6)])
    box.mark_sent(range(1, 6))
    assert box.ack_through("another-epoch", 4) == 0
    assert box.ack_through(box.epoch, 3) == 3
    assert [p.seq for p in box.due(resend_after_s=0, limit=10)] == [4, 5]


def test_missing_ranges_are_due_again_at_once(path: Path) -> None:
    box = _open(path)
    events = box.append([_scan(f"S{n}") for n in range(1, 7)])
    box.mark_sent(e.seq for e in events)
    assert box.due(resend_after_s=60, limit=10) == []
    assert box.make_due([(2, 3), (5, 5), (40, 50)]) == 3
    assert [p.seq for p in box.due(resend_after_s=60, limit=10)] == [2, 3, 5]


def test_a_batch_shares_the_backlog_head_with_events_created_since_the_connection(path: Path) -> None:
    box = _open(path)
    box.append([_scan(f"OLD{n}") for n in range(20)])  # seq 1..20: the backlog of an outage
    connected_at = time.time()
    time.sleep(0.01)
    box.append([_scan(f"NEW{n}") for n in range(3)])  # seq 21..23: live
    batch = box.due(resend_after_s=60, limit=8, live_since=connected_at)
    assert [p.seq for p in batch] == [1, 2, 3, 4, 5, 21, 22, 23]  # the backlog oldest first, live not waiting
    box.mark_sent(p.seq for p in batch)
    assert [p.seq for p in box.due(resend_after_s=60, limit=8, live_since=connected_at)] == list(range(6, 14))
    assert [p.seq for p in box.due(resend_after_s=60, limit=100)][:3] == [6, 7, 8]  # without: plain seq order
