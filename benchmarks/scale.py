"""Benchmark rows for gateway processes: ingest through one and two replicas (MQTT v5 shared subscription), and
latency at a steady offered rate, from an edge's publish to the ack and to the specimen being queryable in the API."""

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from benchmarks.feed import REPO, publish_until_acked, replicas
from benchmarks.schemas import schema_for
from benchmarks.tokens import admin_headers
from contract import Event


@dataclass(frozen=True)
class ReplicaRun:
    rate: float
    """Events/s from the first publish to the last id acknowledged (stored: durable)."""
    projected_rate: float
    """Events/s from the first publish to the projection backlog empty (every event queryable)."""
    shares: list[dict[str, Any]]
    """Each replica's counters (accepted, duplicates, acks, peak RSS)."""
    latencies: list[float]
    """Seconds from publish to ack, sorted."""
    queryable: list[float]
    """Seconds from publish to the specimen answering in the API (sampled specimens), sorted."""


def percentile(values: list[float], p: float) -> float:
    """The `p`-th percentile (0-100) of sorted `values`, nearest rank."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]


async def replica_ingest(
    count: int,
    mqtt_url: str,
    database_url: str | None,
    stream: list[Event],
    *,
    rate_per_s: float | None = None,
    probe_every: int = 0,
    separate_projector: bool = False,
    events_per_message: int = 1,
) -> ReplicaRun:
    """Feed `stream` to `count` gateway processes sharing one database; time until every id is acknowledged.

    Several replicas share the stream through MQTT v5 `$share/bench/...`; one replica runs as configured by
    default (MQTT 3.1.1, no group), so it also runs on the embedded broker. With `probe_every` = n, every n-th
    `specimen.collected` is polled through the API (`GET /api/v1/specimens/{barcode}`) from its publish until it
    answers 200. With `separate_projector`, the gateways only store and acknowledge (`WARDLINK_PROJECTOR=false`)
    and a `wardlink projector` process projects. `events_per_message`: the fake edges send JSON arrays of that many.
    """
    root = f"bench{uuid.uuid4().hex[:8]}/wardlink"
    with tempfile.TemporaryDirectory() as data_dir:
        async with schema_for(database_url) as schema:
            headers = await admin_headers(database_url, schema, data_dir)
            env = {
                "WARDLINK_MQTT_URL": mqtt_url,
                "WARDLINK_TOPIC_ROOT": root,
                "WARDLINK_API_PORT": "0",
                "WARDLINK_DATA_DIR": data_dir,
                "WARDLINK_ALERTS_EVERY_S": "3600",
            }
            if database_url is not None:
                env["WARDLINK_DATABASE_URL"] = database_url
            if schema is not None:
                env["WARDLINK_DATABASE_SCHEMA"] = schema
            if count > 1:
                env |= {"WARDLINK_MQTT_PROTOCOL": "5", "WARDLINK_MQTT_SHARED_GROUP": "bench"}
            if separate_projector:
                env["WARDLINK_PROJECTOR"] = "false"
            async with replicas(count, env) as running, projector(env, separate_projector):
                async with (
                    httpx.AsyncClient(base_url=running[0].api_url, headers=headers, timeout=30) as api,
                    Projections(api) as projections,
                ):
                    probes: dict[str, tuple[str, float]] = {}
                    seen = 0

                    def on_sent(event: Event, at: float) -> None:
                        nonlocal seen
                        if probe_every and event.type == "specimen.collected":
                            seen += 1
                            if seen % probe_every == 0:
                                probes[str(event.id)] = (event.subject.id, at)

                    started = time.perf_counter()
                    latency = await publish_until_acked(
                        mqtt_url,
                        root,
                        stream,
                        rate_per_s=rate_per_s,
                        on_sent=on_sent,
                        v5=count > 1,
                        events_per_message=events_per_message,
                    )
                    elapsed = time.perf_counter() - started
                    await _until_projected(api)
                    projected = time.perf_counter() - started
                    queryable = sorted(await projections.latencies(probes))
                shares = [await replica.stop() for replica in running]
    rate, projected_rate = len(stream) / elapsed, len(stream) / projected
    return ReplicaRun(rate, projected_rate, shares, sorted(latency.values()), queryable)


@asynccontextmanager
async def projector(env: dict[str, str], wanted: bool) -> AsyncIterator[None]:
    """A `wardlink projector` process with the gateways' settings, while in the block (nothing if not `wanted`);
    ready when this yields: listening for the gateways' commits (PostgreSQL) or running (SQLite). A projector still
    importing while the first events arrive would time its own start, not projection."""
    if not wanted:
        yield
        return
    process = subprocess.Popen(  # noqa: ASYNC220 - spawning does not block; every wait is in a thread
        [sys.executable, "-m", "wardlink.cli", "projector"],
        cwd=REPO,
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
        text=True,
    )
    on_postgresql = env.get("WARDLINK_DATABASE_URL", "").startswith("postgresql")
    ready = threading.Event()
    marker = "projector listening" if on_postgresql else "projector running"
    threading.Thread(target=_echo_until, args=(process, marker, ready), daemon=True).start()
    try:
        await asyncio.to_thread(ready.wait, 60)
        if process.poll() is not None or not ready.is_set():
            raise RuntimeError(f"the projector process did not get ready (exit {process.poll()})")
        yield
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)


def _echo_until(process: subprocess.Popen[str], marker: str, ready: threading.Event) -> None:
    """Pass the process's log on to ours; set `ready` at the line holding `marker` (or when the log ends)."""
    assert process.stderr is not None
    for line in process.stderr:
        if marker in line:
            ready.set()
        sys.stderr.write(line)
    ready.set()


async def _until_projected(api: httpx.AsyncClient) -> None:
    """Until the projection backlog (shared by every replica) is empty."""
    while (await api.get("/healthz")).json()["projection"]["backlog"]:  # noqa: ASYNC110 - nothing to await but the API
        await asyncio.sleep(0.01)


class Projections:
    """When each `specimen.collected` was projected, from the gateway's live stream (`/api/v1/stream`), whose frames
    go out right after the projection pass commits. Polling the API instead would load the gateway it measures
    (hundreds of requests a second once the latency grows, which grows it further)."""

    def __init__(self, api: httpx.AsyncClient) -> None:
        self._api = api
        self.seen: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "Projections":
        opened = asyncio.Event()
        self._task = asyncio.create_task(self._read(opened))
        async with asyncio.timeout(30):
            await opened.wait()
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _read(self, opened: asyncio.Event) -> None:
        params = {"type": "specimen.collected"}
        timeout = httpx.Timeout(30, read=None)
        async with self._api.stream("GET", "/api/v1/stream", params=params, timeout=timeout) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                opened.set()
                if line.startswith("data: "):
                    frame = json.loads(line.removeprefix("data: "))
                    self.seen.setdefault(frame["event_id"], time.perf_counter())

    async def latencies(self, probes: dict[str, tuple[str, float]]) -> list[float]:
        """Seconds from each probe's publish to its projection; each one also read back from the API once."""
        async with asyncio.timeout(60):
            while not probes.keys() <= self.seen.keys():  # noqa: ASYNC110 - frames arrive on the reader task
                await asyncio.sleep(0.05)
        for barcode, _ in probes.values():
            (await self._api.get(f"/api/v1/specimens/{barcode}")).raise_for_status()
        return [self.seen[event_id] - sent_at for event_id, (_, sent_at) in probes.items()]
