"""Telemetry in the embedded store: raw readings, the latest value per metric, series queries.

Functions take the caller's connection and the dialect's `insert`; `TelemetryStore` opens its own. Downsampling lives
in `gateway.telemetry.downsampling`.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contract import Telemetry
from gateway.storage.chunks import chunks
from gateway.storage.database import Database
from gateway.storage.tables import device_readings, telemetry
from gateway.storage.totals import Total, total_of
from gateway.tracking.devices.store import latest_sightings, touch_devices

Insert = Callable[[sa.Table], Any]
RAW = 0
"""`resolution_s` of a raw reading."""


@dataclass(frozen=True, slots=True)
class Point:
    """One point of a series: a raw reading (`resolution_s` 0, `samples` 1) or a mean over `resolution_s`."""

    metric: str
    at: datetime
    value: float
    unit: str
    samples: int
    resolution_s: int


@dataclass(frozen=True, slots=True)
class LatestReading:
    metric: str
    value: float
    unit: str
    at: datetime


def _raw_rows(batch: Sequence[Telemetry]) -> list[dict[str, Any]]:
    """One row per reading; a reading repeated (a QoS 0 duplicate, a metric twice in one message) counts once."""
    rows: dict[tuple[str, str, str, datetime], dict[str, Any]] = {}
    for message in batch:
        for reading in message.readings:
            rows[(message.site, message.device, reading.metric, message.at)] = {
                "site": message.site,
                "device": message.device,
                "metric": reading.metric,
                "resolution_s": RAW,
                "at": message.at,
                "edge": message.edge,
                "value": reading.value,
                "samples": 1,
                "unit": reading.unit,
            }
    return list(rows.values())


def _latest_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["site"], row["device"], row["metric"])
        if key not in latest or row["at"] > latest[key]["at"]:
            latest[key] = row
    columns = ("site", "device", "metric", "edge", "value", "unit", "at")
    return [{c: row[c] for c in columns} for row in latest.values()]


async def store_telemetry(connection: AsyncConnection, insert: Insert, batch: Sequence[Telemetry]) -> int:
    """Store the readings of `batch`, move each metric's latest value on, touch the devices; rows inserted."""
    rows = _raw_rows(batch)
    inserted = 0
    for chunk in chunks(rows):
        statement = insert(telemetry).on_conflict_do_nothing().returning(telemetry.c.at)
        inserted += len((await connection.execute(statement, chunk)).all())
    latest = _latest_rows(rows)
    statement = insert(device_readings)
    excluded = statement.excluded
    # A reading that arrives late (an edge's backlog after an outage) never replaces a newer one.
    upsert = statement.on_conflict_do_update(
        index_elements=["site", "device", "metric"],
        set_={c: excluded[c] for c in ("edge", "value", "unit", "at")},
        where=device_readings.c.at < excluded.at,
    )
    for chunk in chunks(latest):
        await connection.execute(upsert, chunk)
    await touch_devices(connection, insert, latest_sightings((m.site, m.device, m.edge, m.at) for m in batch))
    return inserted


async def latest_readings(connection: AsyncConnection, site: str, device: str) -> list[LatestReading]:
    query = (
        sa.select(device_readings)
        .where(device_readings.c.site == site, device_readings.c.device == device)
        .order_by(device_readings.c.metric)
    )
    return [LatestReading(r.metric, r.value, r.unit, r.at) for r in await connection.execute(query)]


async def series(
    connection: AsyncConnection,
    *,
    site: str,
    device: str,
    metric: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[Point], Total]:
    """Points of a device (one metric or all), oldest first, and how many match in all: a short first page is its own
    total, else they are counted up to `CAP` + 1 (`storage/totals.py`; a device over years has millions)."""
    c = telemetry.c
    where: list[sa.ColumnElement[bool]] = [c.site == site, c.device == device]
    if metric is not None:
        where.append(c.metric == metric)
    if since is not None:
        where.append(c.at >= since)
    if until is not None:
        where.append(c.at < until)
    page = (
        sa.select(telemetry)
        .where(*where)
        .order_by(c.at, c.metric, c.resolution_s)
        .limit(limit + 1)  # one past the page: a first page without it is the whole series
        .offset(offset)
    )
    fetched = list(await connection.execute(page))
    rows = fetched[:limit]
    whole_list = len(rows) if offset == 0 and len(fetched) <= limit else None
    points = [Point(r.metric, r.at, r.value, r.unit, r.samples, r.resolution_s) for r in rows]
    return points, await total_of(connection, telemetry, where, whole_list=whole_list)


class TelemetryStore:
    """Telemetry in the embedded store: batches in, series and latest readings out."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def commit(self, batch: Sequence[Telemetry]) -> int:
        """Store a batch of telemetry messages in one transaction; how many readings were new."""
        async with self._db.engine.begin() as connection:
            return await store_telemetry(connection, self._db.insert, batch)

    async def latest(self, site: str, device: str) -> list[LatestReading]:
        """The device's latest reading of each metric."""
        async with self._db.engine.connect() as connection:
            return await latest_readings(connection, site, device)

    async def series(
        self,
        *,
        site: str,
        device: str,
        metric: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Point], Total]:
        """A device's telemetry, oldest first (raw readings, and one-minute means where they were downsampled), and how
        many points match (counted up to `CAP`)."""
        async with self._db.engine.connect() as connection:
            return await series(
                connection,
                site=site,
                device=device,
                metric=metric,
                since=since,
                until=until,
                limit=limit,
                offset=offset,
            )
