"""`make bench`: how fast events get from an edge to a committed row, as figures (never asserted in tests).

Measurements on this machine, each printed as a table row and saved to benchmarks/results.json
(`docs/performance.md` explains each):
- baseline: a bare MQTT subscriber that does nothing with QoS 1 messages (the broker's and client's limit);
- gateway ingest: fake edges publish the tracking mix (`benchmarks.event_mix`) as fast as it goes to one gateway
  process (amqtt + SQLite, Mosquitto + PostgreSQL), to one gateway that leaves projecting to a `wardlink projector`
  process, and to two gateway processes sharing the stream (MQTT v5 shared subscription, one PostgreSQL): events/s
  until every id is acknowledged (validated, stored, acked) and until every event is projected (queryable);
- latency at a steady 1,000 events/s: publish -> ack, and publish -> the specimen projected (its live-stream
  frame, each then read once from the API);
- store alone: `EventStore.ingest_batch` (durable) and `ProjectionRunner.project_pending` (projections, custody
  log) after four times as many events stored and projected first;
- edge capacity: N simulated sorters polled at 1 Hz by one edge agent, its CPU share;
- memory: the gateway's RSS serving queries with 1,000,000 tracked specimens in PostgreSQL;
- end to end: tubes inducted into the sorter simulator until every event is committed (Modbus mailbox poll,
  outbox fsync, MQTT, gateway).
"""

import argparse
import asyncio
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt

from benchmarks.edge_capacity import edge_capacity
from benchmarks.event_mix import describe, tracking_mix
from benchmarks.feed import PUBLISH_WINDOW, REPO, mqtt_link
from benchmarks.memory import gateway_memory
from benchmarks.mosquitto import BROKER_NOTE, tuned_mosquitto
from benchmarks.profile_commit import store_rate
from benchmarks.scale import ReplicaRun, percentile, replica_ingest
from benchmarks.schemas import REAL_DB
from simulators.sorter.stream import tubes
from wardlink.broker import EmbeddedBroker
from wardlink.net import port_open
from wardlink.stack import Stack, StackConfig

RESULTS = Path(__file__).resolve().parent / "results.json"
ARRAY = 50
"""Events per message in the rows with arrays (an edge's `events_per_message`)."""
REAL_MQTT = "mqtt://127.0.0.1:1883"


async def baseline(url: str, count: int) -> float:
    """Messages/s through the broker to a subscriber process that does nothing with them (`bare_subscriber`),
    published as the fake edges publish (QoS 1, at most `PUBLISH_WINDOW` in flight)."""
    topic = f"bench/{uuid.uuid4().hex}/x"
    payload = b"x" * 400  # about the size of an envelope
    process = subprocess.Popen(  # noqa: ASYNC220, S603 - our own module; every wait is in a thread
        [sys.executable, "-m", "benchmarks.bare_subscriber", url, topic, str(count)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        if (await asyncio.to_thread(process.stdout.readline)).strip() != "ready":
            raise RuntimeError("the bare subscriber did not start")
        async with mqtt_link(url, aiomqtt.ProtocolVersion.V311) as link:
            for start in range(0, count, PUBLISH_WINDOW):
                chunk = range(start, min(count, start + PUBLISH_WINDOW))
                await asyncio.gather(*(link.publish(topic, payload, qos=1) for _ in chunk))
        out, _ = await asyncio.to_thread(process.communicate, None, 120)
    finally:
        if process.poll() is None:
            process.kill()
    return float(out.split()[-1])


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


def ingest_rows(row: Any, setup: str, run: ReplicaRun, note: str) -> None:
    """Two rows per run: until every event is acknowledged (stored), and until every event is projected."""
    row(f"gateway ingest, {setup}", run.rate, "events/s", f"stored + acked; {note}")
    row(f"  ... and projected (queryable), {setup}", run.projected_rate, "events/s", "")


class Table:
    """Rows printed as they come and kept for results.json."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        print(f"{'measurement':<62} {'value':>10} {'unit':<10} note", flush=True)

    def row(self, name: str, value: float, unit: str, note: str = "") -> None:
        self.rows.append({"measurement": name, "value": round(value, 3), "unit": unit, "note": note})
        print(f"{name:<62} {value:>10,.1f} {unit:<10} {note}", flush=True)


async def main(count: int, specimens: int, devices: list[int]) -> None:
    async with tuned_mosquitto() as tuned:
        await measure(count, specimens, devices, tuned)


async def measure(count: int, specimens: int, devices: list[int], tuned: str | None) -> None:
    """Every row; the real-services rows on `tuned` (a Mosquitto with wardlink's broker settings) where there is
    one, else on the machine's Mosquitto."""
    table = Table()
    row = table.row
    real = port_open("127.0.0.1", 1883) and port_open("127.0.0.1", 5432)
    mq = tuned or REAL_MQTT
    pg = "Mosquitto + PostgreSQL"
    if real:
        print(f"real services: PostgreSQL on 5432; Mosquitto {BROKER_NOTE if tuned else 'on 1883 as installed'}")
    start = datetime.now(UTC) - timedelta(hours=30)  # the mix spans about a day; none of it in the future
    mix = tracking_mix(count, start)
    print(f"tracking mix by subject: {describe(mix)}", flush=True)

    # -- throughput: the broker's limit, then one and two gateway processes ------------------------------------
    # Each setup with one event per MQTT message, and with each edge's events as arrays of ARRAY (what an edge with
    # `events_per_message` sends): the per-message cost of MQTT in Python bounds the first (see the baseline).
    async with EmbeddedBroker() as broker:
        amqtt_base = await baseline(broker.url, count)
        row("baseline: bare subscriber, amqtt", amqtt_base, "msg/s", f"{count} QoS 1")
        one = await replica_ingest(1, broker.url, None, mix)
        ingest_rows(row, "1 gateway: amqtt + SQLite", one, f"{one.rate / amqtt_base:.0%} of baseline")
    if real:
        base = await baseline(mq, count)
        row("baseline: bare subscriber, Mosquitto", base, "msg/s", f"{count} QoS 1")
        one = await replica_ingest(1, mq, REAL_DB, mix)
        ingest_rows(row, f"1 gateway: {pg}", one, f"{one.rate / base:.0%} of baseline")
        two = await replica_ingest(2, mq, REAL_DB, mix)
        ingest_rows(row, f"2 gateways: {pg}", two, "shares " + "/".join(str(s["accepted"]) for s in two.shares))
        row("  2 gateways / 1 gateway, stored", two.rate / one.rate, "x", "target >= 1.7")
        big = tracking_mix(3 * count, start, seed=9)
        arrays = f"arrays of {ARRAY}"
        one_a = await replica_ingest(1, mq, REAL_DB, big, events_per_message=ARRAY)
        ingest_rows(row, f"1 gateway, {arrays}: {pg}", one_a, f"{len(big):,} events")
        apart = await replica_ingest(1, mq, REAL_DB, big, separate_projector=True, events_per_message=ARRAY)
        ingest_rows(row, f"1 gateway + projector process, {arrays}: {pg}", apart, f"{len(big):,} events")
        two_a = await replica_ingest(2, mq, REAL_DB, big, events_per_message=ARRAY)
        split = "/".join(str(s["accepted"]) for s in two_a.shares)
        ingest_rows(row, f"2 gateways, {arrays}: {pg}", two_a, f"shares {split}")
        row(f"  2 gateways / 1 gateway, stored, {arrays}", two_a.rate / one_a.rate, "x", "target >= 1.7")
    else:
        print("(Mosquitto on 1883 / PostgreSQL on 5432 not reachable: real-services rows skipped)")

    # -- latency at a steady 1,000 events/s --------------------------------------------------------------------
    steady = tracking_mix(10_000, start, seed=8)
    targets = [
        (pg, mq, REAL_DB, 1, False),
        (f"{pg}, arrays of 20", mq, REAL_DB, 20, False),
        (f"{pg}, projector process", mq, REAL_DB, 1, True),
    ]
    if tuned:
        targets.append(("Mosquitto as installed (Nagle on) + PostgreSQL", REAL_MQTT, REAL_DB, 1, False))
    async with EmbeddedBroker() as broker:
        embedded = ("amqtt + SQLite", broker.url, None, 1, False)
        for setup, url, db, per_message, separate in [embedded, *(targets if real else [])]:
            run = await replica_ingest(
                1,
                url,
                db,
                steady,
                rate_per_s=1000,
                probe_every=5,
                separate_projector=separate,
                events_per_message=per_message,
            )
            note = f"{len(steady):,} events at 1,000/s"
            for p in (50, 99):
                row(f"  publish -> ack p{p} at 1,000 ev/s: {setup}", percentile(run.latencies, p) * 1000, "ms", note)
            probes = f"{len(run.queryable)} specimens, by the live stream"
            for p in (50, 99):
                value = percentile(run.queryable, p) * 1000
                row(f"  publish -> queryable p{p} at 1,000 ev/s: {setup}", value, "ms", probes)

    # -- the store alone, a few hours into a day ---------------------------------------------------------------
    timed, history = 5000, 20_000  # the figures before this benchmark grew were taken so
    for db, infra in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        if db == "postgresql" and not real:
            continue
        for size in (200, 1000):
            rates = await store_rate(db, "tracking", timed, size, history, pass_size=size)
            note = f"batches/passes of {size:,}, after {history:,} events"
            row(f"store alone: stored (durable), {infra}", rates.stored, "events/s", note)
            row(f"store alone: projected, {infra}", rates.projected, "events/s", note)

    # -- edge capacity: Modbus devices polled at 1 Hz ----------------------------------------------------------
    async with EmbeddedBroker() as broker:
        url = mq if real else broker.url
        for n in devices:
            edge = await asyncio.to_thread(edge_capacity, url, n)
            row(f"edge: {n} Modbus devices polled at 1 Hz, CPU", edge.cpu_share * 100, "% of a core", "")
            row(f"  edge: {n} devices, watch polls per device", edge.polls_per_device_s, "Hz", "1.0 = keeps up")

    # -- memory with a million tracked specimens ---------------------------------------------------------------
    if real:
        memory = await gateway_memory(mq, REAL_DB, specimens)
        note = f"{specimens:,} specimens (loaded in {memory.load_s:.0f} s)"
        row("gateway memory: RSS after start", memory.rss_idle_mb, "MB", note)
        row("gateway memory: RSS after queries", memory.rss_serving_mb, "MB", note)
        row("gateway memory: peak RSS", memory.peak_mb, "MB", note)
        for name, seconds in memory.queries.items():
            row(f"  query: {name}", seconds * 1000, "ms", f"over {specimens:,} specimens")

    tube_count = 500
    row("end to end: sorter -> edge -> gateway", await end_to_end(tube_count), "tubes/s", f"{tube_count} tubes")
    payload = {"when": datetime.now(UTC).isoformat(), "machine": _machine(), "count": count, "rows": table.rows}
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"saved {RESULTS}")


def _machine() -> dict[str, Any]:
    model = next(
        (ln.split(":", 1)[1].strip() for ln in _read("/proc/cpuinfo").splitlines() if ln.startswith("model name")),
        platform.processor(),
    )
    mem = next((ln.split()[1] for ln in _read("/proc/meminfo").splitlines() if ln.startswith("MemTotal:")), "0")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(int(mem) / 1024 / 1024, 1),
        "load_average_at_end": os.getloadavg(),
    }


def _read(path: str) -> str:
    return Path(path).read_text() if Path(path).exists() else ""


def run(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="events per throughput measurement (10,000)")
    parser.add_argument("--specimens", type=int, default=1_000_000, help="specimens for the memory row (1,000,000)")
    parser.add_argument("--devices", default="100,300", help="edge-capacity device counts (100,300)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("amqtt", "transitions", "alembic", "pymodbus", "mqtt"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    devices = [int(n) for n in args.devices.split(",") if n]
    asyncio.run(main(args.count, args.specimens, devices))


if __name__ == "__main__":
    run()
