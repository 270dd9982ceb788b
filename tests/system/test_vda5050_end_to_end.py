"""A pharmacy delivery by robot, end to end over real sockets: gateway, robot simulator (VDA 5050), edge agent.

The gateway's command topic -> edge (master control) -> VDA 5050 order -> robot drives the hospital map ->
state -> delivery events -> gateway database, each step stored exactly once. Runs on the embedded defaults
(amqtt + SQLite) and on the real Mosquitto + PostgreSQL.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from contract import DeadLetter, Topics
from contract.command import DispatchDelivery
from contract.topics import deadletter_topic
from device_profiles import DeviceInstance, MqttEndpoint, Site, load_profiles
from device_profiles.maps import load_map
from device_profiles.vda5050 import Vda5050Profile
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.storage.tables import events
from mqttlink.url import BrokerAddress
from simulators.robots.robot import RobotSimulator
from tests.infra import Infra
from tests.polling import eventually
from tests.simulators.test_robot_sim import clear_retained, unique_serial

SITE, EDGE, ROBOT = "general-hospital", "pharmacy-edge", "robot-1"


@dataclass
class Hospital:
    gateway: Gateway
    robot: RobotSimulator
    edge: EdgeAgent
    infra: Infra

    async def dispatch(self, delivery: str, destination: str, pin: str | None = "4711") -> None:
        command = DispatchDelivery(
            id=uuid.uuid4(),
            requested_by="pharmacist-7",
            requested_at=datetime.now(UTC),
            delivery=delivery,
            destination=destination,
            drawer="drawer-2",
            release_pin=pin,
        )
        topic = Topics(SITE, EDGE, self.infra.topic_root).command(ROBOT)
        async with aiomqtt.Client(
            **BrokerAddress.parse(self.infra.mqtt_url).client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311
        ) as client:
            await client.publish(topic, command.model_dump_json().encode(), qos=1)

    async def stored(self, subject_kind: str, subject_id: str) -> list[tuple[str, dict[str, Any]]]:
        """The subject's events in the gateway database, in the order the edge numbered them."""
        assert self.gateway.store is not None
        query = (
            sa.select(events.c.type, events.c.body)
            .where(events.c.subject_kind == subject_kind, events.c.subject_id == subject_id)
            .order_by(events.c.seq)
        )
        async with self.gateway.store.db.engine.connect() as connection:
            return [(row.type, row.body["data"]) for row in await connection.execute(query)]


@pytest.fixture
async def hospital(
    infra: Infra, gateway_settings: GatewaySettings, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Hospital]:
    patience_s = getattr(request, "param", 120.0)
    profile = load_profiles()["medicart-mc2"]
    assert isinstance(profile, Vda5050Profile)
    profile = profile.model_copy(update={"patience_s": patience_s})
    serial = unique_serial()
    site = Site(
        site=SITE,
        edge=EDGE,
        devices=[
            DeviceInstance(
                id=ROBOT,
                profile=profile.name,
                location="pharmacy",
                mqtt=MqttEndpoint(topic_id=serial),
                poll_interval_s=0.2,
            )
        ],
    )
    settings = EdgeSettings(mqtt_url=infra.mqtt_url, topic_root=infra.topic_root, data_dir=tmp_path / "edge")
    async with (
        Gateway(gateway_settings) as gateway,
        RobotSimulator(profile, load_map(profile.map), serial, infra.mqtt_url, speed=60) as robot,
        EdgeAgent(settings, site, {profile.name: profile}) as edge,
    ):
        hospital = Hospital(gateway, robot, edge, infra)

        async def online() -> bool | None:
            return edge.devices[0].ctx.online

        await eventually(online, lambda value: value is True, what="the robot online at the edge")
        yield hospital
    await clear_retained(infra.mqtt_url, profile, serial)


async def _letter_about(client: aiomqtt.Client, topic: str) -> DeadLetter:
    async for message in client.messages:
        try:
            letter = DeadLetter.model_validate_json(message.payload)  # type: ignore[arg-type]
        except ValidationError:
            continue
        if letter.topic == topic:
            return letter
    raise AssertionError("the subscription ended")


async def _value(value: Any) -> Any:
    return value


async def test_a_delivery_is_accepted_departs_arrives_and_is_handed_over_exactly_once(hospital: Hospital) -> None:
    robot = hospital.robot
    await hospital.dispatch("D-20261123-0001", "ward-3a", pin="4711")
    await eventually(
        lambda: _value(robot.body.handover is not None and robot.body.handover.due),
        what="the robot waiting at ward-3a",
    )
    assert not await robot.release_drawer("drawer-2", pin="1234", badge="B-1042")  # wrong PIN: stays locked
    assert await robot.release_drawer("drawer-2", pin="4711", badge="B-1042")

    def complete(stored: list[tuple[str, dict[str, Any]]]) -> bool:
        return any(kind == "delivery.handed_over" for kind, _ in stored)

    stored = await eventually(lambda: hospital.stored("delivery", "D-20261123-0001"), complete)
    order_id = stored[0][1]["order_id"]
    assert stored == [
        ("delivery.accepted", {"robot": ROBOT, "order_id": order_id, "destination": "ward-3a", "drawer": "drawer-2"}),
        ("delivery.departed", {"robot": ROBOT, "node": "charger-0"}),
        ("delivery.arrived", {"robot": ROBOT, "node": "ward-3a"}),
        ("delivery.handed_over", {"robot": ROBOT, "drawer": "drawer-2", "badge": "B-1042"}),
    ]
    assert order_id.startswith("D-20261123-0001.")
    device = [kind for kind, _ in await hospital.stored("device", ROBOT)]
    assert device[0] == "device.online"
    assert "device.status_changed" in device


@pytest.mark.parametrize("hospital", [2.0], indirect=True)  # master control's patience, in wall seconds
async def test_a_blocked_path_is_a_fault_and_beyond_patience_the_delivery_fails(hospital: Hospital) -> None:
    hospital.robot.block_edge("e-charger-pharmacy")
    await hospital.dispatch("D-20261123-0002", "icu")

    def failed(stored: list[tuple[str, dict[str, Any]]]) -> bool:
        return any(kind == "delivery.failed" for kind, _ in stored)

    stored = await eventually(lambda: hospital.stored("delivery", "D-20261123-0002"), failed)
    assert [kind for kind, _ in stored] == ["delivery.accepted", "delivery.failed"]
    assert "path blocked for more than 2 s" in stored[-1][1]["reason"]

    def raised_and_cleared(stored: list[tuple[str, dict[str, Any]]]) -> bool:
        return [kind for kind, _ in stored if "fault" in kind] == ["device.fault_raised", "device.fault_cleared"]

    device = await eventually(lambda: hospital.stored("device", ROBOT), raised_and_cleared)
    [raised] = [data for kind, data in device if kind == "device.fault_raised"]
    assert raised == {
        "code": "path_blocked",
        "severity": "warning",
        "description": "obstacle on the path",
        "component": "e-charger-pharmacy",
    }
    assert hospital.robot.body.legs == []  # the edge cancelled the order on the robot


async def test_a_robot_that_loses_power_goes_offline_at_the_edge(hospital: Hospital) -> None:
    await hospital.robot.crash()

    def offline(stored: list[tuple[str, dict[str, Any]]]) -> bool:
        return any(kind == "device.offline" for kind, _ in stored)

    device = await eventually(lambda: hospital.stored("device", ROBOT), offline)
    [reason] = [data["reason"] for kind, data in device if kind == "device.offline"]
    assert "CONNECTIONBROKEN" in reason


async def test_a_robot_message_that_breaks_the_schema_goes_to_the_dead_letter_topic(hospital: Hospital) -> None:
    robot, infra = hospital.robot, hospital.infra
    broker = BrokerAddress.parse(infra.mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        await client.subscribe(deadletter_topic(infra.topic_root), qos=1)
        # A firmware bug: a state without its battery.
        bad = {**robot.headers("state"), **robot.body.state()}
        del bad["batteryState"]
        await client.publish(robot.topic("state"), json.dumps(bad).encode(), qos=0)
        letter = await asyncio.wait_for(_letter_about(client, robot.topic("state")), 30)
    assert letter.reason == "not a valid VDA 5050 state message: (top): 'batteryState' is a required property"
    assert letter.topic == robot.topic("state")
    assert hospital.edge.devices[0].ctx.online is True  # the link carries on
    await hospital.dispatch("D-20261123-0003", "pharmacy", pin=None)

    def accepted(stored: list[tuple[str, dict[str, Any]]]) -> bool:
        return [kind for kind, _ in stored][:1] == ["delivery.accepted"]

    await eventually(lambda: hospital.stored("delivery", "D-20261123-0003"), accepted)
