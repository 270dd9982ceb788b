"""The edge outbox: events are durable before publishing, numbered forever, and leave only when acked."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from contract import Subject
from edge.observation import Observation
from edge.outbox import Outbox

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
