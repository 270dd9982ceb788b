"""The pharmacy API's rig: a gateway on a stepped clock with cabinet-1's rules, an API client and an edge that
publishes events and telemetry over MQTT. Runs on the embedded amqtt + SQLite and on Mosquitto + PostgreSQL."""

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import aiomqtt
import httpx
import pytest

from contract import Event, Telemetry, Topics
from device_profiles.maps import MAPS_DIR
from gateway.rules import default_rules
from gateway.rules.pharmacy import CabinetRules, ParLevel
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from mqttlink.url import BrokerAddress
from tests.auth import authorised
from tests.clock import SteppedClock
from tests.infra import Infra
from tests.pharmacy_events import EDGE, IBUPROFEN, INSULIN, PARACETAMOL, SITE, T0

WARD_3A = CabinetRules(
    ward="ward-3a",
    refrigerated=True,
    refrigerated_bins=["F-01"],
    par={PARACETAMOL: ParLevel(min=25, max=40), IBUPROFEN: ParLevel(min=5, max=10), INSULIN: ParLevel(min=4, max=8)},
)


@pytest.fixture
def now() -> SteppedClock:
    return SteppedClock(T0 + timedelta(minutes=20))


@pytest.fixture
async def pharmacy_gateway(gateway_settings: GatewaySettings, now: SteppedClock) -> AsyncIterator[Gateway]:
    """A gateway on the test's clock; raw telemetry kept for years, so the fixed test dates are never folded."""
    settings = gateway_settings.model_copy(
        update={
            "ingest_batch_wait_ms": 5,
            "telemetry_batch_wait_ms": 5,
            "telemetry_raw_hours": 24 * 3650,
            "telemetry_retention_days": 2 * 3650,
            "maps_dir": MAPS_DIR,
        }
    )
    async with Gateway(settings, clock=now) as running:
        assert running.store is not None
        running.store.rules.current = default_rules().model_copy(update={"cabinets": {"cabinet-1": WARD_3A}})
        yield running


@pytest.fixture
async def api(pharmacy_gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with authorised(pharmacy_gateway) as client:
        yield client


@pytest.fixture
async def edge(infra: Infra, pharmacy_gateway: Gateway) -> AsyncIterator[Callable[..., Any]]:
    """Publish events (QoS 1) and telemetry as the edge does."""
    topics = Topics(SITE, EDGE, infra.topic_root)
    broker = BrokerAddress.parse(infra.mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:

        async def publish(*messages: Event | Telemetry) -> None:
            for message in messages:
                topic = topics.telemetry if isinstance(message, Telemetry) else topics.events
                await client.publish(topic, message.model_dump_json(exclude_none=True).encode(), qos=1)

        yield publish
