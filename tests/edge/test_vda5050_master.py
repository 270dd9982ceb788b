"""Master control and the robot, wired back to back without a network (a null modem), in robot seconds.

Every message crossing between them is checked against the official VDA 5050 schemas.
"""

import uuid
from datetime import UTC, datetime

import pytest

from contract import event_adapter
from edge.drivers.vda5050_master import PIN_PAD, MasterControl, fault_code
from tests.vda5050_modem import SERIAL, NullModem


@pytest.fixture
def modem() -> NullModem:
    modem = NullModem()
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    return modem


@pytest.mark.parametrize(
    ("destination", "pin", "badge", "opened_by"),
    [
        ("ward-3a", "4711", "B-1042", "B-1042"),
        ("ward-4b", "4711", None, PIN_PAD),
        ("icu", None, "B-2001", "B-2001"),
        ("ed", "90210", "B-7", "B-7"),
    ],
)
def test_a_delivery_goes_accepted_departed_arrived_handed_over_once_each(
    modem: NullModem, destination: str, pin: str | None, badge: str | None, opened_by: str
) -> None:
    modem.dispatch(destination, pin=pin)
    modem.run(300)
    assert modem.body.last_node_id == destination
    assert modem.body.drawers["drawer-1"].locked
    assert modem.body.release("drawer-1", pin="0000" if pin else None) is not None  # wrong PIN / no badge
    assert modem.body.release("drawer-1", pin=pin, badge=badge) is None
    modem.run(5)
    assert modem.delivery_events() == [
        (
            "delivery.accepted",
            {
                "robot": "robot-1",
                "order_id": modem.master.current.order_id,
                "destination": destination,
                "drawer": "drawer-1",
            },
        ),  # type: ignore[union-attr]
        ("delivery.departed", {"robot": "robot-1", "node": "charger-0"}),
        ("delivery.arrived", {"robot": "robot-1", "node": destination}),
        ("delivery.handed_over", {"robot": "robot-1", "drawer": "drawer-1", "badge": opened_by}),
    ]
    assert not modem.body.drawers["drawer-1"].locked


def test_every_event_fits_the_wire_contract(modem: NullModem) -> None:
    modem.body.blocked_edges.add("e-corridor-3-ward-3a")
    modem.dispatch("ward-3a")
    modem.run(200)
    modem.body.blocked_edges.clear()
    modem.run(100)
    modem.body.release("drawer-1", pin="4711", badge="B-1")
    modem.run(2)
    assert len(modem.events) > 6
    for seq, e in enumerate(modem.events, start=1):
        event_adapter.validate_python(
            {
                "id": str(uuid.uuid4()),
                "seq": seq,
                "occurred_at": (e.occurred_at or datetime.now(UTC)).isoformat(),
                "site": "general-hospital",
                "edge": "pharmacy-edge",
                "device": "robot-1",
                "subject": {"kind": e.subject_kind, "id": e.subject_id},
                "type": e.type,
                "data": e.data,
            }
        )


def test_the_order_follows_the_shortest_route_and_hands_over_at_the_end(modem: NullModem) -> None:
    modem.dispatch("ward-4b", pin="1234", drawer="drawer-3")
    [(channel, order)] = modem.sent
    assert channel == "order"
    assert [n["nodeId"] for n in order["nodes"]] == [
        "charger-0", "pharmacy", "corridor-0a", "elevator-0", "elevator-4", "corridor-4", "ward-4b"
    ]  # fmt: skip
    assert [n["sequenceId"] for n in order["nodes"]] == [0, 2, 4, 6, 8, 10, 12]
    assert [e["sequenceId"] for e in order["edges"]] == [1, 3, 5, 7, 9, 11]
    [action] = order["nodes"][-1]["actions"]
    assert action["actionType"] == "handOverLoad"
    assert {p["key"]: p["value"] for p in action["actionParameters"]} == {
        "drawer": "drawer-3", "loadId": "D-1", "pin": "1234"
    }  # fmt: skip


def test_a_blocked_path_raises_a_fault_and_beyond_patience_fails_the_delivery_and_cancels() -> None:
    modem = NullModem(patience_s=60)
    modem.body.blocked_edges.add("e-elevator-0-3")
    modem.dispatch("ward-3a")
    modem.run(200)
    assert ("device.fault_raised", "path_blocked", "e-elevator-0-3") in modem.faults()
    assert [t for t, _ in modem.delivery_events()] == ["delivery.accepted", "delivery.departed", "delivery.failed"]
    assert "path blocked for more than 60 s" in modem.delivery_events()[-1][1]["reason"]
    cancels = [m for c, m in modem.sent if c == "instantActions" and m["actions"][0]["actionType"] == "cancelOrder"]
    assert len(cancels) == 1
    assert modem.body.legs == []  # the robot dropped the order
    assert ("device.fault_cleared", "path_blocked", "e-elevator-0-3") in modem.faults()


def test_a_path_cleared_in_time_only_delays_the_delivery() -> None:
    modem = NullModem(patience_s=60)
    modem.body.blocked_edges.add("e-elevator-0-3")
    modem.dispatch("ward-3a")
    modem.run(80)  # 40 s to the elevator, then 40 s waiting: within patience
    modem.body.blocked_edges.clear()
    modem.run(200)
    assert modem.faults() == [
        ("device.fault_raised", "path_blocked", "e-elevator-0-3"),
        ("device.fault_cleared", "path_blocked", "e-elevator-0-3"),
    ]
    assert [t for t, _ in modem.delivery_events()][-1] == "delivery.arrived"


def test_a_low_battery_is_a_fault_and_an_empty_one_fails_the_delivery() -> None:
    modem = NullModem(battery_pct=23)
    modem.dispatch("ward-3a")
    modem.run(300)
    codes = [(t, c) for t, c, _ in modem.faults()]
    assert ("device.fault_raised", "battery_low") in codes
    assert ("device.fault_raised", "battery_empty") not in codes  # 23 % is enough for 120 m
    empty = NullModem(battery_pct=1)
    empty.dispatch("ward-3a")
    empty.run(300)
    assert ("device.fault_raised", "battery_empty", None) in empty.faults()
    [failed] = [d for t, d in empty.delivery_events() if t == "delivery.failed"]
    assert failed["reason"].startswith("batteryEmpty")


def test_the_battery_drains_with_distance_and_charges_on_the_charger() -> None:
    modem = NullModem(start="pharmacy", battery_pct=50)
    modem.dispatch("ed")
    modem.run(100)
    drained = 50 - modem.body.battery_pct
    assert drained == pytest.approx(modem.body.odometer_m * modem.profile.battery.drain_pct_per_m)
    on_dock = NullModem(start="charger-0", battery_pct=50)
    on_dock.run(600)
    assert on_dock.body.battery_pct == pytest.approx(50 + 10 * on_dock.profile.battery.charge_pct_per_min)


@pytest.mark.parametrize(
    ("destination", "drawer", "reason"),
    [
        ("roof", "drawer-1", "unknown destination 'roof' on general-hospital"),
        ("icu", "drawer-9", "robot has no drawer 'drawer-9'"),
    ],
)
def test_a_dispatch_that_cannot_be_planned_fails_at_once(
    modem: NullModem, destination: str, drawer: str, reason: str
) -> None:
    modem.dispatch(destination, drawer=drawer)
    assert modem.delivery_events() == [("delivery.failed", {"robot": "robot-1", "reason": reason})]
    assert modem.sent == []


def test_a_lost_order_is_resent_and_one_never_taken_fails_after_patience() -> None:
    modem = NullModem(patience_s=30)
    modem.lose_orders = True
    modem.dispatch("icu")
    modem.run(40)
    assert len([c for c, _ in modem.sent if c == "order"]) > 5
    assert modem.delivery_events() == [
        ("delivery.failed", {"robot": "robot-1", "reason": "robot did not take the order within 30 s"})
    ]


def test_deliveries_queue_behind_each_other(modem: NullModem) -> None:
    modem.dispatch("icu", delivery="D-1", pin=None)
    modem.dispatch("ed", delivery="D-2", pin=None)
    modem.dispatch("ed", delivery="D-2", pin=None)  # the same command redelivered
    modem.run(300)
    assert [c for c, _ in modem.sent].count("order") == 1  # D-2 waits until D-1 is handed over
    modem.body.release("drawer-1", badge="B-9")
    modem.run(300)
    modem.body.release("drawer-1", badge="B-9")
    modem.run(2)
    handed = [(e.subject_id, e.type) for e in modem.events if e.type == "delivery.handed_over"]
    assert handed == [("D-1", "delivery.handed_over"), ("D-2", "delivery.handed_over")]
    assert modem.body.last_node_id == "ed"


def test_a_restarted_master_does_not_record_a_step_twice(modem: NullModem) -> None:
    modem.dispatch("icu")
    modem.run(300)
    before = len(modem.events)
    restarted = MasterControl("robot-1", modem.profile, modem.graph, SERIAL, cursor=modem.master.cursor())
    restarted.online = True
    modem.master = restarted
    modem.run(3)
    assert len(modem.events) == before  # same steps, same faults, same status: nothing new
    modem.body.release("drawer-1", pin="4711", badge="B-3")
    modem.run(2)
    assert [e.type for e in modem.events[before:]] == ["device.status_changed", "delivery.handed_over"]


@pytest.mark.parametrize(
    ("error_type", "code"),
    [("pathBlocked", "path_blocked"), ("batteryLow", "battery_low"), ("noOrderToCancel", "no_order_to_cancel")],
)
def test_vda_error_types_become_contract_fault_codes(error_type: str, code: str) -> None:
    assert fault_code(error_type) == code


def test_cancel_without_an_order_is_refused_with_a_warning(modem: NullModem) -> None:
    modem.deliver(modem.master.instant("cancelOrder", "c-1"))
    state = modem.state()
    assert state["actionStates"][-1]["actionStatus"] == "FAILED"
    assert [e["errorType"] for e in state["errors"]] == ["noOrderToCancel"]
