"""The robot simulator as a real MQTT peer: what it publishes, what it accepts, how it says goodbye.

Runs on the embedded broker (amqtt) and on the real Mosquitto; every serial number is unique per test and
retained messages are cleared afterwards, so runs never see each other's robots.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiomqtt
import pytest

from device_profiles import load_profiles
from device_profiles.maps import Route, load_map
from device_profiles.vda5050 import Channel, Handover, Headers, Vda5050Profile
from device_profiles.vda5050_schemas import schema_errors
from edge.drivers.vda5050_orders import handover_node_action, instant_actions_message, order_message
from mqttlink.url import BrokerAddress
from simulators.robots.fleet import run_robots
from simulators.robots.robot import RobotSimulator
from tests.infra import Infra
from tests.polling import eventually

CHANNELS: tuple[Channel, ...] = ("connection", "factsheet", "state", "visualization")


def _order(headers: Headers, order_id: str, route: Route, drawer: str, load_id: str, pin: str | None) -> dict[str, Any]:
    """An order with the MC-2's own hand-over (`handOverLoad`) at its destination."""
    handover = handover_node_action(Handover(), order_id, drawer=drawer, load_id=load_id, pin=pin)
    return order_message(headers, order_id, route, handover=handover)


def _profile() -> Vda5050Profile:
    profile = load_profiles()["medicart-mc2"]
    assert isinstance(profile, Vda5050Profile)
    return profile


def unique_serial() -> str:
    return f"MC2-{uuid.uuid4().hex[:10]}"


async def clear_retained(mqtt_url: str, profile: Vda5050Profile, serial: str) -> None:
    """Leave the shared broker as it was: retained connection and factsheet messages removed."""
    async with aiomqtt.Client(
        **BrokerAddress.parse(mqtt_url).client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311
    ) as client:
        for channel in ("connection", "factsheet"):
            await client.publish(profile.topic(serial, channel), b"", qos=1, retain=True)  # type: ignore[arg-type]


class Watcher:
    """A master-control-like listener that keeps every message of one robot, by channel."""

    def __init__(self, client: aiomqtt.Client, profile: Vda5050Profile, serial: str) -> None:
        self.client, self.profile, self.serial = client, profile, serial
        self.messages: dict[str, list[dict[str, Any]]] = {c: [] for c in CHANNELS}
        self.headers = Headers(profile.manufacturer, serial)

    async def collect(self) -> None:
        async for message in self.client.messages:
            if message.payload:
                channel = str(message.topic).rsplit("/", 1)[-1]
                self.messages[channel].append(json.loads(message.payload))  # type: ignore[arg-type]

    async def send(self, channel: Channel, message: dict[str, Any] | bytes) -> None:
        payload = message if isinstance(message, bytes) else json.dumps(message).encode()
        await self.client.publish(self.profile.topic(self.serial, channel), payload, qos=0)

    def last(self, channel: str) -> dict[str, Any] | None:
        return self.messages[channel][-1] if self.messages[channel] else None


@asynccontextmanager
async def watching(mqtt_url: str, profile: Vda5050Profile, serial: str) -> AsyncIterator[Watcher]:
    async with aiomqtt.Client(
        **BrokerAddress.parse(mqtt_url).client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311
    ) as client:
        for channel in CHANNELS:
            await client.subscribe(profile.topic(serial, channel), qos=1)
        watcher = Watcher(client, profile, serial)
        task = asyncio.create_task(watcher.collect())
        try:
            yield watcher
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    await clear_retained(mqtt_url, profile, serial)


async def _now(value: Any) -> Any:
    return value


async def test_every_message_the_robot_publishes_fits_the_official_schema(infra: Infra) -> None:
    profile, serial = _profile(), unique_serial()
    graph = load_map(profile.map)
    async with (
        watching(infra.mqtt_url, profile, serial) as watcher,
        RobotSimulator(profile, graph, serial, infra.mqtt_url, speed=60) as robot,
    ):
        route = graph.shortest_path("charger-0", "ward-3a")
        await watcher.send("order", _order(watcher.headers, "o-1", route, drawer="drawer-2", load_id="D-1", pin="4711"))
        await eventually(lambda: _now(robot.body.last_node_id), lambda node: node == "ward-3a", timeout_s=30)
        assert await robot.release_drawer("drawer-2", pin="4711", badge="B-5")
        await watcher.send("instantActions", instant_actions_message(watcher.headers, ("factsheetRequest", "f-1", {})))
        await eventually(lambda: _now(len(watcher.messages["factsheet"])), lambda n: n >= 2)

        def done(state: dict[str, Any] | None) -> bool:
            return state is not None and any(
                a["actionStatus"] == "FINISHED" and a["actionId"] == "o-1.handover" for a in state["actionStates"]
            )

        await eventually(lambda: _now(watcher.last("state")), done)
        await eventually(lambda: _now(len(watcher.messages["visualization"])), lambda n: n >= 3)

    published = [(channel, message) for channel, messages in watcher.messages.items() for message in messages]
    assert {channel for channel, _ in published} == set(CHANNELS)
    for channel, message in [*published, *robot.sent]:
        assert schema_errors(channel, message) == [], (channel, message)  # type: ignore[arg-type]
    assert [m["connectionState"] for m in watcher.messages["connection"]] == ["ONLINE", "OFFLINE"]
    state_ids = [m["headerId"] for m in watcher.messages["state"]]
    assert state_ids == sorted(set(state_ids))


async def test_a_robot_given_a_clock_stamps_its_messages_with_it(infra: Infra) -> None:
    """In a scenario the robot's clock is the hospital's simulated time, not the wall clock."""
    profile, serial = _profile(), unique_serial()
    simulated = datetime(2026, 11, 22, 7, 30, 15, 250000, tzinfo=UTC)
    async with (
        watching(infra.mqtt_url, profile, serial) as watcher,
        RobotSimulator(profile, load_map(profile.map), serial, infra.mqtt_url, speed=60, clock=lambda: simulated),
    ):
        await eventually(lambda: _now(watcher.last("state")), lambda state: state is not None)
    stamps = {m["timestamp"] for messages in watcher.messages.values() for m in messages}
    assert stamps == {"2026-11-22T07:30:15.25Z"}


async def test_the_robot_reports_state_at_least_every_30_robot_seconds_when_nothing_changes(infra: Infra) -> None:
    profile, serial = _profile(), unique_serial()
    async with (
        watching(infra.mqtt_url, profile, serial) as watcher,
        RobotSimulator(profile, load_map(profile.map), serial, infra.mqtt_url, speed=60, start_node="pharmacy"),
    ):
        # At 60x, 30 robot seconds are half a wall second: several periodic states in a few seconds.
        await eventually(lambda: _now(len(watcher.messages["state"])), lambda n: n >= 4, timeout_s=30)
    stamps = [m["timestamp"] for m in watcher.messages["state"]]
    assert len(set(stamps)) == len(stamps)


async def test_a_crashed_robot_is_announced_by_its_last_will(infra: Infra) -> None:
    profile, serial = _profile(), unique_serial()
    async with watching(infra.mqtt_url, profile, serial) as watcher:
        robot = RobotSimulator(profile, load_map(profile.map), serial, infra.mqtt_url, speed=60)
        await robot.start()
        await eventually(lambda: _now(watcher.last("connection")), lambda m: m and m["connectionState"] == "ONLINE")
        await robot.crash()
        await eventually(
            lambda: _now(watcher.last("connection")), lambda m: m and m["connectionState"] == "CONNECTIONBROKEN"
        )
        assert schema_errors("connection", watcher.last("connection")) == []


async def test_connection_and_factsheet_are_retained_for_a_master_that_comes_later(infra: Infra) -> None:
    profile, serial = _profile(), unique_serial()
    async with RobotSimulator(profile, load_map(profile.map), serial, infra.mqtt_url, speed=60) as robot:
        await eventually(lambda: _now(len(robot.sent)), lambda n: n >= 2)
        async with watching(infra.mqtt_url, profile, serial) as late:
            await eventually(lambda: _now(late.last("factsheet")), lambda m: m is not None)
            await eventually(lambda: _now(late.last("connection")), lambda m: m and m["connectionState"] == "ONLINE")


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"{not json", "validationError"),
        (json.dumps({"orderId": "o-1"}).encode(), "validationError"),
    ],
)
async def test_a_malformed_order_is_refused_with_a_warning_and_the_robot_keeps_going(
    infra: Infra, payload: bytes, error: str
) -> None:
    profile, serial = _profile(), unique_serial()
    graph = load_map(profile.map)
    async with (
        watching(infra.mqtt_url, profile, serial) as watcher,
        RobotSimulator(profile, graph, serial, infra.mqtt_url, speed=60) as robot,
    ):
        await watcher.send("order", payload)

        def warned(state: dict[str, Any] | None) -> bool:
            return state is not None and [e["errorType"] for e in state["errors"]] == [error]

        await eventually(lambda: _now(watcher.last("state")), warned)
        assert robot.rejected == 1
        route = graph.shortest_path("charger-0", "pharmacy")
        await watcher.send("order", _order(watcher.headers, "o-2", route, drawer="drawer-1", load_id="D-2", pin=None))
        await eventually(lambda: _now(watcher.last("state")), lambda s: s and s["orderId"] == "o-2" and not s["errors"])


async def test_a_seeded_fleet_runs_until_cancelled_and_says_goodbye(infra: Infra) -> None:
    profile, prefix = _profile(), f"F{uuid.uuid4().hex[:8]}"
    serials = [f"{prefix}-0001", f"{prefix}-0002"]
    async with (
        watching(infra.mqtt_url, profile, serials[0]) as first,
        watching(infra.mqtt_url, profile, serials[1]) as second,
    ):
        fleet = asyncio.create_task(
            run_robots("medicart-mc2", infra.mqtt_url, count=2, seed=7, speed=60, serial_prefix=prefix)
        )
        for watcher in (first, second):
            await eventually(lambda w=watcher: _now(w.last("state")), lambda s: s is not None)
        fleet.cancel()
        await asyncio.gather(fleet, return_exceptions=True)
        for watcher in (first, second):
            await eventually(lambda w=watcher: _now(w.last("connection")), lambda m: m["connectionState"] == "OFFLINE")
    starts = [w.messages["state"][0]["lastNodeId"] for w in (first, second)]
    assert all(node in ("charger-0", "pharmacy") for node in starts)
