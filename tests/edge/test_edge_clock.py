"""The edge stamps what it observes itself on the clock it is given; the devices' own stamps stay the devices'.

A simulation playing a day faster than real (the demo) gives the edge its clock, so device online/offline, watched
status and faults, telemetry without a device time, the edge's birth certificate and its dead letters fall on the
simulated day with everything else. Here the edge runs two days behind the wall clock against a simulated sorter
over Modbus TCP, and the test reads what the edge publishes on the broker (no gateway needed).
"""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import aiomqtt
import pytest

from contract import DeadLetter, EdgeState, Telemetry, Topics
from contract.topics import deadletter_topic
from device_profiles import DeviceInstance, ModbusEndpoint, Site, load_profiles
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from mqttlink.url import BrokerAddress
from simulators.sorter.device import SorterSimulator
from simulators.sorter.tube import Sorted, Tube
from tests.edge_messages import envelopes_of
from tests.infra import Infra
from tests.polling import eventually

BEHIND = timedelta(days=2)
SORTER = "sorter-1"


def two_days_ago() -> datetime:
    return datetime.now(UTC) - BEHIND


def _site(port: int) -> Site:
    sorter = DeviceInstance(
        id=SORTER,
        profile="acme-sorter-s100",
        location="core-lab",
        modbus=ModbusEndpoint(host="127.0.0.1", port=port),
        poll_interval_s=0.05,
    )
    return Site(site="general-hospital", edge="lab-edge", devices=[sorter])


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Rig:
    """A sorter behind an edge on a clock two days behind, and a watcher on everything the edge publishes."""

    started: datetime
    """The wall clock just before the edge started."""
    edge: EdgeAgent
    sorter: SorterSimulator
    client: aiomqtt.Client
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    states: list[EdgeState] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    telemetry: list[Telemetry] = field(default_factory=list)

    def on_edge_clock(self, moment: datetime) -> bool:
        """Between the edge's start and now, both read on the edge's clock (two days behind the wall)."""
        return self.started - BEHIND <= moment <= datetime.now(UTC) - BEHIND

    async def wait_for(self, accept: Any, what: str) -> list[dict[str, Any]]:
        async def found() -> list[dict[str, Any]]:
            return [e for e in self.events.values() if accept(e)]

        return await eventually(found, bool, what=what, timeout_s=30)

    async def command(self, device: str, type_: str) -> None:
        body = {"type": type_, "id": str(uuid4()), "requested_by": "lab-lead-17", "requested_at": two_days_ago()}
        await self.client.publish(self.edge.topics.command(device), json.dumps(body, default=str), qos=1)


async def _watch(rig: Rig, topics: Topics, deadletters: str) -> None:
    async for message in rig.client.messages:
        payload: bytes = message.payload  # type: ignore[assignment]
        topic = message.topic.value
        if topic == topics.events:
            for event in envelopes_of(payload):
                rig.events.setdefault(event["id"], event)  # resent until a gateway acks (none here): count ids once
        elif topic == topics.state and payload:
            rig.states.append(EdgeState.model_validate_json(payload))
        elif topic == deadletters:
            rig.dead_letters.append(DeadLetter.model_validate_json(payload))
        elif topic == topics.telemetry:
            rig.telemetry.append(Telemetry.model_validate_json(payload))


@pytest.fixture
async def rig(infra: Infra, tmp_path: Path) -> AsyncIterator[Rig]:
    sorter = SorterSimulator(load_profiles()["acme-sorter-s100"])  # stamps its records on the wall clock
    await sorter.start()
    site = _site(sorter.port)
    topics = Topics(site.site, site.edge, infra.topic_root)
    deadletters = deadletter_topic(infra.topic_root)
    settings = EdgeSettings(
        mqtt_url=infra.mqtt_url, topic_root=infra.topic_root, data_dir=tmp_path / "edge", max_backoff_s=0.5
    )
    broker = BrokerAddress.parse(infra.mqtt_url)
    try:
        async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
            for topic in (topics.events, topics.state, topics.telemetry, deadletters):
                await client.subscribe(topic, qos=1)
            started = datetime.now(UTC)
            async with EdgeAgent(settings, site, load_profiles(), clock=two_days_ago) as edge:
                running = Rig(started, edge, sorter, client)
                watcher = asyncio.create_task(_watch(running, topics, deadletters))
                try:
                    await asyncio.wait_for(edge.uplink.connected.wait(), 30)
                    yield running
                finally:
                    watcher.cancel()
                    await asyncio.gather(watcher, return_exceptions=True)
    finally:
        await sorter.stop()


def _is(type_: str, **data: Any) -> Any:
    return lambda e: e["type"] == type_ and all(e["data"].get(k) == v for k, v in data.items())


async def test_online_offline_and_watched_status_and_faults_are_stamped_on_the_edges_clock(rig: Rig) -> None:
    (online,) = await rig.wait_for(_is("device.online"), "the sorter online")
    idle = await rig.wait_for(_is("device.status_changed", status="idle"), "the sorter idle")
    rig.sorter.jam()
    jam = await rig.wait_for(_is("device.fault_raised", code="jam"), "the jam raised")
    rig.sorter.clear_fault()
    cleared = await rig.wait_for(_is("device.fault_cleared", code="jam"), "the jam cleared")
    await rig.sorter.stop()
    (offline,) = await rig.wait_for(_is("device.offline"), "the sorter offline")

    for event in (online, *idle, *jam, *cleared, offline):
        assert rig.on_edge_clock(_at(event["occurred_at"])), event


async def test_a_mailbox_record_keeps_the_time_the_device_stamped(rig: Rig) -> None:
    await rig.wait_for(_is("device.online"), "the sorter online")
    before = datetime.now(UTC)
    await rig.sorter.induct(Tube("S123456782", Sorted(lane=3, rack=1, position=1)))
    (sorted_,) = await rig.wait_for(_is("specimen.sorted"), "the tube sorted")
    occurred = _at(sorted_["occurred_at"])
    # The sorter's (wall) clock, to its milliseconds: not shifted to the edge's.
    assert before - timedelta(milliseconds=1) <= occurred <= datetime.now(UTC)
    assert not rig.on_edge_clock(occurred)


async def test_telemetry_without_a_device_time_is_stamped_on_the_edges_clock(rig: Rig) -> None:
    async def readings() -> list[Telemetry]:
        return [t for t in rig.telemetry if t.device == SORTER]

    sent = await eventually(readings, bool, what="the sorter's telemetry", timeout_s=30)
    assert all(rig.on_edge_clock(t.at) for t in sent), [t.at for t in sent]


async def test_the_birth_certificate_and_dead_letters_are_stamped_on_the_edges_clock(rig: Rig) -> None:
    async def births() -> list[EdgeState]:
        return [s for s in rig.states if s.state == "online"]

    (birth,) = await eventually(births, bool, what="the edge's birth certificate", timeout_s=30)
    assert rig.on_edge_clock(birth.since)

    await rig.wait_for(_is("device.online"), "the sorter online")
    await rig.command("no-such-device", "pause")  # refused by the uplink: no such device behind this edge
    await rig.command(SORTER, "request_inventory")  # refused by the driver: the sorter does not take it

    async def letters() -> list[DeadLetter]:
        return list(rig.dead_letters)

    found = await eventually(letters, lambda x: len(x) >= 2, what="both commands set aside", timeout_s=30)
    assert sorted("no device 'no-such-device'" in x.reason for x in found) == [False, True]
    assert all(rig.on_edge_clock(x.received_at) for x in found), [x.received_at for x in found]


def test_without_a_clock_the_edge_stamps_on_the_wall_clock(tmp_path: Path) -> None:
    agent = EdgeAgent(EdgeSettings(data_dir=tmp_path), _site(port=1), load_profiles())
    try:
        before = datetime.now(UTC)
        observation = agent.devices[0].ctx.observation("device.online", "device", SORTER)
        assert before <= observation.occurred_at <= datetime.now(UTC)
    finally:
        agent.outbox.close()
