"""Device health as a pure fold: order-independent, never regressing, faults and component statuses tracked."""

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.storage.stored_event import StoredEvent
from gateway.tracking.devices.fold import ActiveFault, ComponentStatus, fold_device, health_order

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
SITE, DEVICE = "general-hospital", "tube-plc"

KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "online": ("device.online", {}),
    "offline": ("device.offline", {"reason": "modbus timeout"}),
    "running": ("device.status_changed", {"status": "running"}),
    "stopped": ("device.status_changed", {"status": "stopped"}),
    "station-busy": ("device.status_changed", {"status": "busy", "component": "station-12"}),
    "station-idle": ("device.status_changed", {"status": "idle", "component": "station-12"}),
    "jam": ("device.fault_raised", {"code": "jam", "severity": "critical"}),
    "jam-cleared": ("device.fault_cleared", {"code": "jam"}),
    "zone-blocked": ("device.fault_raised", {"code": "zone_blocked", "component": "zone-3"}),
    "zone-cleared": ("device.fault_cleared", {"code": "zone_blocked", "component": "zone-3"}),
}


def event(n: int, kind: str, second: int, seq: int | None = None, edge: str = "tube-edge") -> StoredEvent:
    type_, data = KINDS[kind]
    at = T0 + timedelta(seconds=second)
    return StoredEvent(
        id=UUID(int=n),
        seq=seq if seq is not None else n,
        type=type_,
        occurred_at=at,
        received_at=at,
        site=SITE,
        edge=edge,
        device=DEVICE,
        data=data,
    )


def fold(*events: StoredEvent, last_seen_at: datetime | None = None) -> Any:
    row = fold_device(SITE, DEVICE, events, last_seen_at)
    assert row is not None
    return row


@st.composite
def histories(draw: st.DrawFn) -> list[StoredEvent]:
    """A device's health events, with ties in time and seq drawn on purpose, from two edges."""
    size = draw(st.integers(min_value=1, max_value=10))
    return [
        event(
            n,
            draw(st.sampled_from(sorted(KINDS))),
            draw(st.integers(min_value=0, max_value=4)),
            draw(st.integers(min_value=1, max_value=4)),
            draw(st.sampled_from(["tube-edge", "tube-edge-2"])),
        )
        for n in range(size)
    ]


@given(histories(), st.randoms(use_true_random=False))
def test_the_same_events_in_any_order_give_the_same_row(history: list[StoredEvent], rnd: random.Random) -> None:
    shuffled = list(history)
    rnd.shuffle(shuffled)
    assert fold_device(SITE, DEVICE, shuffled) == fold_device(SITE, DEVICE, history)
    assert sorted(shuffled, key=health_order) == sorted(history, key=health_order)


@given(histories(), st.sampled_from(sorted(KINDS)), st.integers(min_value=0, max_value=9))
def test_a_late_earlier_event_never_changes_the_current_state(history: list[StoredEvent], kind: str, late: int) -> None:
    earlier = event(99, kind, -1, 1)
    before = fold(*history)
    after = fold(*history[:late], earlier, *history[late:])
    if before.state != "unknown":  # a first online/offline may come late; a later one is never overridden
        assert (after.state, after.offline_reason) == (before.state, before.offline_reason)
        assert after.since is not None
        assert before.since is not None
        assert after.since <= before.since  # the late event may show the device was in that state earlier
    assert (after.last_seen_at, after.last_event_at, after.edge) == (
        before.last_seen_at,
        before.last_event_at,
        before.edge,
    )
    assert after.event_count == before.event_count + 1


@pytest.mark.parametrize(
    ("story", "state", "since", "reason"),
    [
        (["running"], "unknown", None, None),
        (["online"], "online", 0, None),
        (["online", "offline"], "offline", 1, "modbus timeout"),
        (["online", "offline", "online"], "online", 2, None),
        (["online", "online"], "online", 0, None),  # the same state again does not restart `since`
    ],
)
def test_state_and_since_follow_online_and_offline(
    story: list[str], state: str, since: int | None, reason: str | None
) -> None:
    row = fold(*(event(n, kind, n) for n, kind in enumerate(story)))
    assert row.state == state
    assert row.since == (None if since is None else T0 + timedelta(seconds=since))
    assert row.offline_reason == reason


@pytest.mark.parametrize(
    ("story", "faults"),
    [
        (["jam"], [("jam", None, "critical", 0)]),
        (["jam", "jam-cleared"], []),
        (["jam", "zone-blocked", "jam-cleared"], [("zone_blocked", "zone-3", "warning", 1)]),
        (["jam", "jam"], [("jam", None, "critical", 0)]),  # raised again while active: active since the first
        (["zone-blocked", "jam-cleared"], [("zone_blocked", "zone-3", "warning", 0)]),  # another fault's clear
        (["jam-cleared", "jam"], [("jam", None, "critical", 1)]),
    ],
)
def test_active_faults_are_raised_and_cleared_per_component_and_code(
    story: list[str], faults: list[tuple[str, str | None, str, int]]
) -> None:
    row = fold(*(event(n, kind, n) for n, kind in enumerate(story)))
    assert [(f.code, f.component, f.severity, int((f.since - T0).total_seconds())) for f in row.faults] == faults
    assert all(isinstance(f, ActiveFault) for f in row.faults)


def test_status_is_the_device_s_own_and_components_keep_theirs() -> None:
    row = fold(event(1, "running", 0), event(2, "station-busy", 1), event(3, "station-idle", 2), event(4, "stopped", 3))
    assert row.status == "stopped"
    assert row.components == (ComponentStatus("station-12", "idle", T0 + timedelta(seconds=2)),)


def test_last_seen_is_the_latest_of_the_events_and_what_else_was_heard() -> None:
    later = T0 + timedelta(minutes=5)
    assert fold(event(1, "online", 0), last_seen_at=later).last_seen_at == later
    assert fold(event(1, "online", 600), last_seen_at=later).last_seen_at == T0 + timedelta(seconds=600)


def test_no_device_events_fold_to_nothing() -> None:
    assert fold_device(SITE, DEVICE, []) is None
