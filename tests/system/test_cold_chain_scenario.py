"""Scenario: a ward cabinet's fridge at 10 °C for 20 minutes raises one cold-chain alert naming the cabinet and
the items in its fridge; a 5-minute excursion raises none.

Real parts, every hop a real socket: the MV-40 cabinet simulator (vendor JSON over MQTT) on a simulated clock
running 100x, an edge agent with the mqtt-json driver, and a gateway whose clock is the same simulated clock, so
the alert engine (a pass every 0.2 s of wall time, 20 simulated seconds) judges "for more than 10 minutes" on the
cabinet's time. The cabinet powers on while the edge watches it and reports its full inventory as it connects;
that is what the alert names.
"""

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

from device_profiles import MqttJsonProfile, Site, load_profiles
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from gateway.rules import default_rules
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from mqttlink.url import BrokerAddress
from simulators.cabinets import messages as cabinet_json
from simulators.cabinets.cabinet import CabinetSimulator
from simulators.hospital.clock import SimClock
from simulators.hospital.devices import CABINET_STOCK_SEED
from tests.infra import Infra
from tests.polling import eventually

SPEED = 100.0
"""Simulated seconds per real second: 20 minutes take 12 s."""
CABINET = "cabinet-1"
"""The demo's cabinet on ward-3a: the shipped rules name its fridge bins and par levels."""
COLD_CHAIN = {"kind": "cabinet.cold_chain", "limit": 50}


@pytest.fixture
def clock() -> SimClock:
    return SimClock(time(9, 0), SPEED)


@pytest.fixture
async def gateway(gateway_settings: GatewaySettings, clock: SimClock) -> AsyncIterator[Gateway]:
    """The gateway on the simulated clock, committing at once and evaluating alerts every 20 simulated seconds."""
    quick = gateway_settings.model_copy(
        update={"ingest_batch_wait_ms": 5, "telemetry_batch_wait_ms": 5, "alerts_every_s": 0.2}
    )
    async with Gateway(quick, clock=clock.now) as running:
        yield running


@pytest.fixture
async def cabinet(infra: Infra, clock: SimClock, gateway: Gateway) -> AsyncIterator[CabinetSimulator]:
    """The cabinet, powered off: the broker holds its Last Will (OFFLINE, retained) until the test powers it on."""
    profile = load_profiles()["medvault-mv40"]
    assert isinstance(profile, MqttJsonProfile)
    simulator = CabinetSimulator(
        profile,
        f"MV40-{uuid.uuid4().hex[:8]}",  # unique per test: runs share the real Mosquitto
        infra.mqtt_url,
        seed=3,
        stock_seed=CABINET_STOCK_SEED + 1,  # stocked like the hospital's cabinet-1, whatever the scenario's seed
        inventory_every_s=6 * 3600,  # on connect, then not again within the test: the first report is what counts
        speed=SPEED,
        clock=clock.now,
    )
    broker = BrokerAddress.parse(infra.mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        await client.publish(simulator.topic("status"), cabinet_json.last_will(), qos=1, retain=True)
    try:
        yield simulator
    finally:
        await simulator.stop()
        await simulator.forget()


@pytest.fixture
async def edge(infra: Infra, tmp_path: Path, cabinet: CabinetSimulator) -> AsyncIterator[EdgeAgent]:
    site = Site.model_validate(
        {
            "site": "general-hospital",
            "edge": "ward-edge",
            "devices": [
                {
                    "id": CABINET,
                    "profile": cabinet.profile.name,
                    "location": "ward-3a",
                    "mqtt": {"topic_id": cabinet.topic_id},
                }
            ],
        }
    )
    settings = EdgeSettings(mqtt_url=infra.mqtt_url, topic_root=infra.topic_root, data_dir=tmp_path / "edge")
    async with EdgeAgent(settings, site, {cabinet.profile.name: cabinet.profile}) as agent:
        yield agent


async def _get(api: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await api.get(path, params=params)
    return response.json() if response.status_code == 200 else None


async def _cold_chain_alerts(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    body = await _get(api, "/api/v1/alerts", **COLD_CHAIN)
    data: list[dict[str, Any]] = body["data"]
    return data


async def _temperatures_since(api: httpx.AsyncClient, since: datetime) -> list[float]:
    body = await _get(api, f"/api/v1/cabinets/{CABINET}/temperature", since=since.isoformat(), limit=5000)
    return [point["value"] for point in body["data"]] if body else []


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.timeout(120)
async def test_a_fridge_at_10_c_for_20_minutes_raises_one_cold_chain_alert_naming_the_cabinet_and_its_items(
    api: httpx.AsyncClient, gateway: Gateway, clock: SimClock, cabinet: CabinetSimulator, edge: EdgeAgent
) -> None:
    assert gateway.alerts is not None
    rules = default_rules().cabinets[CABINET]
    high = default_rules().alerts.cold_chain_max_c

    # The edge watches the cabinet (it has seen it offline); the cabinet powers on and, as it connects, reports
    # what it holds: the gateway knows its stock, and it is at par.
    await eventually(
        lambda: _get(api, "/api/v1/events", type="device.offline", device=CABINET),
        lambda body: body is not None and body["count"] == 1,
        what="the edge watching the cabinet",
    )
    await cabinet.start()
    summary = await eventually(
        lambda: _get(api, f"/api/v1/cabinets/{CABINET}"),
        lambda body: body is not None and body["inventory_at"] is not None,
        what="the cabinet's inventory at the gateway",
    )
    assert summary["below_par"] == 0
    cold_bins = rules.refrigerated_bins or []
    fridge = {line.bin: line for line in cabinet.stock.values() if line.bin in cold_bins and line.quantity}
    assert sorted(fridge) == ["F-01", "F-02", "F-03", "F-04"]
    await eventually(lambda: _temperatures_since(api, clock.now() - timedelta(minutes=2)), what="fridge readings")

    # 20 minutes at 10 °C.
    warmed_at = clock.now()
    cabinet.warm_fridge(10.0, minutes=20)
    (alert,) = await eventually(lambda: _cold_chain_alerts(api), what="a cold-chain alert", timeout_s=60)
    assert (alert["subject"], alert["ward"], alert["severity"]) == (
        {"kind": "cabinet", "id": CABINET, "name": None},  # no reference data in force
        "ward-3a",
        "critical",
    )
    since = _at(alert["details"]["since"])
    assert warmed_at <= since < _at(alert["raised_at"])
    assert _at(alert["raised_at"]) - since > timedelta(minutes=10)  # not before the rule's 10 minutes
    assert alert["details"]["worst_c"] > high
    named = {item["bin"]: item for item in alert["details"]["items"]}
    assert named == {
        b: {"bin": b, "gtin": line.gtin, "lot": line.lot, "expiry": line.expiry.isoformat(), "quantity": line.quantity}
        for b, line in fridge.items()
    }
    assert f"Cabinet {CABINET} (ward-3a) fridge above 2-8 °C" in alert["message"]
    assert all(f"{line.gtin} lot {line.lot} (bin {b})" in alert["message"] for b, line in fridge.items())

    # The fridge recovers after its 20 minutes: the alert clears, and it stays the only one.
    (cleared,) = await eventually(
        lambda: _cold_chain_alerts(api),
        lambda alerts: [a["state"] for a in alerts] == ["cleared"],
        what="the cold-chain alert cleared",
        timeout_s=60,
    )
    assert cleared["id"] == alert["id"]
    assert _at(cleared["cleared_at"]) - warmed_at >= timedelta(minutes=20)

    # A shorter excursion, 5 minutes at 10 °C (below the 10-minute threshold), raises none.
    await eventually(lambda: _settled(cabinet), what="the fridge back near its setpoint", timeout_s=30)
    second_at, passes = clock.now(), gateway.alerts.passes
    cabinet.warm_fridge(10.0, minutes=5)
    await eventually(
        lambda: _temperatures_since(api, second_at),
        lambda values: any(v > high for v in values) and values[-1] <= high,
        what="the second excursion out of range and back, at the gateway",
        timeout_s=30,
    )
    assert gateway.alerts.passes > passes  # the engine looked while the fridge was warm
    await gateway.alerts.evaluate()  # and once more now it is back
    assert [a["id"] for a in await _cold_chain_alerts(api)] == [alert["id"]]


async def _settled(cabinet: CabinetSimulator) -> bool:
    return abs(cabinet.fridge_c - cabinet.setpoint_c) < 0.5
