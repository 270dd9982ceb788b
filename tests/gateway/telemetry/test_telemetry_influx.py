"""Telemetry to InfluxDB: points, batching, retries, the bounded buffer, and the gateway fed over MQTT.

No InfluxDB runs here: `tests.influx_server` is a real HTTP server on a loopback port answering InfluxDB 2's
`/api/v2/write` (token check, org and bucket, line-protocol parsing, 204; 503/429 on demand), and the real
influxdb-client makes every request.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr, ValidationError

from contract import Reading, Telemetry
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.telemetry.influx import InfluxTelemetry, points_of
from tests.auth import authorised
from tests.gateway.test_gateway_e2e import FakeEdge
from tests.influx_server import InfluxServer, influx_server, parse_line
from tests.infra import Infra
from tests.polling import eventually

SITE, EDGE = "general-hospital", "core-lab-edge"
T0 = datetime(2026, 11, 23, 8, 0, 0, 250_000, tzinfo=UTC)
TOKEN, ORG, BUCKET = "test-token", "wardlink", "telemetry"


def message(second: float, device: str = "cabinet-1", **values: tuple[float, str]) -> Telemetry:
    return Telemetry(
        site=SITE,
        edge=EDGE,
        device=device,
        at=T0 + timedelta(seconds=second),
        readings=[Reading(metric=metric, value=value, unit=unit) for metric, (value, unit) in values.items()],
    )


def epoch_ns(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


def fridge(second: float, celsius: float) -> Telemetry:
    return message(second, fridge_temperature=(celsius, "°C"))


@pytest.fixture
def server() -> Iterator[InfluxServer]:
    with influx_server(TOKEN, ORG, BUCKET) as running:
        yield running


def settings_for(server: InfluxServer, **overrides: object) -> GatewaySettings:
    values: dict[str, object] = {
        "influx_url": server.url,
        "influx_token": TOKEN,
        "influx_org": ORG,
        "influx_bucket": BUCKET,
        "influx_flush_ms": 10,
        "influx_max_backoff_s": 0.2,
    }
    return GatewaySettings.model_validate(values | overrides)


@contextlib.asynccontextmanager
async def running(sink: InfluxTelemetry) -> AsyncIterator[InfluxTelemetry]:
    task = asyncio.create_task(sink.run())
    try:
        yield sink
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sink.close()


async def until(condition: Callable[[], bool], *, what: str) -> None:
    async def probe() -> bool:
        return condition()

    await eventually(probe, what=what, timeout_s=20)


def fields_at(server: InfluxServer) -> list[tuple[int | None, dict[str, float | int | str | bool]]]:
    return [(p.time_ns, p.fields) for p in server.points()]


# -- points -------------------------------------------------------------------------------------------------------
def test_a_message_becomes_one_point_per_telemetry_kind_tagged_with_where_it_came_from() -> None:
    robot = message(
        0,
        device="robot-1",
        battery_charge=(88.5, "%"),
        position_x=(12.0, "m"),
        position_y=(-3.25, "m"),
        poll_latency_ms=(14.0, "ms"),
        door_open_count=(2.0, ""),
    )
    points = {p.measurement: p for p in (parse_line(line, "ms") for line in points_of(robot))}
    assert set(points) == {"battery", "position", "latency", "reading"}
    assert points["position"].fields == {"position_x": 12.0, "position_y": -3.25}
    assert points["battery"].fields == {"battery_charge": 88.5}
    for point in points.values():
        assert point.tags == {"site": SITE, "edge": EDGE, "device": "robot-1"}
        assert point.time_ns == epoch_ns(T0)  # the reading's time, to the millisecond
    cabinet = [parse_line(line, "ms") for line in points_of(message(0, fridge_setpoint=(4.0, "°C")))]
    assert [(p.measurement, p.fields) for p in cabinet] == [("temperature", {"fridge_setpoint": 4.0})]


def test_influx_settings_come_complete_or_not_at_all() -> None:
    with pytest.raises(ValidationError, match="WARDLINK_INFLUX_TOKEN, WARDLINK_INFLUX_BUCKET must be set"):
        GatewaySettings(influx_url="http://influxdb:8086", influx_org=ORG)
    settings = GatewaySettings(
        influx_url="http://influxdb:8086", influx_token="secret", influx_org=ORG, influx_bucket=BUCKET
    )
    assert "secret" not in repr(settings)


# -- the sink against the write API -------------------------------------------------------------------------------
async def test_points_are_written_in_batches_with_the_token_org_and_bucket(server: InfluxServer) -> None:
    async with running(InfluxTelemetry(settings_for(server, influx_batch_size=4, influx_flush_ms=50))) as sink:
        for second in range(10):
            sink.offer(fridge(second, 4.0 + second / 10))
        await until(lambda: sink.counters.points_written == 10, what="10 points written")
    assert [t for t, _ in fields_at(server)] == [
        int((T0 + timedelta(seconds=s)).timestamp() * 1e3) * 10**6 for s in range(10)
    ]
    assert [f["fridge_temperature"] for _, f in fields_at(server)] == [4.0 + s / 10 for s in range(10)]
    assert server.statuses() == [204, 204, 204]  # 4 + 4 + 2: batches, not a request per point
    assert sink.counters.batches == 3
    assert sink.counters.points_dropped == 0


async def test_503_and_429_are_retried_with_backoff_and_nothing_is_written_twice(server: InfluxServer) -> None:
    server.fail_next(2, 503)
    server.fail_next(1, 429, retry_after="0")
    async with running(InfluxTelemetry(settings_for(server))) as sink:
        sink.offer(fridge(0, 4.0))
        sink.offer(fridge(1, 4.1))
        await until(lambda: sink.counters.points_written == 2, what="2 points written after the retries")
        assert sink.counters.connected
    assert server.statuses() == [503, 503, 429, 204]
    assert sink.counters.retries == 3
    assert [f["fridge_temperature"] for _, f in fields_at(server)] == [4.0, 4.1]


async def test_a_full_buffer_drops_the_oldest_points_and_counts_them(server: InfluxServer) -> None:
    server.fail_next(1_000, 503)  # InfluxDB overloaded for a while
    sink = InfluxTelemetry(settings_for(server, influx_buffer=10, influx_batch_size=10))
    async with running(sink):
        for second in range(25):
            sink.offer(fridge(second, float(second)))  # returns at once: the broker link is never held up
        assert sink.buffered == 10
        assert sink.counters.points_dropped == 15
        await until(lambda: sink.counters.retries >= 2, what="retries while InfluxDB answers 503")
        with server.state.lock:
            server.state.failures.clear()  # InfluxDB is back
        await until(lambda: sink.counters.points_written == 10, what="the newest 10 points written")
    assert [f["fridge_temperature"] for _, f in fields_at(server)] == [float(s) for s in range(15, 25)]
    assert sink.buffered == 0


@pytest.mark.parametrize(("answer", "written"), [(204, list(range(10))), (503, list(range(5, 10)))])
async def test_points_dropped_while_their_batch_is_being_written_are_counted_by_its_outcome(
    server: InfluxServer, answer: int, written: list[int]
) -> None:
    """A slow write, and the buffer overflows meanwhile: the in-flight points are lost only if the write fails."""
    if answer != 204:
        server.fail_next(1, answer)
    server.hold()
    sink = InfluxTelemetry(settings_for(server, influx_buffer=5, influx_batch_size=5))
    async with running(sink):
        for second in range(5):
            sink.offer(fridge(second, float(second)))

        async def arrived() -> int:
            return server.arrived()

        await eventually(arrived, lambda n: n == 1, what="the first batch in flight")
        for second in range(5, 10):
            sink.offer(fridge(second, float(second)))  # pushes the in-flight points out of the buffer
        assert sink.counters.points_dropped == 0  # not yet known: the write may still succeed
        server.release()
        await until(lambda: sink.counters.points_written == len(written), what=f"{len(written)} points written")
    assert [f["fridge_temperature"] for _, f in fields_at(server)] == [float(s) for s in written]
    assert sink.counters.points_dropped == 10 - len(written)


async def test_a_wrong_token_drops_the_batch_with_the_reason_instead_of_retrying_forever(server: InfluxServer) -> None:
    async with running(InfluxTelemetry(settings_for(server, influx_token="wrong"))) as sink:
        sink.offer(fridge(0, 4.0))
        await until(lambda: sink.counters.refused["401"] == 1, what="the refusal counted")
        await asyncio.sleep(0.3)  # several backoff periods: no retry of a refused batch
    assert server.statuses() == [401]
    assert sink.counters.points_dropped == 1
    assert sink.counters.points_written == 0
    assert server.points() == []


async def test_an_unreachable_influxdb_is_retried_and_the_points_kept() -> None:
    with influx_server(TOKEN, ORG, BUCKET) as gone:
        url = gone.url  # a port that nothing listens on once this block ends
    settings = GatewaySettings(
        influx_url=url, influx_token=TOKEN, influx_org=ORG, influx_bucket=BUCKET, influx_max_backoff_s=0.1
    )
    async with running(InfluxTelemetry(settings)) as sink:
        sink.offer(fridge(0, 4.0))
        await until(lambda: sink.counters.retries >= 2, what="retries against a closed port")
        assert not sink.counters.connected
        assert sink.counters.points_dropped == 0
        assert sink.buffered == 1


# -- the gateway, fed over MQTT -----------------------------------------------------------------------------------
@pytest.fixture
async def influx_gateway(gateway_settings: GatewaySettings, server: InfluxServer) -> AsyncIterator[Gateway]:
    configured = gateway_settings.model_copy(
        update={
            "ingest_batch_wait_ms": 5,
            "telemetry_batch_wait_ms": 5,
            "influx_url": server.url,
            "influx_token": SecretStr(TOKEN),
            "influx_org": ORG,
            "influx_bucket": BUCKET,
            "influx_flush_ms": 20,
            # T0 is a fixed day, long past: keep its readings raw, or the downsampling pass may turn them into
            # one-minute means between storing and reading them back (seen once under load: [4.75, 9.0])
            "telemetry_raw_hours": 24 * 3650,
            "telemetry_retention_days": 3650,
        }
    )
    async with Gateway(configured) as running_gateway:
        yield running_gateway


async def test_the_gateway_sends_telemetry_from_the_broker_to_influxdb_and_keeps_its_own_window(
    infra: Infra, influx_gateway: Gateway, server: InfluxServer
) -> None:
    async with FakeEdge(infra, store=influx_gateway.store).connected() as edge:
        assert edge.client is not None
        for second, celsius in ((0, 4.0), (30, 5.5), (60, 9.0)):
            payload = fridge(second, celsius).model_dump_json().encode()
            await edge.client.publish(edge.topics.telemetry, payload, qos=0)
        await edge.client.publish(edge.topics.telemetry, b'{"site": "general-hospital"}', qos=0)  # invalid

        await until(lambda: len(server.points()) == 3, what="3 points in InfluxDB")
    assert [(p.measurement, p.tags["device"], p.fields) for p in server.points()] == [
        ("temperature", "cabinet-1", {"fridge_temperature": c}) for c in (4.0, 5.5, 9.0)
    ]
    # The embedded store still holds the readings the alert engine and the API read.
    async with authorised(influx_gateway, "engineer") as api:
        body = (await api.get("/api/v1/devices/cabinet-1/telemetry")).json()
        assert [p["value"] for p in body["data"]] == [4.0, 5.5, 9.0]

        async def rejected() -> dict[str, int]:
            return (await api.get("/healthz")).json()["telemetry"]["rejected"]

        # Dead-lettered, and never sent to InfluxDB.
        await eventually(rejected, lambda r: r == {"invalid_telemetry": 1}, what="the invalid message rejected")
    assert len(server.points()) == 3
    assert influx_gateway.ingest is not None
    influx = influx_gateway.ingest.telemetry.influx
    assert influx is not None
    assert influx.counters.points_written == 3
