"""Telemetry: over a real broker into the store, bad messages dead-lettered, downsampled on a clock we pass in.

Every test runs twice through `infra`: embedded amqtt + SQLite, then the real Mosquitto + PostgreSQL.
"""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from contract import DeadLetter, Reading, Telemetry
from gateway.composition.stores import Stores
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.storage.tables import telemetry
from gateway.telemetry.downsampling import DownsampleResult, downsample
from tests.gateway.test_gateway_e2e import FakeEdge
from tests.infra import Infra
from tests.polling import eventually

SITE, EDGE, CABINET = "general-hospital", "core-lab-edge", "cabinet-ward-3a"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def message(second: float, edge: str = EDGE, **values: float) -> Telemetry:
    return Telemetry(
        site=SITE,
        edge=edge,
        device=CABINET,
        at=T0 + timedelta(seconds=second),
        readings=[Reading(metric=metric, value=value, unit="°C") for metric, value in values.items()],
    )


@pytest.fixture
async def edge(infra: Infra, gateway: Gateway) -> AsyncIterator[FakeEdge]:
    async with FakeEdge(infra, store=gateway.store).connected() as connected:
        yield connected


async def publish(edge: FakeEdge, payload: bytes) -> None:
    assert edge.client is not None
    await edge.client.publish(edge.topics.telemetry, payload, qos=0)  # telemetry travels at QoS 0


async def series(api: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/devices/{CABINET}/telemetry", params=params)
    return response.json() if response.status_code == 200 else {"data": [], "count": 0}


async def test_telemetry_over_the_broker_lands_in_the_series_and_the_latest_readings(
    api: httpx.AsyncClient, edge: FakeEdge
) -> None:
    for second in (0, 10, 20):
        payload = message(second, fridge_temperature=4.0 + second / 10, door_open_count=second).model_dump_json()
        await publish(edge, payload.encode())

    body = await eventually(lambda: series(api), lambda b: b["count"] == 6, what="six stored readings")
    fridge = [(p["at"], p["value"]) for p in body["data"] if p["metric"] == "fridge_temperature"]
    assert fridge == [("2026-11-23T08:00:00Z", 4.0), ("2026-11-23T08:00:10Z", 5.0), ("2026-11-23T08:00:20Z", 6.0)]
    cabinet = (await api.get(f"/api/v1/devices/{CABINET}")).json()
    assert (cabinet["state"], cabinet["last_seen_at"]) == ("unknown", "2026-11-23T08:00:20Z")
    assert cabinet["readings"] == [
        {"metric": "door_open_count", "value": 20.0, "unit": "°C", "at": "2026-11-23T08:00:20Z"},
        {"metric": "fridge_temperature", "value": 6.0, "unit": "°C", "at": "2026-11-23T08:00:20Z"},
    ]
    health = (await api.get("/healthz")).json()
    assert (health["telemetry"]["messages"], health["telemetry"]["readings"]) == (3, 6)
    assert health["telemetry"]["downsample_passes"] >= 1  # the first pass runs at start-up
    assert health["ingest"]["accepted"] == 0  # telemetry is not an event


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("nan_reading", "invalid_telemetry"),
        ("infinite_reading", "invalid_telemetry"),
        ("another_edge", "wrong_edge"),
        ("no_readings", "invalid_telemetry"),
        ("malformed", "malformed"),
    ],
)
async def test_bad_telemetry_is_dead_lettered_with_the_reason_and_the_rest_lands(
    api: httpx.AsyncClient, edge: FakeEdge, name: str, kind: str
) -> None:
    good = json.loads(message(0, fridge_temperature=4.6).model_dump_json())
    payloads = {
        # json.dumps writes the NaN and Infinity literals that some publishers send.
        "nan_reading": json.dumps({**good, "readings": [{"metric": "fridge_temperature", "value": float("nan")}]}),
        "infinite_reading": json.dumps({**good, "readings": [{"metric": "fridge_temperature", "value": float("inf")}]}),
        "another_edge": message(0, edge="pharmacy-edge", fridge_temperature=4.6).model_dump_json(),
        "no_readings": json.dumps({**good, "readings": []}),
        "malformed": '{"site": "general-hospital", "readings": [',
    }
    await publish(edge, payloads[name].encode())
    await publish(edge, message(1, fridge_temperature=4.7).model_dump_json().encode())

    async def dead_lettered() -> list[DeadLetter]:
        return edge.dead_letters

    [letter] = await eventually(dead_lettered, what="the dead letter")
    assert letter.reason.startswith(f"{kind}: ")
    assert letter.topic == edge.topics.telemetry
    assert letter.original() == payloads[name].encode()
    body = await eventually(lambda: series(api), lambda b: b["count"] == 1, what="the good reading")
    assert body["data"][0]["value"] == 4.7
    health = (await api.get("/healthz")).json()
    assert health["telemetry"]["rejected"] == {kind: 1}
    assert health["ingest"]["rejected"] == {}  # event ingest counts its own


async def points(store: Stores) -> list[tuple[int, int, float, int]]:
    """Every stored point as (resolution_s, seconds after T0, value, samples), in time order."""
    query = sa.select(telemetry).order_by(telemetry.c.at, telemetry.c.resolution_s)
    async with store.db.engine.connect() as connection:
        rows = list(await connection.execute(query))
    return [(r.resolution_s, int((r.at - T0).total_seconds()), round(r.value, 6), r.samples) for r in rows]


async def test_old_raw_readings_fold_into_minute_means_and_late_ones_merge_in(store: Stores) -> None:
    # Minute 0: 1, 2, 3; minute 1: 10; then one reading a day later (still raw when we downsample).
    await store.telemetry.commit([message(s, fridge_temperature=v) for s, v in ((0, 1), (20, 2), (59.5, 3), (60, 10))])
    await store.telemetry.commit([message(DAY.total_seconds() + 30, fridge_temperature=5)])

    now = T0 + DAY + timedelta(minutes=2)
    result = await downsample(store.db.engine, now=now, raw_for=DAY, keep_for=30 * DAY)
    assert result == DownsampleResult(raw_folded=4, means_written=2, expired=0)
    assert await points(store) == [(60, 0, 2.0, 3), (60, 60, 10.0, 1), (0, 86430, 5.0, 1)]

    # A reading of minute 0 arrives late (an edge's backlog): the next pass merges it, weighted by samples.
    await store.telemetry.commit([message(45, fridge_temperature=6)])
    again = await downsample(store.db.engine, now=now, raw_for=DAY, keep_for=30 * DAY)
    assert (again.raw_folded, again.means_written) == (1, 1)
    assert await points(store) == [(60, 0, 3.0, 4), (60, 60, 10.0, 1), (0, 86430, 5.0, 1)]

    # A pass with nothing to do changes nothing.
    assert await downsample(store.db.engine, now=now, raw_for=DAY, keep_for=30 * DAY) == DownsampleResult()


async def test_means_and_readings_older_than_the_retention_are_deleted(store: Stores) -> None:
    await store.telemetry.commit([message(s, fridge_temperature=4) for s in (0, 30, 120)])
    await downsample(store.db.engine, now=T0 + 2 * DAY, raw_for=DAY, keep_for=30 * DAY)
    assert [p[:2] for p in await points(store)] == [(60, 0), (60, 120)]

    result = await downsample(
        store.db.engine, now=T0 + 30 * DAY + timedelta(seconds=90), raw_for=DAY, keep_for=30 * DAY
    )
    assert result.expired == 1
    assert [p[:2] for p in await points(store)] == [(60, 120)]
    # The latest reading stays known even when its series has expired.
    [row] = await store.devices.find(CABINET)
    readings = await store.telemetry.latest(row.site, row.device)
    assert [(r.metric, r.value) for r in readings] == [("fridge_temperature", 4.0)]
    assert row.last_seen_at == T0 + timedelta(seconds=120)


async def test_a_minute_is_never_split_between_raw_readings_and_a_mean(store: Stores) -> None:
    await store.telemetry.commit([message(s, fridge_temperature=s) for s in (0, 10, 70, 80)])
    # The raw window ends 75 s after T0: the first minute is folded, the second stays raw as a whole.
    await downsample(store.db.engine, now=T0 + DAY + timedelta(seconds=75), raw_for=DAY, keep_for=30 * DAY)
    assert await points(store) == [(60, 0, 5.0, 2), (0, 70, 70.0, 1), (0, 80, 80.0, 1)]


def test_retention_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARDLINK_TELEMETRY_RAW_HOURS", "6")
    monkeypatch.setenv("WARDLINK_TELEMETRY_RETENTION_DAYS", "7")
    settings = GatewaySettings()
    assert (settings.telemetry_raw_hours, settings.telemetry_retention_days) == (6, 7)
    monkeypatch.setenv("WARDLINK_TELEMETRY_RETENTION_DAYS", "0.1")
    with pytest.raises(ValueError, match="RETENTION_DAYS must cover at least WARDLINK_TELEMETRY_RAW_HOURS"):
        GatewaySettings()
