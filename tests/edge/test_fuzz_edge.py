"""Hostile device input into the edge's drivers: the device task never dies, and what it cannot use is set aside.

Robots (VDA 5050 `state`, `connection`, `visualization`) and cabinets (vendor JSON) send valid messages with one
field broken, or noise. `handle()` is what each driver runs per MQTT message; whatever comes in, it returns,
and a message it cannot use is counted (`DeviceContext.set_aside_count`) and kept for the dead-letter topic.
"""

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import Topics
from device_profiles import DeviceInstance, MqttEndpoint, load_profiles
from edge.device_context import DeviceContext
from edge.drivers.mqtt_json import MqttJsonDevice
from edge.drivers.vda5050 import Vda5050Device
from edge.outbox import Outbox
from edge.settings import EdgeSettings
from edge.uplink import Uplink
from tests.fuzz_inputs import NASTY_TIMESTAMPS, dumps, json_values

SITE, EDGE, SERIAL, CABINET_KEY = "general-hospital", "pharmacy-edge", "MC2-0001", "MV40-0001"
QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@dataclass
class Devices:
    robot: Vda5050Device
    cabinet: MqttJsonDevice


@pytest.fixture
async def devices(tmp_path: Path) -> Devices:
    settings = EdgeSettings(data_dir=tmp_path)
    outbox = Outbox(tmp_path / "edge.sqlite", site=SITE, edge=EDGE, max_bytes=settings.outbox_max_bytes)
    uplink = Uplink(settings, Topics(SITE, EDGE), outbox)
    profiles = load_profiles()
    robot = DeviceInstance(
        id="robot-1", profile="medicart-mc2", location="pharmacy", mqtt=MqttEndpoint(topic_id=SERIAL)
    )
    cabinet = DeviceInstance(
        id="cabinet-1", profile="medvault-mv40", location="ward-3a", mqtt=MqttEndpoint(topic_id=CABINET_KEY)
    )
    return Devices(
        robot=Vda5050Device(DeviceContext(robot, profiles["medicart-mc2"], outbox, uplink, settings)),
        cabinet=MqttJsonDevice(DeviceContext(cabinet, profiles["medvault-mv40"], outbox, uplink, settings)),
    )


def _header() -> dict[str, Any]:
    return {
        "headerId": 1,
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "version": "2.1.0",
        "manufacturer": "medicart",
        "serialNumber": SERIAL,
    }


def robot_state() -> dict[str, Any]:
    return {
        **_header(),
        "orderId": "",
        "orderUpdateId": 0,
        "lastNodeId": "pharmacy",
        "lastNodeSequenceId": 0,
        "driving": False,
        "paused": False,
        "operatingMode": "AUTOMATIC",
        "nodeStates": [],
        "edgeStates": [],
        "agvPosition": {"x": 1.0, "y": 2.0, "theta": 0.0, "mapId": "floor-1", "positionInitialized": True},
        "velocity": {"vx": 0.0, "vy": 0.0, "omega": 0.0},
        "loads": [],
        "actionStates": [],
        "batteryState": {"batteryCharge": 80.0, "charging": False},
        "errors": [],
        "information": [],
        "safetyState": {"eStop": "NONE", "fieldViolation": False},
    }


def robot_connection() -> dict[str, Any]:
    return {**_header(), "connectionState": "ONLINE"}


ROBOT_PATHS = (
    ("timestamp",),
    ("headerId",),
    ("serialNumber",),
    ("batteryState", "batteryCharge"),
    ("agvPosition", "x"),
    ("agvPosition", "y"),
    ("agvPosition",),
    ("errors",),
    ("orderId",),
    ("lastNodeId",),
    ("operatingMode",),
    ("actionStates",),
)
HOSTILE = json_values | st.sampled_from([math.nan, math.inf, -math.inf, 1e308, 10**400, *NASTY_TIMESTAMPS])


def _set(message: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = message
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _robot_topic(channel: str) -> str:
    return f"uagv/v2/medicart/{SERIAL}/{channel}"


async def test_the_templates_are_valid_so_the_fuzz_reaches_past_the_schema(devices: Devices) -> None:
    for channel, message in (("connection", robot_connection()), ("state", robot_state())):
        await devices.robot.handle(_robot_topic(channel), dumps(message))
    assert devices.robot.received == 2
    assert devices.robot.ctx.set_aside_count == 0


@settings(max_examples=600, deadline=None, suppress_health_check=QUIET)
@given(data=st.data())
async def test_a_robot_message_never_stops_the_driver_and_what_it_cannot_use_is_set_aside(
    devices: Devices, data: st.DataObject
) -> None:
    robot = devices.robot
    channel = data.draw(st.sampled_from(["state", "visualization", "connection"]))
    kind = data.draw(st.sampled_from(["mutated", "mutated", "mutated", "noise", "bytes"]))
    if kind == "noise":
        payload = dumps(data.draw(json_values))
    elif kind == "bytes":
        payload = data.draw(st.binary(min_size=1, max_size=200))
    else:
        message = robot_connection() if channel == "connection" else robot_state()
        path = ("timestamp",) if channel == "connection" else data.draw(st.sampled_from(ROBOT_PATHS))
        _set(message, path, data.draw(HOSTILE))
        payload = dumps(message)
    received, set_aside = robot.received, robot.ctx.set_aside_count
    await robot.handle(_robot_topic(channel), payload)
    assert robot.received > received or robot.ctx.set_aside_count > set_aside


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "3500-01-01T00:00:00Z"])
async def test_a_robot_state_with_an_impossible_time_is_set_aside(devices: Devices, when: str) -> None:
    state = robot_state()
    state["timestamp"] = when
    await devices.robot.handle(_robot_topic("state"), dumps(state))
    assert devices.robot.ctx.set_aside_count == 1


async def test_a_robot_reporting_a_nan_battery_is_set_aside(devices: Devices) -> None:
    state = robot_state()
    state["batteryState"]["batteryCharge"] = math.nan
    await devices.robot.handle(_robot_topic("state"), dumps(state))
    assert devices.robot.ctx.set_aside_count == 1


def cabinet_event() -> dict[str, Any]:
    return {
        "msgId": "m-1",
        "ts": int(datetime.now(UTC).timestamp() * 1000),
        "evt": "ITEM_TAKEN",
        "user": {"badgeId": "rn-1"},
        "txn": {
            "binId": "A1",
            "qty": 1,
            "orderRef": "o-1",
            "item": {"gtin": "04012345678901", "lot": "L1", "exp": "2027-01-31"},
        },
    }


def cabinet_telemetry() -> dict[str, Any]:
    return {"msgId": "t-1", "ts": int(datetime.now(UTC).timestamp() * 1000), "fridge": {"tempC": 4.5, "setpointC": 5}}


CABINET_PATHS = {
    "evt": (("ts",), ("msgId",), ("evt",), ("user",), ("txn", "qty"), ("txn", "binId"), ("txn", "item")),
    "tele": (("ts",), ("fridge",), ("fridge", "tempC"), ("fridge", "setpointC")),
}


@settings(max_examples=600, deadline=None, suppress_health_check=QUIET)
@given(data=st.data())
async def test_a_cabinet_message_never_stops_the_driver(devices: Devices, data: st.DataObject) -> None:
    cabinet = devices.cabinet
    topic = data.draw(st.sampled_from(["evt", "tele", "status", "inventory", "cmd/ack"]))
    if topic in CABINET_PATHS and data.draw(st.booleans()):
        message = cabinet_event() if topic == "evt" else cabinet_telemetry()
        message["msgId"] = f"m-{data.draw(st.integers(0, 10**6))}"
        _set(message, data.draw(st.sampled_from(CABINET_PATHS[topic])), data.draw(HOSTILE))
        payload = dumps(message)
    else:
        payload = data.draw(st.binary(max_size=200) | json_values.map(dumps))
    await cabinet.handle(f"medvault/v2/{CABINET_KEY}/{topic}", payload)


@pytest.mark.parametrize("ts", [-(10**18), 10**18, 253402300800000, -62135596800001])
async def test_a_cabinet_reading_with_an_impossible_time_is_set_aside(devices: Devices, ts: int) -> None:
    message = cabinet_telemetry()
    message["ts"] = ts
    await devices.cabinet.handle(f"medvault/v2/{CABINET_KEY}/tele", json.dumps(message).encode())
    assert devices.cabinet.ctx.set_aside_count == 1
