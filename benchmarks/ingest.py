"""`make bench`: how fast events get from an edge to a committed row, as figures (never asserted in tests).

Measurements on this machine, each printed as a table row and saved to benchmarks/results.json:
- baseline: a bare MQTT subscriber that does nothing with QoS 1 messages (the broker's and client's limit);
- gateway ingest: fake edges publish pre-built envelopes; time until the gateway acked every id
  (validated, committed, acknowledged), on the embedded defaults and, when reachable, Mosquitto + PostgreSQL,
  for two streams (`benchmarks.event_mix`): sorter scans of new specimens (the pre-tracking figure), and the
  tracking mix of whole journeys (specimens in carriers, deliveries, cabinets) that every projector works on;
- store commit: `Store.commit_batch` alone (projectors included) on the tracking mix, after four times as many
  events of the same mix committed first (a database a few hours into a day: carriers and cabinets with history);
- end to end: tubes inducted into the sorter simulator until every event is committed (Modbus mailbox poll,
  outbox fsync, MQTT, gateway).
"""

import argparse
import asyncio
import json
import logging
import os
import platform
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt

from benchmarks.event_mix import describe, sorter_scans, topics_for, tracking_mix
from contract import Ack, Event
from contract.mqtt_url import BrokerAddress
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from simulators.scenarios import tubes
from wardlink.broker import EmbeddedBroker
from wardlink.net import port_open
from wardlink.stack import Stack, StackConfig

RESULTS = Path(__file__).resolve().parent / "results.json"
REAL_MQTT = "mqtt://127.0.0.1:1883"
REAL_DB = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def _client(url: str, **kwargs: Any) -> aiomqtt.Client:
    return aiomqtt.Client(
        **BrokerAddress.parse(url).client_kwargs(),
        protocol=aiomqtt.ProtocolVersion.V311,
        max_queued_incoming_messages=0,
        **kwargs,
    )


async def _publish_all(client: aiomqtt.Client, topic: str, payloads: list[bytes], window: int = 200) -> None:
    for start in range(0, len(payloads), window):
        await asyncio.gather(*(client.publish(topic, p, qos=1) for p in payloads[start : start + window]))


async def baseline(url: str, count: int) -> float:
    """Messages/s through the broker to a subscriber that does nothing."""
    topic = f"bench/{uuid.uuid4().hex}/x"
    payload = b"x" * 400  # about the size of an envelope
    async with _client(url) as sub, _client(url) as pub:
        await sub.subscribe(topic, qos=1)
        received = 0
        started = time.perf_counter()
        publishing = asyncio.create_task(_publish_all(pub, topic, [payload] * count))
        async for _ in sub.messages:
            received += 1
            if received == count:
                break
        await publishing
        return count / (time.perf_counter() - started)


@asynccontextmanager
async def schema_for(database_url: str | None) -> AsyncIterator[str | None]:
    if database_url is None or not database_url.startswith("postgresql"):
        yield None
        return
    import asyncpg

    schema = f"wl_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


async def gateway_ingest(url: str, database_url: str | None, events: list[Event]) -> tuple[float, float]:
    """(events/s committed and acked, p99 seconds from publish to ack) for one gateway fed `events` in order."""
    root = f"bench{uuid.uuid4().hex[:8]}/wardlink"
    count = len(events)
    with tempfile.TemporaryDirectory() as data_dir:
        async with schema_for(database_url) as schema:
            settings = GatewaySettings(
                mqtt_url=url,
                database_url=database_url,
                database_schema=schema,
                data_dir=Path(data_dir),
                topic_root=root,
                api_port=0,
            )
            async with Gateway(settings):
                edges = {e.edge: topics_for(e.edge, root) for e in events}
                payloads = [(edges[e.edge].events, e.model_dump_json().encode()) for e in events]
                sent_at: dict[str, float] = {}
                latencies: list[float] = []
                async with _client(url) as edge:
                    for topics in edges.values():
                        await edge.subscribe(topics.ack, qos=1)
                    started = time.perf_counter()

                    async def publish() -> None:
                        for start in range(0, count, 200):
                            chunk = events[start : start + 200]
                            stamp = time.perf_counter()
                            for e in chunk:
                                sent_at[str(e.id)] = stamp
                            await asyncio.gather(
                                *(edge.publish(topic, p, qos=1) for topic, p in payloads[start : start + 200])
                            )

                    publishing = asyncio.create_task(publish())
                    acked: set[str] = set()
                    async for message in edge.messages:
                        arrived = time.perf_counter()
                        for event_id in Ack.model_validate_json(message.payload).ids:  # type: ignore[arg-type]
                            key = str(event_id)
                            if key not in acked:
                                acked.add(key)
                                latencies.append(arrived - sent_at[key])
                        if len(acked) == count:
                            break
                    await publishing
                    elapsed = time.perf_counter() - started
    latencies.sort()
    return count / elapsed, latencies[int(len(latencies) * 0.99) - 1]


async def end_to_end(count: int) -> float:
    """Tubes/s from sorter induction to every event committed, on the embedded defaults."""
    with tempfile.TemporaryDirectory() as data_dir:
        config = StackConfig(data_dir=Path(data_dir), api_port=0, stream_rate_per_s=None)
        async with Stack(config) as stack:
            assert stack.sorter is not None
            assert stack.gateway is not None
            assert stack.gateway.ingest is not None
            batch = list(tubes(seed=7, count=count))
            expected = sum(1 if t.unreadable else 2 for t in batch) + 1  # + device.online
            counters = stack.gateway.ingest.counters
            started = time.perf_counter()
            for tube in batch:
                await stack.sorter.induct(tube)
            while counters.accepted < expected:  # noqa: ASYNC110 - the gateway's counter has no event to await
                await asyncio.sleep(0.05)
            return count / (time.perf_counter() - started)


async def main(count: int) -> None:
    rows: list[dict[str, Any]] = []

    def row(name: str, value: float, unit: str, note: str = "") -> None:
        rows.append({"measurement": name, "value": round(value, 3), "unit": unit, "note": note})
        print(f"{name:<58} {value:>10,.1f} {unit:<10} {note}", flush=True)

    print(f"{'measurement':<58} {'value':>10} {'unit':<10} note")
    start = datetime.now(UTC) - timedelta(hours=6)  # the mix spans a few hours; none of it in the future
    scans, mix = sorter_scans(count, start), tracking_mix(count, start)
    print(f"tracking mix by subject: {describe(mix)}")
    streams = (("sorter scans", scans), ("tracking mix", mix))

    async def ingest_rows(url: str, database_url: str | None, infra: str) -> None:
        for name, stream in streams:
            rate, p99 = await gateway_ingest(url, database_url, stream)
            row(f"gateway ingest, {name}: {infra}", rate, "events/s", f"{count} events, committed + acked")
            row(f"  publish -> ack p99, {name}: {infra}", p99 * 1000, "ms", "whole burst in flight")

    async with EmbeddedBroker() as broker:
        row("baseline: bare subscriber, amqtt", await baseline(broker.url, count), "msg/s", f"{count} QoS 1")
        await ingest_rows(broker.url, None, "amqtt + SQLite")
    if port_open("127.0.0.1", 1883) and port_open("127.0.0.1", 5432):
        row("baseline: bare subscriber, Mosquitto", await baseline(REAL_MQTT, count), "msg/s", f"{count} QoS 1")
        await ingest_rows(REAL_MQTT, REAL_DB, "Mosquitto + PostgreSQL")
    else:
        print("(Mosquitto on 1883 / PostgreSQL on 5432 not reachable: real-services rows skipped)")
    from benchmarks.profile_commit import store_rate

    history = 4 * count
    for db, infra in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        if db == "postgresql" and not port_open("127.0.0.1", 5432):
            continue
        rate = await store_rate(db, "tracking", count, 200, history)
        row(
            f"store commit, tracking mix after {history:,} events: {infra}",
            rate,
            "events/s",
            "no broker, batches of 200",
        )
    tube_count = max(count // 10, 100)
    row("end to end: sorter -> edge -> gateway", await end_to_end(tube_count), "tubes/s", f"{tube_count} tubes")
    RESULTS.write_text(
        json.dumps(
            {"when": datetime.now(UTC).isoformat(), "machine": _machine(), "count": count, "rows": rows}, indent=2
        )
        + "\n"
    )
    print(f"saved {RESULTS}")


def _machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}


def run(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="events per measurement (default 5000)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("amqtt", "transitions", "alembic", "pymodbus", "mqtt"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    asyncio.run(main(args.count))


if __name__ == "__main__":
    run()
