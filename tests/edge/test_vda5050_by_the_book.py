"""Master control by the book (VDA 5050 2.0 and 2.1): what a vehicle we did not write showed us.

Each test names the defect it pins down; the robot is our simulated body over a null modem, every message
checked against the official schema of its version.
"""

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from contract import Topics
from device_profiles import DeviceInstance, MqttEndpoint, load_profiles
from device_profiles.loader import validate_files
from device_profiles.vda5050 import Headers, Vda5050Profile
from device_profiles.vda5050_schemas import Vda5050SchemaError, Vda5050VersionError, parse, schema_errors
from edge.device_context import DeviceContext
from edge.drivers.vda5050 import Vda5050Device
from edge.drivers.vda5050_master import STATE_FRESH_S, MasterControl
from edge.drivers.vda5050_task import task_state
from edge.outbox import Outbox
from edge.settings import EdgeSettings
from edge.uplink import Uplink
from simulators.robots.factsheet import factsheet_body
from tests.vda5050_modem import SERIAL, NullModem


def _online(modem: NullModem) -> None:
    modem.deliver(modem.master.connected(modem.now))


def _sent(modem: NullModem, channel: str) -> list[dict[str, Any]]:
    return [m for c, m in modem.sent if c == channel]


def _instant_types(modem: NullModem) -> list[str]:
    return [a["actionType"] for m in _sent(modem, "instantActions") for a in m["actions"]]


def _steps(modem: NullModem) -> list[str]:
    return [t.removeprefix("delivery.") for t, _ in modem.delivery_events()]


# -- 1. the version is the robot's, both ways ----------------------------------------------------------------
@pytest.mark.parametrize("version", ["2.0.0", "2.1.0"])
def test_every_message_is_shaped_and_checked_for_the_robots_version(version: str) -> None:
    modem = NullModem(vda_version=version)
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    _online(modem)
    modem.dispatch("ward-3a", pin=None)
    modem.run(200)
    modem.body.release("drawer-1", badge="B-1")
    modem.run(2)
    assert _steps(modem) == ["accepted", "departed", "arrived", "handed_over"]
    assert {m["version"] for _, m in modem.sent} == {version}
    for channel, message in modem.sent:
        assert schema_errors(channel, message, version) == []  # type: ignore[arg-type]
    instant = _sent(modem, "instantActions")[0]
    # 2.0 vehicles (vda-5050-lib) read `instantActions`; the official schemas of both versions ask for `actions`.
    assert ("instantActions" in instant) == (version == "2.0.0")
    assert instant["actions"] == instant.get("instantActions", instant["actions"])


def test_a_site_file_may_override_the_profiles_version() -> None:
    modem = NullModem()
    master = MasterControl("robot-1", modem.profile, modem.graph, SERIAL, version="2.0.0")
    [(_, message), _] = master.connected(0.0).messages
    assert message["version"] == "2.0.0"
    assert modem.profile.vda_version == "2.1.0"


def test_a_version_on_a_device_that_is_not_a_robot_is_refused_with_its_field(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        "site: s\nedge: e\ndevices:\n"
        "  - {id: cab-1, profile: medvault-mv40, location: ward-3a, mqtt: {topic_id: MV40-1}, vda_version: 2.0.0}\n"
    )
    [problem] = validate_files([site])
    assert problem.field == "devices[0].vda_version"
    assert "not VDA 5050" in problem.reason


def test_a_message_of_another_major_version_is_refused_and_another_minor_is_taken() -> None:
    state = NullModem().state()
    with pytest.raises(Vda5050VersionError, match=r"configured for 2\.1\.0, another major version"):
        parse("state", json.dumps({**state, "version": "3.0.0"}), "2.1.0")
    assert parse("state", json.dumps({**state, "version": "2.0.0"}), "2.1.0")["version"] == "2.0.0"


def test_a_robot_speaking_another_major_version_is_one_device_fault_until_it_speaks_ours() -> None:
    modem = NullModem()
    first = modem.master.wrong_version("state message of VDA 5050 3.0.0")
    again = modem.master.wrong_version("state message of VDA 5050 3.0.0")
    assert [(e.type, e.data["code"], e.data["severity"]) for e in first.events] == [
        ("device.fault_raised", "protocol_version_mismatch", "critical")
    ]
    assert again.events == []
    cleared = modem.master.on_state(modem.state(), modem.now)
    assert [(e.type, e.data["code"]) for e in cleared.events if "fault" in e.type] == [
        ("device.fault_cleared", "protocol_version_mismatch")
    ]


# -- 2. the hand-over is configuration -----------------------------------------------------------------------
def test_a_standard_drop_is_sent_with_the_load_and_its_parameters_and_a_robot_without_it_says_why() -> None:
    modem = NullModem(handover={"action": "drop", "parameters": {"stationType": "floor", "loadType": "EPAL"}})
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    modem.dispatch("ward-3a")
    [order] = _sent(modem, "order")
    [drop] = order["nodes"][-1]["actions"]
    assert drop["actionType"] == "drop"
    assert {p["key"]: p["value"] for p in drop["actionParameters"]} == {
        "loadId": "D-1", "stationType": "floor", "loadType": "EPAL"
    }  # fmt: skip
    modem.run(3)  # our MC-2 only knows its own handOverLoad: it refuses with orderError
    assert modem.delivery_events() == [
        (
            "delivery.failed",
            {"robot": "robot-1", "reason": "robot refused the order (orderError): action type 'drop' is not supported"},
        )
    ]


def test_wait_for_trigger_is_handed_over_when_the_robot_reports_it_finished() -> None:
    modem = NullModem(handover={"action": "waitForTrigger", "parameters": {"triggerType": "badge"}})
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    modem.dispatch("icu", pin=None)
    modem.run(300)
    assert _steps(modem) == ["accepted", "departed", "arrived"]
    assert modem.master.status == "waiting"
    assert modem.body.release("drawer-2", badge="B-2001") is None  # the badge at the reader is the trigger
    modem.run(2)
    assert modem.delivery_events()[-1] == (
        "delivery.handed_over", {"robot": "robot-1", "drawer": "drawer-1", "badge": "B-2001"}
    )  # fmt: skip


def test_with_no_hand_over_action_arrival_then_a_badge_at_the_robot_is_the_hand_over() -> None:
    modem = NullModem(handover={"action": "none"})
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    modem.dispatch("ward-4b", pin=None)
    [order] = _sent(modem, "order")
    assert all(node["actions"] == [] for node in order["nodes"])
    modem.run(300)
    assert _steps(modem) == ["accepted", "departed", "arrived"]
    modem.body.release("drawer-1", badge="B-7")
    modem.run(2)
    assert _steps(modem)[-1] == "handed_over"
    assert modem.delivery_events()[-1][1]["badge"] == "B-7"


def test_a_pickup_action_goes_on_the_start_node() -> None:
    modem = NullModem(handover={"action": "none"}, pickup={"action": "pick", "parameters": {"stationType": "floor"}})
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    modem.dispatch("ward-4b")
    [order] = _sent(modem, "order")
    [pick] = order["nodes"][0]["actions"]
    assert (pick["actionType"], pick["blockingType"]) == ("pick", "HARD")
    assert {p["key"]: p["value"] for p in pick["actionParameters"]} == {"loadId": "D-1", "stationType": "floor"}


# -- 3. every refusal counts, with the robot's reason ----------------------------------------------------------
@pytest.mark.parametrize("error_type", ["noRouteError", "validationError", "orderError", "orderUpdateError"])
def test_an_order_the_robot_refuses_fails_at_once_with_its_reason_and_is_not_resent(error_type: str) -> None:
    modem = NullModem(patience_s=120)
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    modem.lose_orders = True  # the robot does not take it ...
    modem.dispatch("icu")
    order_id = _sent(modem, "order")[0]["orderId"]
    modem.body.raise_error(error_type, "WARNING", "order route is not traversable", orderId=order_id)  # ... and says
    modem.run(30)
    assert modem.delivery_events() == [
        (
            "delivery.failed",
            {"robot": "robot-1", "reason": f"robot refused the order ({error_type}): order route is not traversable"},
        )
    ]
    assert len(_sent(modem, "order")) == 1


# -- 4. a resend is a new message ------------------------------------------------------------------------------
def test_a_resent_order_gets_a_new_header_id_and_timestamp_each_time() -> None:
    modem = NullModem()
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    modem.lose_orders = True
    modem.dispatch("icu")
    modem.run(10)
    orders = _sent(modem, "order")
    assert len(orders) >= 3
    ids = [o["headerId"] for o in orders]
    assert ids == sorted(set(ids))  # strictly increasing on the topic
    assert len({o["orderId"] for o in orders}) == 1  # the same order


# -- 5. ask for the state instead of waiting for it -------------------------------------------------------------
def test_coming_online_asks_for_the_state_and_the_factsheet() -> None:
    modem = NullModem()
    _online(modem)
    assert _instant_types(modem) == ["stateRequest", "factsheetRequest"]
    ids = [a["actionId"] for m in _sent(modem, "instantActions") for a in m["actions"]]
    assert len(set(ids)) == 2


def test_a_robot_known_only_from_its_connection_gets_its_order_as_soon_as_it_answers_the_state_request() -> None:
    modem = NullModem()
    _online(modem)  # the edge connected after the robot's last state: no state yet
    modem.dispatch("ward-3a")
    assert _sent(modem, "order") == []
    modem.deliver(modem.master.on_state(modem.state(), modem.now))  # the answer to stateRequest ...
    factsheet = {**Headers("medicart", SERIAL)("factsheet"), **factsheet_body(modem.profile)}
    modem.deliver(modem.master.on_factsheet(factsheet, modem.now))  # ... and to factsheetRequest
    assert len(_sent(modem, "order")) == 1


def test_a_dispatch_on_a_stale_state_asks_for_a_new_one_before_planning() -> None:
    modem = NullModem()
    _online(modem)
    modem.deliver(modem.master.on_state(modem.state(), modem.now))  # the answer
    modem.sent.clear()
    modem.now += STATE_FRESH_S + 25  # the robot's periodic state is up to 30 s apart
    modem.dispatch("ward-3a")
    assert _instant_types(modem) == ["stateRequest"]
    assert _sent(modem, "order") == []
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    assert len(_sent(modem, "order")) == 1


# -- 6. the factsheet is asked for and used ---------------------------------------------------------------------
def test_a_robot_whose_factsheet_lacks_the_hand_over_action_is_refused_before_any_order() -> None:
    modem = NullModem(handover={"action": "drop"})
    factsheet = {**Headers("medicart", SERIAL)("factsheet"), **factsheet_body(modem.profile)}
    assert schema_errors("factsheet", factsheet) == []
    modem.master.on_factsheet(factsheet)
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    modem.dispatch("ward-3a")
    [(kind, data)] = modem.delivery_events()
    assert kind == "delivery.failed"
    assert data["reason"].startswith("the robot (medicart MC-2) cannot do 'drop' on a node: its factsheet lists ")
    assert "handOverLoad" in data["reason"]
    assert _sent(modem, "order") == []


def test_a_robot_whose_factsheet_lists_the_action_gets_the_order() -> None:
    modem = NullModem(handover={"action": "waitForTrigger"})
    modem.master.on_factsheet({**Headers("medicart", SERIAL)("factsheet"), **factsheet_body(modem.profile)})
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    modem.dispatch("ward-3a")
    assert len(_sent(modem, "order")) == 1


# -- 7. smaller things -------------------------------------------------------------------------------------------
def _state(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "errors": [],
        "paused": False,
        "driving": False,
        "nodeStates": [],
        "actionStates": [],
        "batteryState": {"batteryCharge": 80, "charging": False},
    }
    return {**base, **fields}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (_state(nodeStates=[{"nodeId": "n"}]), "driving"),  # stopped at a node on the way: still on its task
        (_state(driving=True), "driving"),
        (_state(actionStates=[{"actionId": "a", "actionStatus": "RUNNING"}]), "waiting"),
        (_state(errors=[{"errorType": "pathBlocked", "errorLevel": "WARNING"}], nodeStates=[{}]), "blocked"),
        (_state(paused=True, driving=True), "paused"),
        (_state(batteryState={"charging": True}), "charging"),
        (_state(errors=[{"errorType": "batteryEmpty", "errorLevel": "FATAL"}]), "fault"),
        (_state(), "idle"),
    ],
)
def test_the_device_status_is_the_robots_task_state(state: dict[str, Any], expected: str) -> None:
    assert task_state(state) == expected


def test_two_deliveries_change_the_status_a_few_times_not_at_every_node(modem_pair: NullModem) -> None:
    modem = modem_pair
    for delivery, destination in (("D-1", "ward-3a"), ("D-2", "icu")):
        modem.dispatch(destination, pin=None, delivery=delivery)
        modem.run(60, dt=0.5)
        for _ in range(300):  # stop at every node for a moment, as vehicles do between edges
            state = modem.state()
            modem.deliver(modem.master.on_state({**state, "driving": False}, modem.now))
            modem.run(1)
            if not modem.body.legs:
                break
        modem.body.release("drawer-1", badge="B-1")
        modem.run(3)
    statuses = [e.data["status"] for e in modem.events if e.type == "device.status_changed"]
    assert statuses.count("idle") <= 3
    assert len(statuses) <= 8, statuses


@pytest.fixture
def modem_pair() -> NullModem:
    modem = NullModem()
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    return modem


def test_a_delivery_whose_robot_vanished_mid_route_fails_after_lost_after_s() -> None:
    modem = NullModem(lost_after_s=120)
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    modem.dispatch("ward-4b")
    modem.run(20)
    assert _steps(modem) == ["accepted", "departed"]
    modem.master.disconnected(modem.now)  # CONNECTIONBROKEN: the broker published its Last Will
    modem.deliver(modem.master.tick(modem.now + 119))
    assert _steps(modem) == ["accepted", "departed"]
    modem.deliver(modem.master.tick(modem.now + 121))
    assert modem.delivery_events()[-1] == (
        "delivery.failed",
        {"robot": "robot-1", "reason": "robot lost its connection mid-route and was not back within 120 s"},
    )


def test_a_robot_back_in_time_carries_on() -> None:
    modem = NullModem(lost_after_s=120)
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    modem.dispatch("ward-4b")
    modem.run(20)
    modem.master.disconnected(modem.now)
    modem.now += 60
    _online(modem)
    modem.deliver(modem.master.tick(modem.now + 200))
    assert "failed" not in _steps(modem)


def test_a_robot_that_gives_up_the_order_says_so_in_words() -> None:
    modem = NullModem()
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    modem.dispatch("ward-4b")
    modem.run(20)
    modem.body.order_id, modem.body.legs = "", []  # the robot rebooted and forgot the order
    modem.run(2)
    assert modem.delivery_events()[-1][1]["reason"] == "robot gave up the order before the hand-over (it has no order)"


def _robot(tmp_path: Path, **device: Any) -> Vda5050Device:
    """The real driver over a real outbox, no network: `handle()` is what it runs per MQTT message."""
    settings = EdgeSettings(data_dir=tmp_path)
    outbox = Outbox(tmp_path / "edge.sqlite", site="s", edge="e", max_bytes=settings.outbox_max_bytes)
    instance = DeviceInstance(
        id="robot-1", profile="medicart-mc2", location="pharmacy", mqtt=MqttEndpoint(topic_id=SERIAL), **device
    )
    profile = load_profiles()["medicart-mc2"]
    return Vda5050Device(DeviceContext(instance, profile, outbox, Uplink(settings, Topics("s", "e"), outbox), settings))


async def test_the_driver_sets_aside_a_message_of_another_major_version_and_raises_the_fault(tmp_path: Path) -> None:
    robot = _robot(tmp_path)
    state = {**NullModem().state(), "version": "3.0.0"}
    await robot.handle(robot.topic("state"), json.dumps(state).encode())
    assert robot.ctx.set_aside_count == 1
    assert "protocol_version_mismatch@" in robot.master.faults


async def test_a_site_files_version_reaches_the_driver(tmp_path: Path) -> None:
    robot = _robot(tmp_path, vda_version="2.0.0")
    assert robot.master.headers.version == "2.0.0"
    state = {**NullModem(vda_version="2.0.0").state()}
    await robot.handle(robot.topic("state"), json.dumps(state).encode())
    assert robot.ctx.set_aside_count == 0


async def test_a_robot_saying_offline_is_logged_as_information_not_as_an_error(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    robot = _robot(tmp_path)

    async def say(state: str) -> None:
        message = {**Headers("medicart", SERIAL)("connection"), "connectionState": state}
        await robot.handle(robot.topic("connection"), json.dumps(message).encode())

    await say("ONLINE")
    with caplog.at_level(logging.INFO):
        await say("OFFLINE")
    offline = [r for r in caplog.records if "offline" in r.getMessage()]
    assert offline
    assert all(r.levelno == logging.INFO for r in offline)
    assert robot.ctx.failures.failures == 0


def test_profiles_default_to_todays_behaviour() -> None:
    profile = load_profiles()["medicart-mc2"]
    assert isinstance(profile, Vda5050Profile)
    assert (profile.vda_version, profile.handover.action, profile.pickup) == ("2.1.0", "handOverLoad", None)


def test_a_message_of_our_own_that_breaks_the_schema_is_our_fault_not_the_robots(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    modem = NullModem()

    def broken(kind: str, message: dict[str, Any], version: str | None = None) -> dict[str, Any]:
        raise Vda5050SchemaError(f"not a valid VDA 5050 {kind} message: (top): made invalid by the test")

    monkeypatch.setattr("edge.drivers.vda5050_orders.check", broken)
    with caplog.at_level(logging.ERROR):
        assert modem.master.connected(modem.now).messages == []  # nothing invalid leaves, nothing raises
        modem.deliver(modem.master.on_state(modem.state(), modem.now))
        modem.dispatch("ward-3a")
        modem.run(STATE_FRESH_S + 2)  # no factsheet comes (its request could not be sent): plan without it
    [(kind, data)] = modem.delivery_events()
    assert kind == "delivery.failed"
    assert data["reason"].startswith("no valid order could be built: master control's own order message breaks")
    assert any("instantActions" in r.getMessage() for r in caplog.records)


# -- what a second reading of the code found ---------------------------------------------------------------------
def test_a_robot_back_after_its_delivery_failed_as_lost_is_told_to_cancel_and_takes_the_next_one() -> None:
    modem = NullModem(lost_after_s=120)
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    modem.dispatch("ward-4b", delivery="D-1")
    modem.run(20)
    modem.master.disconnected(modem.now)
    modem.deliver(modem.master.tick(modem.now + 130))
    assert _steps(modem)[-1] == "failed"
    modem.run(3)  # it is back, still driving D-1's route
    assert _instant_types(modem).count("cancelOrder") == 1
    assert modem.body.legs == []
    modem.dispatch("icu", delivery="D-2")
    modem.run(3)
    assert [o["orderId"].split(".")[0] for o in _sent(modem, "order")][-1] == "D-2"


def test_with_no_hand_over_action_an_arrived_delivery_does_not_hold_the_next() -> None:
    modem = NullModem(handover={"action": "none"})
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    modem.dispatch("ward-4b", delivery="D-1", pin=None)
    modem.run(300)
    assert _steps(modem)[-1] == "arrived"  # nobody showed a badge at the robot
    modem.dispatch("icu", delivery="D-2", pin=None)
    modem.run(3)
    assert [o["orderId"].split(".")[0] for o in _sent(modem, "order")] == ["D-1", "D-2"]


def test_a_state_is_proof_of_life_whatever_the_connection_topic_said() -> None:
    modem = NullModem(lost_after_s=120)
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    modem.dispatch("ward-4b")
    modem.run(20)
    modem.master.disconnected(modem.now)  # the edge's link blipped; no ONLINE replayed after it
    modem.run(150)  # ... but its states keep coming
    assert "failed" not in _steps(modem)
    assert modem.master.online


def test_a_robot_that_just_connected_gets_no_order_before_its_factsheet_had_time_to_come() -> None:
    modem = NullModem(handover={"action": "drop"})
    _online(modem)
    modem.deliver(modem.master.on_state(modem.state(), modem.now))  # the state answers first
    modem.dispatch("ward-3a")
    assert _sent(modem, "order") == []
    factsheet = {**Headers("medicart", SERIAL)("factsheet"), **factsheet_body(modem.profile)}
    modem.deliver(modem.master.on_factsheet(factsheet, modem.now))
    assert _sent(modem, "order") == []
    assert "cannot do 'drop' on a node" in modem.delivery_events()[-1][1]["reason"]


def test_a_robot_that_never_sends_a_factsheet_gets_its_order_after_a_short_wait() -> None:
    modem = NullModem()
    _online(modem)
    modem.deliver(modem.master.on_state(modem.state(), modem.now))
    modem.dispatch("ward-3a")
    modem.run(STATE_FRESH_S + 2)
    assert len(_sent(modem, "order")) == 1


def test_a_delivery_waiting_for_a_robot_busy_with_an_order_not_ours_fails_after_patience() -> None:
    modem = NullModem(patience_s=60)
    busy = {
        **modem.state(),
        "orderId": "someone-elses",
        "nodeStates": [{"nodeId": "pharmacy", "sequenceId": 2, "released": True}],
    }
    modem.deliver(modem.master.on_state(busy, modem.now))
    modem.dispatch("icu")
    modem.now += 61
    modem.deliver(modem.master.on_state({**busy, **Headers("medicart", SERIAL)("state")}, modem.now))
    assert modem.delivery_events() == [
        ("delivery.failed", {"robot": "robot-1", "reason": "robot busy with someone-elses for more than 60 s"})
    ]


def test_instant_action_ids_differ_from_one_edge_process_to_the_next() -> None:
    modem = NullModem()
    first = MasterControl("robot-1", modem.profile, modem.graph, SERIAL).connected(0.0).messages
    again = MasterControl("robot-1", modem.profile, modem.graph, SERIAL).connected(0.0).messages
    ids = [{a["actionId"] for _, m in messages for a in m["actions"]} for messages in (first, again)]
    assert not ids[0] & ids[1]
