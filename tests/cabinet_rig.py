"""One cabinet simulator (MV-40 unless told) behind one edge agent on a real broker, and a watcher on the edge.

Shared by the vendor-JSON driver tests: events by id (the edge's resends count once) and dead letters; no gateway.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt

from contract import DeadLetter, Topics
from contract.topics import deadletter_topic
from device_profiles import MqttJsonProfile, Site, load_profiles
from edge.agent import EdgeAgent
from edge.clock import utc_now
from edge.drivers.mqtt_json import MqttJsonDevice
from edge.settings import EdgeSettings
from mqttlink.url import BrokerAddress
from simulators.cabinets.cabinet import CabinetSimulator
from simulators.cabinets.dialects import dialect_for
from tests.edge_messages import envelopes_of
from tests.infra import Infra
from tests.polling import eventually

DEVICE = "cabinet-3a"


CABINET_MODELS = ("medvault-mv40", "pillport-pp7")
"""Every cabinet model the simulator plays: behaviour every model shares is tested on each."""


def cabinet_profile(name: str, **changes: Any) -> MqttJsonProfile:
    profile = load_profiles()[name]
    assert isinstance(profile, MqttJsonProfile)
    return profile.model_copy(update=changes)


def mv40(**changes: Any) -> MqttJsonProfile:
    return cabinet_profile("medvault-mv40", **changes)


@dataclass
class Rig:
    """One cabinet behind one edge, and a watcher on the edge's events and the dead-letter topic."""

    topics: Topics
    agent: EdgeAgent
    cabinet: CabinetSimulator
    client: aiomqtt.Client
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    @property
    def driver(self) -> MqttJsonDevice:
        driver = self.agent.devices[0]
        assert isinstance(driver, MqttJsonDevice)
        return driver

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [e for e in self.events.values() if e["type"] in types]

    async def wait_for(self, *types: str, count: int = 1) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]]:
            return self.of_type(*types)

        return await eventually(probe, lambda found: len(found) >= count, what=f"{count} x {types}", timeout_s=30)

    async def wait_for_dead_letter(self, count: int = 1) -> list[DeadLetter]:
        async def probe() -> list[DeadLetter]:
            return list(self.dead_letters)

        return await eventually(probe, lambda found: len(found) >= count, what="dead letters", timeout_s=30)

    async def command(self, body: dict[str, Any]) -> str:
        command_id = str(uuid.uuid4())
        stamp = {"id": command_id, "requested_by": "pharmacy-svc", "requested_at": datetime.now(UTC).isoformat()}
        await self.client.publish(self.topics.command(DEVICE), json.dumps({**stamp, **body}), qos=1)
        return command_id


@asynccontextmanager
async def rig(
    infra: Infra,
    tmp_path: Path,
    profile: MqttJsonProfile | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    cabinet_first: bool = False,
    **cabinet: Any,
) -> AsyncIterator[Rig]:
    """With `cabinet_first` the cabinet is powered on and online (its retained status) before the edge starts."""
    profile = profile or mv40()
    topic_id = f"{dialect_for(profile).key_prefix}-{uuid.uuid4().hex[:8]}"  # unique per test: runs share Mosquitto
    site = Site.model_validate(
        {
            "site": "general-hospital",
            "edge": "pharmacy-edge",
            "devices": [{"id": DEVICE, "profile": profile.name, "location": "ward-3a", "mqtt": {"topic_id": topic_id}}],
        }
    )
    settings = EdgeSettings(mqtt_url=infra.mqtt_url, topic_root=infra.topic_root, data_dir=tmp_path / "edge")
    topics = Topics(site.site, site.edge, infra.topic_root)
    broker = BrokerAddress.parse(infra.mqtt_url)
    simulator = CabinetSimulator(profile, topic_id, infra.mqtt_url, seed=7, speed=1, **cabinet)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        await client.subscribe(topics.events, qos=1)
        await client.subscribe(deadletter_topic(infra.topic_root), qos=1)
        try:
            if cabinet_first:
                await simulator.start()
                await asyncio.wait_for(simulator.connected.wait(), 30)
            async with EdgeAgent(settings, site, {profile.name: profile}, clock=clock) as agent:
                running = Rig(topics, agent, simulator, client)
                reader = asyncio.create_task(_collect(running))
                await asyncio.wait_for(agent.uplink.connected.wait(), 30)
                try:
                    yield running
                finally:
                    reader.cancel()
        finally:  # the edge first, so its shutdown does not race the cabinet's last words
            await simulator.stop()
            await simulator.forget()


async def _collect(rig: Rig) -> None:
    async for message in rig.client.messages:
        payload: bytes = message.payload  # type: ignore[assignment]
        if message.topic.value == rig.topics.events:
            for event in envelopes_of(payload):
                rig.events.setdefault(event["id"], event)  # the edge resends until a gateway acks: count ids once
        else:
            rig.dead_letters.append(DeadLetter.model_validate_json(payload))
