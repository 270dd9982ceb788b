"""The chaos suite's judge: what counts as lost, undelivered, duplicated, an open gap, or a state gone back."""

from tests.chaos.invariant import GatewayView, OutboxState, StoredEvent, judge


def _event(seq: int, kind: str = "specimen.scanned", barcode: str = "S100000001", at: str = "") -> StoredEvent:
    return StoredEvent(
        id=f"id-{seq}",
        seq=seq,
        type=kind,
        subject_id=barcode,
        occurred_at=at or f"2026-11-24T01:00:{seq:02d}.000000+00:00",
        data="{}",
    )


def _journey(first_seq: int, barcode: str) -> list[StoredEvent]:
    return [_event(first_seq, barcode=barcode), _event(first_seq + 1, "specimen.sorted", barcode)]


def test_everything_accepted_and_stored_once_passes() -> None:
    events = _journey(1, "S1") + _journey(3, "S2")
    verdict = judge(OutboxState(accepted=4, waiting=0), GatewayView(events, {"S1": "sorted", "S2": "sorted"}, 0))
    assert verdict.ok
    assert (verdict.accepted, verdict.stored, verdict.lost, verdict.duplicates) == (4, 4, 0, 0)


def test_a_seq_neither_stored_nor_in_the_outbox_is_lost_and_an_open_gap() -> None:
    events = [_event(1, barcode="S1"), _event(3, "specimen.sorted", "S2")]
    verdict = judge(OutboxState(accepted=3, waiting=0), GatewayView(events, {"S1": "scanned", "S2": "sorted"}, 0))
    assert (verdict.lost, verdict.undelivered, verdict.gaps_open) == (1, 0, 1)
    assert not verdict.ok


def test_a_seq_still_in_the_outbox_is_undelivered_not_lost() -> None:
    events = [_event(1, barcode="S1")]
    outbox = OutboxState(accepted=2, waiting=1, waiting_seqs=frozenset({2}))
    verdict = judge(outbox, GatewayView(events, {"S1": "scanned"}, 0))
    assert (verdict.lost, verdict.undelivered) == (0, 1)
    assert not verdict.ok


def test_an_alerted_gap_is_not_open_but_still_lost() -> None:
    verdict = judge(OutboxState(accepted=2, waiting=0), GatewayView([_event(1, barcode="S1")], {"S1": "scanned"}, 1))
    assert (verdict.lost, verdict.gaps_open) == (1, 0)
    assert not verdict.ok


def test_one_device_record_under_two_seqs_is_a_duplicate() -> None:
    first = _event(1, barcode="S1", at="2026-11-24T01:00:00.000000+00:00")
    again = _event(2, barcode="S1", at="2026-11-24T01:00:00.000000+00:00")
    verdict = judge(OutboxState(accepted=2, waiting=0), GatewayView([first, again], {"S1": "scanned"}, 0))
    assert verdict.duplicates == 1
    assert not verdict.ok


def test_a_specimen_whose_projection_disagrees_with_its_latest_event_regressed() -> None:
    events = _journey(1, "S1")
    verdict = judge(OutboxState(accepted=2, waiting=0), GatewayView(events, {"S1": "scanned"}, 0))
    assert verdict.regressed == 1
    assert not verdict.ok


def test_a_seq_the_outbox_never_gave_out_is_reported() -> None:
    events = [_event(1, barcode="S1"), _event(7, "specimen.sorted", "S1")]
    verdict = judge(OutboxState(accepted=1, waiting=0), GatewayView(events, {"S1": "sorted"}, 0))
    assert verdict.unknown == 1
    assert any("never gave out" in problem for problem in verdict.problems)
    assert not verdict.ok


def _trip(seq: int, kind: str, carrier: str, data: str, second: int) -> StoredEvent:
    at = f"2026-11-24T01:00:{second:02d}.000000+00:00"
    return StoredEvent(id=f"id-{seq}", seq=seq, type=kind, subject_id=carrier, occurred_at=at, data=data)


def test_a_specimen_whose_carrier_arrived_but_is_projected_in_transit_went_backwards() -> None:
    events = [
        _trip(1, "carrier.dispatched", "E1", '{"specimens": ["S1", "S2"], "transaction": 7}', 1),
        _trip(2, "carrier.arrived", "E1", '{"station": "lab", "transaction": 7}', 5),
    ]
    outbox = OutboxState(accepted=2, waiting=0)
    assert judge(outbox, GatewayView(events, {"S1": "arrived", "S2": "arrived"}, 0)).ok
    verdict = judge(outbox, GatewayView(events, {"S1": "arrived", "S2": "in_transit"}, 0))
    assert (verdict.ok, verdict.regressed) == (False, 1)


def test_one_carrier_record_stored_under_two_seqs_is_a_duplicate() -> None:
    dispatched = '{"specimens": ["S1"], "transaction": 7}'
    events = [_trip(1, "carrier.dispatched", "E1", dispatched, 1), _trip(2, "carrier.dispatched", "E1", dispatched, 1)]
    verdict = judge(OutboxState(accepted=2, waiting=0), GatewayView(events, {"S1": "in_transit"}, 0))
    assert verdict.duplicates == 1
