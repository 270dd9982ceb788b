"""Each simulated cabinet model speaks exactly what its profile maps, and takes the commands its profile renders.

Everything a simulated cabinet publishes over a busy visit (door, removal against an order, return, refill with a
delivery, an unknown badge, a door left ajar, a warm fridge, a remote unlock, an inventory request) is mapped
through the model's YAML profile: every message becomes a contract event, readings, presence or a known ack.
"""

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiomqtt
import pytest

from contract.command import RequestInventory, UnlockCabinet
from device_profiles.mqtt_json_mapping import (
    MappedEvent,
    MappedEvents,
    MappedIgnored,
    MappedPresence,
    MappedTelemetry,
    MessageMapper,
)
from mqttlink.url import BrokerAddress
from simulators.cabinets.cabinet import CabinetSimulator
from simulators.cabinets.dialects import DIALECTS, dialect_for
from tests.cabinet_rig import CABINET_MODELS, cabinet_profile
from tests.infra import Infra
from tests.polling import eventually

EVERY_EVENT = {
    "cabinet.door_opened",
    "cabinet.door_closed",
    "cabinet.item_removed",
    "cabinet.item_returned",
    "cabinet.item_restocked",
    "cabinet.alarm_raised",
    "cabinet.alarm_cleared",
    "cabinet.unlock_replied",
    "cabinet.inventory_reported",
}


def test_the_simulator_plays_every_packaged_cabinet_model() -> None:
    assert sorted(DIALECTS) == sorted(CABINET_MODELS)


def test_a_model_the_simulator_cannot_play_is_refused_by_name() -> None:
    profile = cabinet_profile("medvault-mv40").model_copy(update={"name": "acme-cab1"})
    with pytest.raises(ValueError, match=r"no cabinet simulator speaks profile acme-cab1 \(known: medvault-mv40, pill"):
        dialect_for(profile)


@pytest.fixture(params=CABINET_MODELS)
async def heard(
    request: pytest.FixtureRequest, infra: Infra
) -> AsyncIterator[tuple[CabinetSimulator, list[tuple[str, bytes]]]]:
    """A cabinet of the model, and every (topic, payload) published on its topics (a list that keeps growing)."""
    profile = cabinet_profile(request.param)
    cabinet = CabinetSimulator(
        profile, f"{dialect_for(profile).key_prefix}-{uuid.uuid4().hex[:8]}", infra.mqtt_url, seed=5, speed=600
    )
    messages: list[tuple[str, bytes]] = []
    broker = BrokerAddress.parse(infra.mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        for template in profile.topics.values():
            await client.subscribe(template.replace("{topic_id}", cabinet.topic_id), qos=1)

        async def collect() -> None:
            async for message in client.messages:
                messages.append((message.topic.value, bytes(message.payload)))  # type: ignore[arg-type]

        task = asyncio.create_task(collect())
        try:
            yield cabinet, messages
        finally:
            task.cancel()
            await cabinet.stop()
            await cabinet.forget()


async def test_everything_a_simulated_cabinet_says_maps_through_its_profile(
    heard: tuple[CabinetSimulator, list[tuple[str, bytes]]], infra: Infra
) -> None:
    cabinet, messages = heard
    mapper = MessageMapper(cabinet.profile, cabinet.topic_id, "cabinet-1")
    await cabinet.start()
    await asyncio.wait_for(cabinet.connected.wait(), 30)
    nurse, technician = cabinet.nurses[0], cabinet.pharmacy[0]
    bin_id = next(b for b, line in cabinet.stock.items() if line.quantity >= 2 and b.startswith("D"))
    assert not await cabinet.open_door("N-999999")  # not enrolled: access denied, raised and cleared
    await cabinet.open_door(nurse)
    await cabinet.remove(bin_id, 2, nurse, order_id="MO-4711001")
    await cabinet.return_item(bin_id, 1, nurse)
    await cabinet.restock(bin_id, 1, technician, delivery="D-001-00042")
    await asyncio.sleep(cabinet.real_seconds(cabinet.door_ajar_after_s + 30))  # left open: door ajar
    await cabinet.close_door()
    cabinet.warm_fridge(12.0, minutes=3)
    await eventually(lambda: _alarm_cleared(cabinet), lambda cleared: cleared, what="the fridge back in range")

    stamp = {"requested_by": "pharmacy-svc", "requested_at": datetime.now(UTC)}
    unlock = UnlockCabinet(id=uuid.uuid4(), badge=cabinet.nurses[1], **stamp)  # type: ignore[arg-type]
    count = RequestInventory(id=uuid.uuid4(), **stamp)  # type: ignore[arg-type]
    broker = BrokerAddress.parse(infra.mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        for command in (unlock, count):
            await client.publish(*mapper.render(command), qos=1)

    to_cabinet = cabinet.topic(dialect_for(cabinet.profile).commands_topic)

    def events() -> Counter[str]:
        found: Counter[str] = Counter()
        for topic, payload in [(t, p) for t, p in messages if t != to_cabinet]:
            mapped = mapper.map(topic, payload)  # raises for anything the profile does not map
            if isinstance(mapped, MappedEvents):
                found.update(e.event_type for e in mapped.events)
            elif isinstance(mapped, MappedEvent):
                found[mapped.event_type] += 1
            else:
                assert isinstance(mapped, MappedTelemetry | MappedPresence | MappedIgnored)
        return found

    async def probe() -> Counter[str]:
        return events()

    found = await eventually(probe, lambda f: set(f) >= EVERY_EVENT, what="every kind of cabinet event")
    assert found["cabinet.unlock_replied"] == 1
    assert [json.loads(p) for t, p in messages if t == to_cabinet] == cabinet.commands  # both received
    assert cabinet.unlocked_for == cabinet.nurses[1]  # understood (and the count request: the inventory came)


async def _alarm_cleared(cabinet: CabinetSimulator) -> bool:
    """The fridge warmed out of range (alarm raised) and came back (cleared): no fridge alarm stands."""
    return cabinet.fridge.temperature_c < 8.0 and not cabinet.alarms and cabinet.fridge.target_c == cabinet.setpoint_c
