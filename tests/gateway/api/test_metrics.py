"""`GET /metrics`: Prometheus text from a running gateway fed real events over MQTT, parsed with prometheus_client.

Every test runs twice through `infra`: embedded amqtt + SQLite, then the real Mosquitto + PostgreSQL. What the
metrics say is checked against what was sent and against the gateway's own API, never against a hard-coded figure
the gateway could not know.
"""

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from contract import EdgeStatus, Reading, Subject, Telemetry, new_event
from gateway.api.metrics import GatewayMetrics
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.storage.database import Database
from gateway.storage.engine import create_engine
from tests.auth import authorised, bearer
from tests.gateway.test_gateway_e2e import DEVICE, EDGE, SITE, FakeEdge, specimen_event
from tests.infra import Infra
from tests.polling import eventually
from wardlink.net import free_port

Samples = dict[str, list[Sample]]


def parse(text: str) -> Samples:
    """Samples by metric family name (counters without `_total`, as the parser names families)."""
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(samples: Samples, family: str, sample: str | None = None, **labels: str) -> float:
    wanted = sample or family
    found = [
        s.value for s in samples[family] if s.name == wanted and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, (family, wanted, labels, samples.get(family))
    return found[0]


@pytest.fixture
async def edge(infra: Infra, gateway: Gateway) -> AsyncIterator[FakeEdge]:
    async with FakeEdge(infra, store=gateway.store).connected() as connected:
        yield connected


@pytest.fixture
async def engineer(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with authorised(gateway, "engineer") as client:
        yield client


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


async def test_ingest_counts_lag_and_links_follow_what_the_edge_sent(
    gateway: Gateway, edge: FakeEdge, engineer: httpx.AsyncClient
) -> None:
    occurred = datetime.now(UTC) - timedelta(minutes=20)  # the edge's backlog: 20 minutes late
    events = [
        specimen_event("specimen.scanned", f"S{n}", n, occurred, input_rack=1, input_position=n) for n in (1, 2, 3)
    ]
    await edge.send(*events)
    await edge.until_acked(*events)
    await edge.send(events[0])  # a resend: stored once, counted as a duplicate
    await edge.publish(b'{"type": "specimen.scanned"')  # not JSON: dead-lettered

    async def settled() -> Samples:
        return await scrape(engineer)

    samples = await eventually(
        settled,
        lambda s: (
            value(s, "wardlink_events_duplicate", "wardlink_events_duplicate_total") == 1
            and sum(x.value for x in s["wardlink_events_rejected"]) == 1
        ),
        what="the duplicate and the rejection counted",
    )
    assert value(samples, "wardlink_events_accepted", "wardlink_events_accepted_total") == 3
    rejected = {s.labels["reason"]: s.value for s in samples["wardlink_events_rejected"]}
    assert rejected == {"malformed": 1}
    assert gateway.ingest is not None
    assert value(samples, "wardlink_ingest_batches", "wardlink_ingest_batches_total") == gateway.ingest.counters.batches
    assert value(samples, "wardlink_broker_connected") == 1
    assert value(samples, "wardlink_database_up") == 1

    # Lag: each stored event observed once in both histograms; 20 minutes late lands between 900 s and 3600 s.
    commit = "wardlink_event_commit_latency_seconds"
    assert value(samples, commit, f"{commit}_count") == 3
    assert value(samples, commit, f"{commit}_bucket", le="+Inf") == 3
    delivery = "wardlink_event_delivery_lag_seconds"
    assert value(samples, delivery, f"{delivery}_count") == 3
    assert value(samples, delivery, f"{delivery}_bucket", le="900.0") == 0
    assert value(samples, delivery, f"{delivery}_bucket", le="3600.0") == 3
    assert value(samples, delivery, f"{delivery}_sum") >= 3 * 20 * 60


async def test_alerts_devices_telemetry_and_outboxes_match_the_api(
    gateway: Gateway, edge: FakeEdge, engineer: httpx.AsyncClient
) -> None:
    now = datetime.now(UTC)
    offline = new_event(
        "device.offline",
        seq=1,
        site=SITE,
        edge=EDGE,
        device=DEVICE,
        subject=Subject(kind="device", id=DEVICE),
        occurred_at=now - timedelta(minutes=10),
        data={"reason": "modbus timeout"},
    )
    await edge.send(offline)
    await edge.until_acked(offline)
    assert edge.client is not None
    reading = Telemetry(
        site=SITE, edge=EDGE, device="cabinet-1", at=now, readings=[Reading(metric="fridge_temperature", value=4.2)]
    )
    await edge.client.publish(edge.topics.telemetry, reading.model_dump_json().encode(), qos=0)
    status = EdgeStatus(
        site=SITE,
        edge=EDGE,
        at=now,
        epoch="e1",
        next_seq=42,
        depth=17,
        bytes=9_000,
        max_bytes=1_000_000,
        level=0,
        restarts=2,
        problem="database or disk is full",
    )
    await edge.client.publish(edge.topics.status, status.model_dump_json().encode(), qos=1, retain=True)
    try:
        assert gateway.alerts is not None
        await gateway.alerts.evaluate()  # a pass now: the device has been offline for longer than its grace

        async def settled() -> Samples:
            return await scrape(engineer)

        samples = await eventually(
            settled,
            lambda s: (
                value(s, "wardlink_telemetry_messages", "wardlink_telemetry_messages_total") == 1
                and len(s["wardlink_edge_outbox_depth"]) == 1
            ),
            what="the telemetry stored and the outbox report recorded",
        )
    finally:
        await edge.client.publish(edge.topics.status, b"", qos=1, retain=True)  # leave no retained report behind

    open_alerts = (await engineer.get("/api/v1/alerts", params={"state": "open"})).json()["data"]
    assert open_alerts, "the offline device raised an alert"
    by_kind = Counter((a["kind"], a["severity"]) for a in open_alerts)
    assert {(s.labels["kind"], s.labels["severity"]): s.value for s in samples["wardlink_alerts_open"]} == by_kind

    devices = (await engineer.get("/api/v1/devices")).json()["data"]
    by_state = Counter(d["state"] for d in devices)
    assert {s.labels["state"]: s.value for s in samples["wardlink_devices"]} == by_state
    assert by_state["offline"] == 1

    assert value(samples, "wardlink_telemetry_readings", "wardlink_telemetry_readings_total") == 1
    assert value(samples, "wardlink_edge_outbox_depth", site=SITE, edge=EDGE) == 17
    assert value(samples, "wardlink_edge_outbox_bytes", site=SITE, edge=EDGE) == 9_000
    assert value(samples, "wardlink_edge_outbox_max_bytes", site=SITE, edge=EDGE) == 1_000_000
    assert value(samples, "wardlink_edge_task_restarts", "wardlink_edge_task_restarts_total", site=SITE, edge=EDGE) == 2
    assert "wardlink_influx_points_written" not in samples  # InfluxDB not configured: no such series


async def test_metrics_need_an_engineer_or_an_admin(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.api_url, timeout=10) as anonymous:
        response = await anonymous.get("/metrics")
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        lab = await anonymous.get("/metrics", headers=await bearer(gateway, "lab"))
        assert lab.status_code == 403
        for role in ("engineer", "admin"):
            allowed = await anonymous.get("/metrics", headers=await bearer(gateway, role))
            assert allowed.status_code == 200, role
            assert "wardlink_events_accepted_total" in allowed.text
        openmetrics = await anonymous.get(
            "/metrics",
            headers={**await bearer(gateway, "engineer"), "Accept": "application/openmetrics-text; version=1.0.0"},
        )
        assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
        assert openmetrics.text.endswith("# EOF\n")


async def test_a_database_that_does_not_answer_reads_as_down() -> None:
    closed = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/test"  # nothing listens there
    db = Database(create_engine(GatewaySettings(database_url=closed)))
    try:
        metrics = GatewayMetrics(db, None)
        await metrics.refresh()
        samples = parse(metrics.exposition()[0].decode())
    finally:
        await db.close()
    assert value(samples, "wardlink_database_up") == 0
    assert value(samples, "wardlink_broker_connected") == 0
    assert "wardlink_alerts_open" not in samples  # no stale figures while the database is away
