"""Alert conditions as pure functions of rows, rules and a fixed `now`: every kind, and each threshold's boundary."""

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.alerts.conditions import active_conditions
from gateway.alerts.inputs import (
    Cabinet,
    CarrierTrip,
    Condition,
    Delivery,
    Device,
    Edge,
    Position,
    Removal,
    Sample,
    Snapshot,
)
from gateway.rules import TrackingRules, default_rules
from gateway.rules.store import rules_document, validate_document
from gateway.tracking.cabinets.fold import StockLine
from gateway.tracking.specimens.fold import SpecimenRow

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
SITE = "general-hospital"
MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)


def rules_with(**sections: Any) -> TrackingRules:
    document = rules_document(default_rules())
    for name, value in sections.items():
        document[name] = {**document.get(name, {}), **value} if isinstance(value, dict) else value
    return validate_document(document, "test rules")


CABINETS = {
    "cabinet-1": {
        "ward": "ward-3a",
        "allowed_badges": ["B100", "B101"],
        "refrigerated": True,
        "refrigerated_bins": ["F-01", "F-02"],
        "par": {"00614141001019": {"min": 10, "max": 40}, "00614141001934": {"min": 5, "max": 10}},
    },
    "cabinet-icu": {"ward": "icu", "refrigerated": True},
}
RULES = rules_with(cabinets=CABINETS)


def kinds(found: list[Condition]) -> list[tuple[str, str]]:
    return [(c.kind, c.subject_id) for c in found]


def at(snapshot: Snapshot, now: datetime, rules: TrackingRules = RULES) -> list[Condition]:
    return active_conditions(snapshot, rules, now)


# -- specimens -------------------------------------------------------------------------------------------------
def specimen(barcode: str = "S100", **changes: Any) -> SpecimenRow:
    values: dict[str, Any] = {
        "barcode": barcode,
        "status": "collected",
        "site": SITE,
        "device": "ward-scanner",
        "lane": None,
        "rack": None,
        "position": None,
        "reason": None,
        "first_seen_at": T0,
        "last_event_at": T0,
        "event_count": 1,
        "priority": "stat",
        "category": "blood-gas",
        "ward": "icu",
        "location": "icu",
        "collected_at": T0,
        "target_s": 1800,
        "due_at": T0 + 30 * MIN,
    }
    return SpecimenRow(**(values | changes))


def test_a_stat_specimen_predicted_late_raises_at_risk_before_its_due_time() -> None:
    # blood gas: 5 min to dispatch + 5 transit + 3 to sort + 5 to result = on track at collection ...
    snapshot = Snapshot(specimens=[specimen()])
    assert at(snapshot, T0) == []
    # ... but still on the ward 20 minutes later it cannot make 08:30 any more: warn now, while there is time.
    [risk] = at(snapshot, T0 + 20 * MIN)
    assert (risk.kind, risk.severity, risk.subject_kind, risk.ward) == (
        "specimen.at_risk",
        "critical",
        "specimen",
        "icu",
    )
    assert "STAT specimen S100 from icu is likely to miss its target: due 08:30Z, expected 08:33Z" in risk.message
    assert risk.details["slack_s"] == -180


def test_at_risk_turns_into_overdue_the_moment_the_due_time_has_passed() -> None:
    snapshot = Snapshot(specimens=[specimen()])
    assert kinds(at(snapshot, T0 + 30 * MIN)) == [("specimen.at_risk", "S100")]
    [overdue] = at(snapshot, T0 + 30 * MIN + SEC)
    assert (overdue.kind, overdue.severity) == ("specimen.overdue", "critical")
    assert "is overdue: due 08:30Z and not resulted" in overdue.message


def test_only_the_configured_priorities_raise_at_risk_and_overdue() -> None:
    urgent = specimen("S200", priority="urgent", due_at=T0 + 30 * MIN)
    routine = specimen("S300", priority="routine", due_at=T0 + 30 * MIN)
    snapshot = Snapshot(specimens=[urgent, routine])
    assert at(snapshot, T0 + 20 * MIN) == []  # at risk, but only STAT warns early by default
    assert kinds(at(snapshot, T0 + 31 * MIN)) == [("specimen.overdue", "S200")]
    assert at(snapshot, T0 + 31 * MIN)[0].severity == "warning"
    urgent_too = rules_with(alerts={"at_risk_priorities": ["stat", "urgent"]})
    assert kinds(at(snapshot, T0 + 20 * MIN, urgent_too)) == [("specimen.at_risk", "S200")]


def test_a_resulted_or_untargeted_specimen_raises_nothing() -> None:
    resulted = specimen("S400", status="resulted", resulted_at=T0 + 40 * MIN)
    untargeted = specimen("S500", due_at=None, target_s=None)
    assert at(Snapshot(specimens=[resulted, untargeted]), T0 + 60 * MIN) == []


def test_a_rejected_specimen_is_in_the_error_lane_with_the_reason_until_the_lab_takes_it_in() -> None:
    rejected = specimen(
        "S600", status="rejected", reason="no_read", device="sorter-1", lane=9, last_event_at=T0, due_at=None
    )
    [error] = at(Snapshot(specimens=[rejected]), T0 + MIN)
    assert (error.kind, error.severity, error.episode) == ("specimen.error_lane", "warning", T0.isoformat())
    assert "error lane of sorter-1 (lane 9)" in error.message
    assert "the sorter could not read the barcode" in error.message
    received = specimen("S600", status="received", reason=None, due_at=None, lab_received_at=T0 + 5 * MIN)
    assert at(Snapshot(specimens=[received]), T0 + 6 * MIN) == []


# -- carriers --------------------------------------------------------------------------------------------------
def trip(**changes: Any) -> CarrierTrip:
    values: dict[str, Any] = {
        "site": SITE,
        "carrier": "C-17",
        "transaction": 4711,
        "device": "tubes-1",
        "from_station": "icu-1",
        "to_station": "lab",
        "priority": "stat",
        "specimens": ("S100", "S101"),
        "dispatched_at": T0,
        "arrived_at": None,
    }
    return CarrierTrip(**(values | changes))


def test_a_carrier_not_arrived_within_the_transit_time_is_lost_and_the_message_names_its_specimens() -> None:
    snapshot = Snapshot(carrier_trips=[trip()])
    assert at(snapshot, T0 + 15 * MIN) == []
    [lost] = at(snapshot, T0 + 15 * MIN + SEC)
    assert (lost.kind, lost.subject_kind, lost.subject_id, lost.severity) == (
        "carrier.lost",
        "carrier",
        "C-17#4711",
        "critical",
    )
    assert "has not arrived after 15 min; it holds 2 specimen(s): S100, S101" in lost.message
    assert lost.details["specimens"] == ["S100", "S101"]
    assert at(Snapshot(carrier_trips=[trip(arrived_at=T0 + 20 * MIN)]), T0 + 30 * MIN) == []


# -- deliveries and robots -------------------------------------------------------------------------------------
def delivery(**changes: Any) -> Delivery:
    values: dict[str, Any] = {
        "delivery": "D-1",
        "site": SITE,
        "status": "departed",
        "order_id": "PO-1",
        "ward": "ward-3a",
        "priority": "routine",
        "robot": "robot-1",
        "location": "corridor-2",
        "due_at": T0 + 120 * MIN,
        "handed_over_at": None,
        "stocked_at": None,
        "failed_at": None,
        "last_event_at": T0,
    }
    return Delivery(**(values | changes))


def test_a_delivery_past_its_due_time_and_not_handed_over_is_overdue() -> None:
    moving = {("general-hospital", "robot-1"): [Position(T0 + 121 * MIN, 0, 0), Position(T0 + 125 * MIN, 9, 0)]}
    fresh = delivery(last_event_at=T0 + 119 * MIN)
    assert at(Snapshot(deliveries=[fresh], robot_tracks=moving), T0 + 120 * MIN) == []
    [late] = at(Snapshot(deliveries=[fresh], robot_tracks=moving), T0 + 120 * MIN + SEC)
    assert (late.kind, late.severity, late.ward) == ("delivery.overdue", "warning", "ward-3a")
    assert "Delivery D-1 (order PO-1) for ward-3a is overdue: due 10:00Z, still departed with robot robot-1" in (
        late.message
    )
    stat = delivery(priority="stat", due_at=T0 + 30 * MIN, last_event_at=T0 + 30 * MIN)
    assert at(Snapshot(deliveries=[stat]), T0 + 31 * MIN)[0].severity == "critical"
    handed = delivery(status="handed_over", handed_over_at=T0 + 100 * MIN)
    assert at(Snapshot(deliveries=[handed]), T0 + 200 * MIN) == []


def test_a_robot_with_no_delivery_event_and_no_movement_for_ten_minutes_makes_no_progress() -> None:
    stalled = Snapshot(deliveries=[delivery()])
    assert at(stalled, T0 + 10 * MIN) == []
    [stuck] = at(stalled, T0 + 10 * MIN + SEC)
    assert (stuck.kind, stuck.subject_kind, stuck.subject_id) == ("robot.no_progress", "device", "robot-1")
    assert "Robot robot-1 has made no progress with delivery D-1 for 10 min" in stuck.message
    key = ("general-hospital", "robot-1")
    moved = {key: [Position(T0 + 2 * MIN, 10.0, 4.0), Position(T0 + 9 * MIN, 10.0, 5.0)]}
    assert at(Snapshot(deliveries=[delivery()], robot_tracks=moved), T0 + 11 * MIN) == []
    jitter = {key: [Position(T0 + 2 * MIN, 10.0, 4.0), Position(T0 + 9 * MIN, 10.2, 4.1)]}
    assert kinds(at(Snapshot(deliveries=[delivery()], robot_tracks=jitter), T0 + 11 * MIN)) == [
        ("robot.no_progress", "robot-1")
    ]


def test_a_battery_below_the_critical_level_raises() -> None:
    key = ("general-hospital", "robot-1")
    assert at(Snapshot(batteries={key: Sample(T0, 15.0)}), T0) == []
    [low] = at(Snapshot(batteries={key: Sample(T0, 14.9)}), T0)
    assert (low.kind, low.severity, low.subject_id) == ("robot.battery_critical", "critical", "robot-1")
    assert "Robot robot-1 battery at 15 % (critical below 15 %)" in low.message


# -- cabinets --------------------------------------------------------------------------------------------------
def stock(bin: str, gtin: str, quantity: int, lot: str = "L1") -> StockLine:
    return StockLine(bin=bin, gtin=gtin, lot=lot, expiry=date(2027, 6, 30), quantity=quantity, updated_at=T0)


FRIDGE_STOCK = [
    stock("F-01", "00614141001934", 6, "INS-7"),
    stock("F-02", "00614141002047", 0),  # emptied: nothing to spoil
    stock("A-01", "00614141001019", 30),  # on the shelf, not in the fridge
]


def fridge(values: list[tuple[int, float]], cabinet: str = "cabinet-1") -> Snapshot:
    samples = [Sample(T0 + minute * MIN, value) for minute, value in values]
    return Snapshot(
        fridges={("general-hospital", cabinet): samples}, stock={("general-hospital", cabinet): FRIDGE_STOCK}
    )


def test_a_fridge_at_10_c_for_20_minutes_raises_one_cold_chain_alert_naming_the_cabinet_and_its_items() -> None:
    warm = fridge([(-1, 5.0)] + [(m, 10.0) for m in range(21)])
    [cold] = at(warm, T0 + 20 * MIN)
    assert (cold.kind, cold.severity, cold.subject_id, cold.ward) == (
        "cabinet.cold_chain",
        "critical",
        "cabinet-1",
        "ward-3a",
    )
    assert "Cabinet cabinet-1 (ward-3a) fridge above 2-8 °C since 08:00Z" in cold.message
    assert "(20 min, up to 10.0 °C, 10.0 °C at 08:20Z)" in cold.message
    assert "6 x 00614141001934 lot INS-7 (bin F-01)" in cold.message
    assert [i["bin"] for i in cold.details["items"]] == ["F-01"]
    assert cold.episode is None  # one key per cabinet: the excursion is one alert however many readings


def test_a_fridge_warm_for_5_minutes_and_back_in_range_raises_nothing() -> None:
    blip = fridge([(m, 10.0) for m in range(6)] + [(m, 5.0) for m in range(6, 21)])
    assert at(blip, T0 + 20 * MIN) == []


def test_the_cold_chain_threshold_is_more_than_ten_minutes_and_below_range_counts_too() -> None:
    cold = fridge([(0, 1.0)])
    assert at(cold, T0 + 10 * MIN) == []
    [frozen] = at(cold, T0 + 10 * MIN + SEC)
    assert "fridge below 2-8 °C" in frozen.message
    assert at(fridge([(0, 2.0), (5, 8.0)]), T0 + 30 * MIN) == []  # the limits themselves are in range


def test_a_ward_override_shortens_the_cold_chain_time_for_that_ward_only() -> None:
    rules = rules_with(cabinets=CABINETS, alerts={"overrides": [{"ward": "icu", "cold_chain_minutes": 5}]})
    icu, ward = fridge([(0, 9.0)], "cabinet-icu"), fridge([(0, 9.0)], "cabinet-1")
    assert kinds(at(icu, T0 + 6 * MIN, rules)) == [("cabinet.cold_chain", "cabinet-icu")]
    assert at(ward, T0 + 6 * MIN, rules) == []


def cabinet(door: str = "closed", since: datetime | None = T0, alarms: tuple[str, ...] = ()) -> Cabinet:
    return Cabinet(site=SITE, cabinet="cabinet-1", door=door, door_since=since, alarms=alarms)


def test_a_door_open_longer_than_three_minutes_or_the_cabinets_own_alarm_is_door_ajar() -> None:
    assert at(Snapshot(cabinets=[cabinet("open")]), T0 + 3 * MIN) == []
    [ajar] = at(Snapshot(cabinets=[cabinet("open")]), T0 + 3 * MIN + SEC)
    assert (ajar.kind, ajar.severity) == ("cabinet.door_ajar", "warning")
    assert "door open for 3 min since 08:00Z" in ajar.message
    [alarm] = at(Snapshot(cabinets=[cabinet("closed", alarms=("door_ajar",))]), T0)
    assert "reports its door ajar" in alarm.message
    assert at(Snapshot(cabinets=[cabinet("closed")]), T0 + 60 * MIN) == []


def removal(event_id: str, badge: str | None, order_id: str | None, cabinet: str = "cabinet-1") -> Removal:
    return Removal(
        event_id=event_id,
        site=SITE,
        cabinet=cabinet,
        occurred_at=T0,
        bin="A-01",
        gtin="00614141001019",
        lot="L1",
        quantity=2,
        badge=badge,
        order_id=order_id,
    )


def test_a_removal_without_an_order_or_by_a_badge_not_allowed_is_a_discrepancy_per_event() -> None:
    snapshot = Snapshot(
        removals=[
            removal("e-ok", "B100", "MO-1"),
            removal("e-no-order", "B100", None),
            removal("e-stranger", "B999", "MO-2"),
            removal("e-anyone", "B999", "MO-3", cabinet="cabinet-icu"),  # no badge list: any badge may
        ]
    )
    found = at(snapshot, T0)
    assert [(c.kind, c.episode) for c in found] == [
        ("cabinet.discrepancy", "e-no-order"),
        ("cabinet.discrepancy", "e-stranger"),
    ]
    no_order, stranger = found
    assert "2 x 00614141001019 lot L1 taken from bin A-01 by badge B100 at 08:00Z with no medication order" in (
        no_order.message
    )
    assert "by a badge not allowed at this cabinet" in stranger.message
    assert stranger.key == "cabinet.discrepancy|general-hospital|cabinet-1|e-stranger"


def test_stock_below_par_raises_with_the_pick_lines() -> None:
    lines = [stock("A-01", "00614141001019", 4), stock("A-02", "00614141001019", 3), stock("F-01", "00614141001934", 9)]
    cabinets = [cabinet()]
    [low] = at(Snapshot(cabinets=cabinets, stock={("general-hospital", "cabinet-1"): lines}), T0)
    assert (low.kind, low.severity) == ("cabinet.below_par", "info")
    assert low.details["pick_lines"] == [
        {"gtin": "00614141001019", "on_hand": 7, "par_min": 10, "par_max": 40, "quantity": 33, "bins": ["A-01", "A-02"]}
    ]
    at_par = [stock("A-01", "00614141001019", 10), stock("F-01", "00614141001934", 5)]
    assert at(Snapshot(cabinets=cabinets, stock={("general-hospital", "cabinet-1"): at_par}), T0) == []


def test_a_cabinet_that_never_reported_its_inventory_is_not_called_below_par() -> None:
    """Movements alone say what changed, not how much is there: no pick lines until a full inventory."""
    lines = [stock("A-01", "00614141001019", 4)]
    never_counted = [dataclasses.replace(cabinet(), inventoried=False)]
    assert at(Snapshot(cabinets=never_counted, stock={("general-hospital", "cabinet-1"): lines}), T0) == []


# -- devices and edges -----------------------------------------------------------------------------------------
def test_devices_and_edges_offline_past_their_grace_raise_and_robots_get_longer() -> None:
    sorter = Device(SITE, "sorter-1", "sorter", "offline", T0, "modbus timeout")
    robot = Device(SITE, "robot-1", "robot", "offline", T0, "connection lost")
    edge = Edge(SITE, "core-lab-edge", "offline", T0)
    snapshot = Snapshot(devices=[sorter, robot], edges=[edge])
    assert at(snapshot, T0 + 2 * MIN) == []
    found = at(snapshot, T0 + 2 * MIN + SEC)
    assert kinds(found) == [("device.offline", "sorter-1"), ("edge.offline", "core-lab-edge")]
    assert "Device sorter-1 (sorter) offline since 08:00Z: modbus timeout" in found[0].message
    assert found[1].severity == "critical"
    assert ("device.offline", "robot-1") in kinds(at(snapshot, T0 + 5 * MIN + SEC))
    assert at(Snapshot(devices=[Device(SITE, "sorter-1", "sorter", "online", T0, None)]), T0 + 60 * MIN) == []


# -- rules that shape every kind -------------------------------------------------------------------------------
def test_disabled_kinds_never_raise_and_fixed_severities_replace_the_defaults() -> None:
    snapshot = Snapshot(cabinets=[cabinet("open")], batteries={("general-hospital", "robot-1"): Sample(T0, 3)})
    rules = rules_with(alerts={"disabled": ["robot.battery_critical"], "severities": {"cabinet.door_ajar": "critical"}})
    [only] = at(snapshot, T0 + 10 * MIN, rules)
    assert (only.kind, only.severity) == ("cabinet.door_ajar", "critical")


@pytest.mark.parametrize("minutes", [0.0, -1.0])
def test_thresholds_must_be_positive(minutes: float) -> None:
    with pytest.raises(ValueError, match=r"alerts\.cold_chain_minutes: Input should be greater than 0"):
        rules_with(alerts={"cold_chain_minutes": minutes})


@given(st.permutations(range(6)), st.integers(min_value=0, max_value=40))
def test_the_conditions_do_not_depend_on_the_order_of_the_rows(order: list[int], minutes: int) -> None:
    specimens = [specimen("S1"), specimen("S2", priority="urgent"), specimen("S3", status="rejected", reason="no_read")]
    removals = [removal("e1", "B1", None), removal("e2", "B100", "MO-1"), removal("e3", "B999", "MO-2")]
    rows = [*specimens, *removals]
    shuffled = [rows[i] for i in order]
    snapshot = Snapshot(
        specimens=[r for r in shuffled if isinstance(r, SpecimenRow)],
        removals=[r for r in shuffled if isinstance(r, Removal)],
    )
    in_order = Snapshot(specimens=specimens, removals=removals)
    now = T0 + minutes * MIN
    assert at(snapshot, now) == at(in_order, now)
