"""A ward cabinet end to end: simulator -> vendor JSON over MQTT -> edge -> wire contract -> gateway database.

Every hop is a real socket; runs on the embedded amqtt + SQLite and on the real Mosquitto + PostgreSQL, and with
each cabinet model (the MV-40 with message ids, the PP-7 without): the same contract events either way.
"""

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import sqlalchemy as sa

from contract import Topics
from device_profiles import Site
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from gateway.composition.stores import Stores
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.storage.tables import events
from mqttlink.url import BrokerAddress
from simulators.cabinets.cabinet import CabinetSimulator
from simulators.cabinets.dialects import dialect_for
from tests.cabinet_rig import CABINET_MODELS, cabinet_profile
from tests.infra import Infra
from tests.polling import eventually

SITE, EDGE, DEVICE = "general-hospital", "pharmacy-edge", "cabinet-ward-3a"
INVENTORY = "cabinet.inventory_reported"
SHUTDOWN = {"medvault-mv40": "status OFFLINE: shutdown", "pillport-pp7": "status connected false: shutdown"}
"""The offline reason each model's retained status gives when it shuts down cleanly."""


@pytest.fixture
async def gateway(gateway_settings: GatewaySettings) -> AsyncIterator[Gateway]:
    running = Gateway(gateway_settings)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture(params=CABINET_MODELS)
async def cabinet(infra: Infra, request: pytest.FixtureRequest) -> AsyncIterator[CabinetSimulator]:
    profile = cabinet_profile(request.param)
    topic_id = f"{dialect_for(profile).key_prefix}-{uuid.uuid4().hex[:8]}"
    simulator = CabinetSimulator(profile, topic_id, infra.mqtt_url, seed=11, speed=1)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()
        await simulator.forget()


@pytest.fixture
async def edge(infra: Infra, tmp_path: Path, cabinet: CabinetSimulator) -> AsyncIterator[EdgeAgent]:
    site = Site.model_validate(
        {
            "site": SITE,
            "edge": EDGE,
            "devices": [
                {
                    "id": DEVICE,
                    "profile": cabinet.profile.name,
                    "location": "ward-3a",
                    "mqtt": {"topic_id": cabinet.topic_id},  # on the edge's own broker
                }
            ],
        }
    )
    settings = EdgeSettings(mqtt_url=infra.mqtt_url, topic_root=infra.topic_root, data_dir=tmp_path / "edge")
    async with EdgeAgent(settings, site, {cabinet.profile.name: cabinet.profile}) as agent:
        yield agent


async def stored(store: Stores) -> list[dict[str, Any]]:
    """What the gateway committed about the cabinet, in edge order."""
    query = sa.select(events.c.id, events.c.type, events.c.body).where(events.c.device == DEVICE).order_by(events.c.seq)
    async with store.db.engine.connect() as connection:
        return [{"id": row.id, "type": row.type, **row.body} for row in await connection.execute(query)]


async def test_a_nurse_visit_a_remote_unlock_and_a_dropped_link_are_stored_exactly_once(
    infra: Infra, gateway: Gateway, cabinet: CabinetSimulator, edge: EdgeAgent
) -> None:
    assert gateway.store is not None
    store = gateway.store

    def types(rows: list[dict[str, Any]]) -> list[str]:
        return [row["type"] for row in rows]

    def without_inventory(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The cabinet's report on the edge's request as it comes online lands within a few seconds of it."""
        return [row for row in rows if row["type"] != INVENTORY]

    # The cabinet was online before the edge started: the edge asks for its full inventory as it finds it online.
    await eventually(
        lambda: stored(store),
        lambda rows: types(rows) == ["device.online", INVENTORY],
        what="the cabinet online, and its inventory",
    )

    # A nurse takes two of an item against a medication order.
    nurse = cabinet.nurses[0]
    bin_id = next(b for b, line in cabinet.stock.items() if line.quantity >= 2 and b.startswith("D"))
    line = cabinet.stock[bin_id]
    await cabinet.open_door(nurse)
    await cabinet.remove(bin_id, 2, nurse, order_id="MO-4711001")
    await cabinet.close_door()

    # The pharmacy unlocks it remotely for another nurse, through the edge's command topic.
    command_id = str(uuid.uuid4())
    unlock = {
        "type": "unlock_cabinet",
        "id": command_id,
        "requested_by": "pharmacy-svc",
        "requested_at": datetime.now(UTC).isoformat(),
        "badge": cabinet.nurses[1],
    }
    broker = BrokerAddress.parse(infra.mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        await client.publish(Topics(SITE, EDGE, infra.topic_root).command(DEVICE), json.dumps(unlock), qos=1)

    visit = ["cabinet.door_opened", "cabinet.item_removed", "cabinet.door_closed", "cabinet.unlock_replied"]
    rows = await eventually(
        lambda: stored(store), lambda rows: all(t in types(rows) for t in visit), what="the visit and the reply"
    )
    by_type = {row["type"]: row for row in rows}
    assert by_type["cabinet.door_opened"]["data"] == {"badge": nurse}
    assert by_type["cabinet.item_removed"]["data"] == {
        "bin": bin_id,
        "gtin": line.gtin,
        "lot": line.lot,
        "expiry": line.expiry.isoformat(),
        "quantity": 2,
        "badge": nurse,
        "order_id": "MO-4711001",
        "delivery": None,
    }
    assert by_type["cabinet.item_removed"]["subject"] == {"kind": "cabinet", "id": DEVICE}
    assert by_type["cabinet.unlock_replied"]["data"] == {"command_id": command_id, "accepted": True, "reason": ""}
    assert types(rows)[:5] == ["device.online", INVENTORY, *visit[:3]]

    # The link drops: the cabinet goes away, then comes back (a new boot).
    await cabinet.stop()
    await eventually(lambda: stored(store), lambda rows: types(rows)[-1:] == ["device.offline"], what="offline")
    await cabinet.start()
    rows = await eventually(
        lambda: stored(store),
        lambda rows: types(without_inventory(rows))[-1:] == ["device.online"],
        what="online again",
    )
    assert without_inventory(rows)[-2]["data"] == {"reason": SHUTDOWN[cabinet.profile.name]}
    await eventually(lambda: stored(store), lambda rows: types(rows).count(INVENTORY) == 2, what="asked again")

    # Nothing was stored twice: each observation once, the edge's outbox drained by the gateway's acks.
    async def depth() -> int:
        return edge.outbox.depth()

    await eventually(depth, lambda n: n == 0, what="the edge outbox drained")
    rows = await stored(store)
    counts = Counter(types(rows))
    assert {t: counts[t] for t in visit} == dict.fromkeys(visit, 1)
    assert (counts["device.online"], counts["device.offline"], counts[INVENTORY]) == (2, 1, 2)
    assert len({row["id"] for row in rows}) == len(rows)
