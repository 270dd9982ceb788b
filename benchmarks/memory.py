"""Benchmark rows: the gateway's memory (RSS) with 1,000,000 tracked specimens in PostgreSQL.

The specimens are bulk-loaded (COPY) as rows, spread over two months like a large hospital's (~16,000 a day),
nearly all resulted, the last hours' still open, and their turnaround rollups computed from them (as migration 0012
would; the load time includes it); then a gateway process starts on that schema and serves the
queries a lab dashboard makes (a page of specimens, one specimen, at-risk STAT specimens, turnaround by priority)
while the alert engine runs its pass. Its RSS is read from /proc before and after, and its peak (VmHWM) at the end.
"""

import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks.feed import replicas
from benchmarks.schemas import schema_for
from benchmarks.specimen_load import load_specimens
from benchmarks.tokens import admin_headers
from gateway.tracking.specimens.rollup_rebuild import rebuild_rollups


@dataclass(frozen=True)
class MemoryFigures:
    specimens: int
    load_s: float
    rss_idle_mb: float
    rss_serving_mb: float
    peak_mb: float
    queries: dict[str, float]
    """Seconds each query took."""


async def fill_rollups(database_url: str, schema: str, since: datetime | None = None) -> int:
    """The turnaround rollups of the specimens loaded (the projector keeps them; a bulk load does not): of those
    collected from `since` (a UTC day's start) on, or all; how many specimens were counted."""
    engine = create_async_engine(database_url, connect_args={"server_settings": {"search_path": schema}})
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(rebuild_rollups, since)
    finally:
        await engine.dispose()


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def gateway_memory(mqtt_url: str, database_url: str, count: int) -> MemoryFigures:
    """Load `count` specimens, start a gateway on them, query it; its RSS idle, serving, and at its peak."""
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as data_dir:
        async with schema_for(database_url) as schema:
            assert schema is not None, "the memory benchmark runs on PostgreSQL"
            headers = await admin_headers(database_url, schema, data_dir)
            started = time.perf_counter()
            await load_specimens(database_url, schema, count, now=now)
            await fill_rollups(database_url, schema)  # the rows were loaded past the projector: count them as it would
            load_s = time.perf_counter() - started
            env = {
                "WARDLINK_MQTT_URL": mqtt_url,
                "WARDLINK_DATABASE_URL": database_url,
                "WARDLINK_DATABASE_SCHEMA": schema,
                "WARDLINK_TOPIC_ROOT": f"bench{uuid.uuid4().hex[:8]}/wardlink",
                "WARDLINK_API_PORT": "0",
                "WARDLINK_DATA_DIR": data_dir,
            }
            async with replicas(1, env) as (gateway,):
                pid = gateway.process.pid
                idle = _rss_mb(pid)
                queries: dict[str, float] = {}
                async with httpx.AsyncClient(base_url=gateway.api_url, headers=headers, timeout=120) as api:
                    for name, path in (
                        ("a page of specimens", "/api/v1/specimens?limit=100"),
                        ("one specimen", f"/api/v1/specimens/M{count // 2:09d}"),
                        ("STAT at risk", "/api/v1/specimens?priority=stat&at_risk=true"),
                        ("turnaround by priority, 24 h", "/api/v1/turnaround?group_by=priority"),
                        ("turnaround by ward, 7 days", _week(now)),
                    ):
                        began = time.perf_counter()
                        response = await api.get(path)
                        response.raise_for_status()
                        queries[name] = time.perf_counter() - began
                serving = _rss_mb(pid)
                peak = _rss_mb(pid, "VmHWM")
                await gateway.stop()
    return MemoryFigures(count, load_s, idle, serving, peak, queries)


def _week(now: datetime) -> str:
    since = (now - timedelta(days=7)).isoformat().replace("+00:00", "Z")
    return f"/api/v1/turnaround?group_by=ward&since={since}"
