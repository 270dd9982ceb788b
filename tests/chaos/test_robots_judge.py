"""The robots path's judge: every delivery with stored events ends handed over (after arriving) or failed with a
reason, once, and nothing follows its end."""

import json

from tests.chaos.invariant import StoredEvent
from tests.chaos.robots import judge_deliveries


def _events(*steps: tuple[str, str, dict[str, object]]) -> list[StoredEvent]:
    return [
        StoredEvent(f"{seq:032x}", seq, f"delivery.{kind}", delivery, "2026-03-02T08:00:00+00:00", json.dumps(data))
        for seq, (kind, delivery, data) in enumerate(steps, start=1)
    ]


def test_a_delivery_handed_over_after_arriving_and_one_failed_with_a_reason_pass() -> None:
    events = _events(
        ("accepted", "D-1", {}),
        ("departed", "D-1", {}),
        ("arrived", "D-1", {}),
        ("handed_over", "D-1", {}),
        ("accepted", "D-2", {}),
        ("departed", "D-2", {}),
        ("failed", "D-2", {"reason": "robot dropped the order (now on 'none')"}),
    )
    assert judge_deliveries(events) == []


def test_a_delivery_stuck_on_its_way_fails() -> None:
    events = _events(("accepted", "D-1", {}), ("departed", "D-1", {}))
    assert judge_deliveries(events) == ["delivery D-1 never ended: last stored step delivery.departed"]


def test_a_hand_over_without_arrival_a_failure_without_reason_and_steps_after_the_end_fail() -> None:
    events = _events(
        ("accepted", "D-1", {}),
        ("handed_over", "D-1", {}),
        ("accepted", "D-2", {}),
        ("failed", "D-2", {"reason": None}),
        ("accepted", "D-3", {}),
        ("failed", "D-3", {"reason": "robot dropped the order"}),
        ("arrived", "D-3", {}),
    )
    problems = judge_deliveries(events)
    assert [p.split(":")[0].split(" ")[1] for p in problems] == ["D-1", "D-2", "D-3"]
    assert "never arrived" in problems[0]
    assert "without a reason" in problems[1]
    assert "after its end" in problems[2]
