"""A device's telemetry, paged by offset, with a total that stops counting at `CAP` (`storage/totals.py`).

A device reporting for years has millions of points: a page of its series, or of a fridge's temperature, no longer
counts them all. Runs on an empty SQLite file and an empty PostgreSQL schema; the long history is inserted in bulk.
"""

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from contract import Reading, Telemetry
from gateway.composition.stores import Stores
from gateway.settings import GatewaySettings
from gateway.storage.tables import telemetry
from gateway.storage.totals import CAP, Total
from gateway.telemetry.store import series
from tests.auth import in_process
from tests.pharmacy_events import EDGE, SITE, T0, cabinet_event

CABINET, METRIC = "cabinet-1", "fridge_temperature"


def point_row(second: int, metric: str = METRIC) -> dict[str, Any]:
    return {
        "site": SITE,
        "device": CABINET,
        "metric": metric,
        "resolution_s": 0,
        "at": T0 + timedelta(seconds=second),
        "edge": EDGE,
        "value": 4.0,
        "samples": 1,
        "unit": "°C",
    }


@pytest.fixture
async def fridge(store: Stores) -> Stores:
    """A cabinet whose fridge has read its temperature CAP + 5 times, one a second from T0, and its door once."""
    await store.events.commit_batch([cabinet_event("cabinet.door_opened", CABINET, 0, 1, badge="B300")])
    first = Telemetry(
        site=SITE, edge=EDGE, device=CABINET, at=T0, readings=[Reading(metric=METRIC, value=4.0, unit="°C")]
    )
    await store.telemetry.commit([first])  # makes the device known, as its first message does
    async with store.db.engine.begin() as connection:
        await connection.execute(sa.insert(telemetry), [point_row(s) for s in range(1, CAP + 5)])
        await connection.execute(sa.insert(telemetry), [point_row(s, "door_open_count") for s in range(3)])
    return store


@pytest.fixture
async def api(gateway_settings: GatewaySettings, fridge: Stores) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(gateway_settings, fridge) as client:
        yield client


@pytest.mark.parametrize("path", [f"/api/v1/devices/{CABINET}/telemetry", f"/api/v1/cabinets/{CABINET}/temperature"])
async def test_a_series_longer_than_the_cap_reports_the_cap_and_that_counting_stopped(
    api: httpx.AsyncClient, path: str
) -> None:
    params = {"metric": METRIC} if "telemetry" in path else {}
    first = (await api.get(path, params={**params, "limit": 100})).json()
    assert (first["count"], len(first["data"])) == (CAP, 100)  # not CAP + 5: counting stopped
    assert first["total_capped"] is True
    last = (await api.get(path, params={**params, "limit": 100, "offset": CAP})).json()
    assert (last["count"], last["total_capped"], len(last["data"])) == (CAP, True, 5)  # offset paging goes on past it


@pytest.mark.parametrize("path", [f"/api/v1/devices/{CABINET}/telemetry", f"/api/v1/cabinets/{CABINET}/temperature"])
async def test_a_short_first_page_is_its_own_exact_total(api: httpx.AsyncClient, path: str) -> None:
    window = {"since": (T0 + timedelta(seconds=10)).isoformat(), "until": (T0 + timedelta(seconds=40)).isoformat()}
    body = (await api.get(path, params={**window, "limit": 100})).json()
    assert (body["count"], body["total_capped"], len(body["data"])) == (30, False, 30)


async def test_below_the_cap_every_page_counts_exactly(fridge: Stores) -> None:
    async def page(limit: int, offset: int = 0) -> tuple[int, Total]:
        async with fridge.db.engine.connect() as connection:
            points, total = await series(
                connection,
                site=SITE,
                device=CABINET,
                metric="door_open_count",
                since=None,
                until=None,
                limit=limit,
                offset=offset,
            )
        return len(points), total

    assert await page(3) == (3, Total(3))  # a full first page that is the whole series
    assert await page(2) == (2, Total(3))
    assert await page(2, offset=2) == (1, Total(3))
    assert await page(2, offset=5) == (0, Total(3))  # past the last page
