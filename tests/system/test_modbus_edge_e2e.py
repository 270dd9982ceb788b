"""Both Modbus families end to end: simulators -> Modbus TCP -> edge -> MQTT -> gateway -> events API.

The tube system's carriers and the sorter's watched status, faults and telemetry arrive as events exactly once,
also when the edge loses a device and reconnects; pause / resume commands reach the sorter's coil.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import aiomqtt
import pytest

from contract import Telemetry, Topics
from device_profiles import DeviceInstance, ModbusEndpoint, Site, load_profiles
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from mqttlink.url import BrokerAddress
from simulators.sorter.device import SorterSimulator
from simulators.sorter.tube import Sorted, Tube
from simulators.tubes.controller import TubeSystemSimulator
from tests.auth import authorised
from tests.infra import Infra
from tests.polling import eventually

SPEED = 600.0
"""Device seconds per real second: a four-minute trip takes 0.4 s."""


@dataclass
class Plant:
    gateway: Gateway
    edge: EdgeAgent
    tubes: TubeSystemSimulator
    sorter: SorterSimulator
    mqtt_url: str

    async def events(self, **params: Any) -> list[dict[str, Any]]:
        async with authorised(self.gateway) as api:
            response = await api.get("/api/v1/events", params={"limit": 1000, **params})
        response.raise_for_status()
        return response.json()["data"]  # type: ignore[no-any-return]

    def online(self, device: str) -> bool | None:
        return next(d.ctx.online for d in self.edge.devices if d.ctx.id == device)


@pytest.fixture
async def plant(infra: Infra, tmp_path: Path) -> AsyncIterator[Plant]:
    profiles = load_profiles()
    gateway = Gateway(
        GatewaySettings(
            mqtt_url=infra.mqtt_url,
            database_url=infra.database_url,
            database_schema=infra.database_schema,
            data_dir=tmp_path,
            topic_root=infra.topic_root,
            api_port=0,
        )
    )
    tubes = TubeSystemSimulator(profiles["tubenet-pts9"], speed=SPEED)
    sorter = SorterSimulator(profiles["acme-sorter-s100"])
    await gateway.start()
    await tubes.start()
    await sorter.start()
    site = Site(
        site="general-hospital",
        edge="transport-edge",
        devices=[
            DeviceInstance(
                id="tubes-1",
                profile="tubenet-pts9",
                location="basement",
                modbus=ModbusEndpoint(host="127.0.0.1", port=tubes.port),
                poll_interval_s=0.05,
            ),
            DeviceInstance(
                id="sorter-1",
                profile="acme-sorter-s100",
                location="core-lab",
                modbus=ModbusEndpoint(host="127.0.0.1", port=sorter.port),
                poll_interval_s=0.05,
            ),
        ],
    )
    settings = EdgeSettings(
        mqtt_url=infra.mqtt_url, topic_root=infra.topic_root, data_dir=tmp_path / "edge", max_backoff_s=0.5
    )
    edge = EdgeAgent(settings, site, profiles)
    await edge.start()
    try:
        yield Plant(gateway, edge, tubes, sorter, infra.mqtt_url)
    finally:
        for part in (edge, tubes, sorter, gateway):
            await asyncio.wait_for(part.stop(), 60)


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


async def test_carriers_arrive_at_the_gateway_once_each_with_their_specimens(plant: Plant) -> None:
    tubes = plant.tubes
    specimens = await tubes.send("E280116000000001", "ed", "lab", priority="stat", specimens=["S123456782"])
    tubes.block_zone("zone-d")
    secure = await tubes.send("E280116000000002", "pharmacy", "ward-3a", secure=True)
    await eventually(lambda: plant.events(subject_kind="carrier", subject_id=secure.carrier), lambda e: len(e) >= 2)
    tubes.clear_zone("zone-d")
    await asyncio.wait_for(secure.arrived.wait(), 30)

    async def tube_events() -> list[dict[str, Any]]:
        return await plant.events(subject_kind="device", subject_id="tubes-1")

    def ward_4a(events: list[dict[str, Any]]) -> list[str]:
        changes = [e["data"] for e in events if e["type"] == "device.status_changed"]
        return [d["status"] for d in changes if d["component"] == "ward-4a" and d["status"] != "carrier_arriving"]

    await eventually(tube_events, lambda e: ward_4a(e) == ["ready", "carrier_held"], what="ward-4a holding it")
    assert await tubes.present_badge(secure.to_station, "B204711") is secure
    await eventually(tube_events, lambda e: ward_4a(e) == ["ready", "carrier_held", "ready"], what="its release")

    first = await eventually(
        lambda: plant.events(subject_kind="carrier", subject_id=specimens.carrier), lambda e: len(e) >= 2
    )
    second = await eventually(
        lambda: plant.events(subject_kind="carrier", subject_id=secure.carrier), lambda e: len(e) >= 4
    )
    assert _types(first) == ["carrier.dispatched", "carrier.arrived"]
    assert first[0]["data"] == {
        "transaction": specimens.transaction,
        "from_station": "ed",
        "to_station": "lab",
        "priority": "stat",
        "secure": False,
        "specimens": ["S123456782"],
    }
    assert first[1]["data"] == {"transaction": specimens.transaction, "station": "lab"}
    assert _types(second) == ["carrier.dispatched", "carrier.rerouted", "carrier.arrived", "carrier.released"]
    assert second[1]["data"] == {"transaction": secure.transaction, "to_station": "ward-4a", "reason": "zone_blocked"}
    assert second[3]["data"] == {"transaction": secure.transaction, "station": "ward-4a", "badge": "B204711"}

    def zone_d(events: list[dict[str, Any]]) -> list[str]:
        return [e["type"] for e in events if e["data"].get("component") == "zone-d"]

    faults = await eventually(
        tube_events,
        lambda e: zone_d(e) == ["device.fault_raised", "device.fault_cleared"],
        what="zone-d raised and cleared once",
    )
    raised = next(e for e in faults if e["type"] == "device.fault_raised")
    assert raised["data"]["code"] == "zone_blocked"

    async def depth() -> int:
        return plant.edge.outbox.depth()

    await eventually(depth, lambda n: n == 0, what="the outbox to drain")
    again = await plant.events(subject_kind="carrier", subject_id=secure.carrier)
    assert len(again) == 4  # nothing stored twice


async def _command(plant: Plant, command: str) -> None:
    body = {"type": command, "id": str(uuid4()), "requested_by": "lab-lead-17", "requested_at": datetime.now(UTC)}
    broker = BrokerAddress.parse(plant.mqtt_url)
    await asyncio.wait_for(plant.edge.uplink.connected.wait(), 30)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        await client.publish(plant.edge.topics.command("sorter-1"), json.dumps(body, default=str), qos=1)


def _sorter_story(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    story = []
    for event in events:
        data = event["data"]
        if event["type"] == "device.status_changed":
            story.append(("status", data["status"]))
        elif event["type"] in ("device.fault_raised", "device.fault_cleared"):
            story.append((event["type"].removeprefix("device."), data["code"]))
    return story


async def test_sorter_status_and_faults_arrive_once_each_also_across_a_reconnect(plant: Plant) -> None:
    sorter = plant.sorter

    async def sorter_events() -> list[dict[str, Any]]:
        return await plant.events(subject_kind="device", subject_id="sorter-1")

    await eventually(sorter_events, lambda e: ("status", "idle") in _sorter_story(e), what="idle")
    sorter.jam()
    await eventually(sorter_events, lambda e: ("fault_raised", "jam") in _sorter_story(e), what="the jam")

    await sorter.stop()  # the link drops while the sorter is jammed ...
    await eventually(lambda: _value(plant.online("sorter-1")), lambda online: online is False)
    await sorter.start()  # ... and comes back on the same port, still jammed: nothing to report again
    await eventually(lambda: _value(plant.online("sorter-1")), lambda online: online is True)
    sorter.clear_fault()
    await eventually(sorter_events, lambda e: ("fault_cleared", "jam") in _sorter_story(e), what="the jam cleared")
    await _command(plant, "pause")
    await eventually(lambda: _value(sorter.paused), bool, what="the pause coil set by the edge")
    await eventually(sorter_events, lambda e: ("status", "paused") in _sorter_story(e), what="paused")
    await _command(plant, "resume")
    await eventually(lambda: _value(sorter.paused), lambda paused: paused is False, what="the coil cleared")

    expected = [
        ("status", "idle"),
        ("status", "jam"),
        ("fault_raised", "jam"),
        ("status", "idle"),
        ("fault_cleared", "jam"),
        ("status", "paused"),
        ("status", "idle"),
    ]
    events = await eventually(sorter_events, lambda e: len(_sorter_story(e)) >= len(expected), what="the story")
    assert _sorter_story(events) == expected
    jam = next(e for e in events if e["type"] == "device.fault_raised")
    description = "Tube jam; induction stopped"
    assert jam["data"] == {"code": "jam", "severity": "critical", "description": description, "component": None}
    assert [e["type"] for e in events].count("device.offline") == 1


async def test_unsupported_commands_are_set_aside_with_the_reason(plant: Plant) -> None:
    ctx = next(d.ctx for d in plant.edge.devices if d.ctx.id == "sorter-1")
    await _command(plant, "request_inventory")
    await eventually(lambda: _value(ctx.set_aside_count), lambda n: n == 1, what="the command set aside")
    assert not plant.sorter.paused


async def test_watched_values_are_sent_as_telemetry(plant: Plant) -> None:
    topics = Topics(site="general-hospital", edge="transport-edge", root=plant.edge.topics.root)
    broker = BrokerAddress.parse(plant.mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        await client.subscribe(topics.telemetry, qos=0)
        await plant.sorter.induct(Tube("S123456782", Sorted(lane=3, rack=1, position=1)))

        async def reading() -> Telemetry:
            async for message in client.messages:
                telemetry = Telemetry.model_validate_json(message.payload)  # type: ignore[arg-type]
                values = {r.metric: r.value for r in telemetry.readings}
                if telemetry.device == "sorter-1" and values.get("lane_3_fill") == 1:
                    return telemetry
            raise AssertionError("the broker closed the subscription")

        telemetry = await asyncio.wait_for(reading(), 30)
    units = {r.metric: r.unit for r in telemetry.readings}
    values = {r.metric: r.value for r in telemetry.readings}
    assert units["centrifuge_temperature"] == "°C"
    assert values["tubes_sorted_total"] == 1
    assert values["rack_capacity"] == 50


async def _value(value: Any) -> Any:
    return value
