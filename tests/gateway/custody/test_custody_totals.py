"""A subject's custody records, paged by offset, with a total that stops counting at `CAP` (`storage/totals.py`).

A carrier in service for years has hundreds of thousands of records: a page no longer counts them all. Stores tests
run on an empty SQLite file and an empty PostgreSQL schema; the records of a long history are inserted in bulk.
"""

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
import sqlalchemy as sa

from gateway.composition.stores import Stores
from gateway.custody.log import subject_records
from gateway.settings import GatewaySettings
from gateway.storage.tables import custody_log
from gateway.storage.totals import CAP, Total
from tests.auth import in_process
from tests.gateway.custody.test_custody_log import SITE, T0, custody_event

CARRIER = "C-LONG"


def record_row(position: int, subject_id: str) -> dict[str, Any]:
    """A custody record of a carrier, its hashes zeros: what is counted here, not what is verified."""
    at = T0 + timedelta(seconds=position)
    return {
        "position": position,
        "event_id": uuid4(),
        "subject_kind": "carrier",
        "subject_id": subject_id,
        "type": "carrier.dispatched",
        "occurred_at": at,
        "recorded_at": at,
        "body_sha256": "0" * 64,
        "prev_hash": "0" * 64,
        "hash": "0" * 64,
        "site": SITE,
        "site_position": position,
    }


async def insert_records(store: Stores, count: int, subject_id: str = CARRIER, first: int = 1) -> None:
    """`count` records of `subject_id`, at positions from `first` on."""
    rows = [record_row(n, subject_id) for n in range(first, first + count)]
    async with store.db.engine.begin() as connection:
        await connection.execute(sa.insert(custody_log), rows)


@pytest.fixture
async def api(gateway_settings: GatewaySettings, store: Stores) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(gateway_settings, store) as client:
        yield client


async def page(store: Stores, *, limit: int, offset: int = 0, exact_total: bool = False) -> tuple[list[int], Total]:
    async with store.db.engine.connect() as connection:
        records, total = await subject_records(
            connection, "carrier", CARRIER, limit=limit, offset=offset, exact_total=exact_total
        )
    return [r.position for r in records], total


async def test_a_subject_with_more_records_than_the_cap_reports_the_cap_and_that_counting_stopped(
    api: httpx.AsyncClient, store: Stores
) -> None:
    await insert_records(store, CAP + 5)
    await insert_records(store, 3, subject_id="C-OTHER", first=CAP + 6)
    first = (await api.get(f"/api/v1/custody/carrier/{CARRIER}", params={"limit": 50})).json()
    assert first["count"] == CAP  # not CAP + 5: counting stopped
    assert first["total_capped"] is True
    assert [r["position"] for r in first["data"]] == list(range(1, 51))
    last = (await api.get(f"/api/v1/custody/carrier/{CARRIER}", params={"limit": 50, "offset": CAP})).json()
    assert [r["position"] for r in last["data"]] == list(range(CAP + 1, CAP + 6))  # offset paging goes on past it
    assert (last["count"], last["total_capped"]) == (CAP, True)


async def test_a_short_first_page_is_its_own_exact_total(api: httpx.AsyncClient, store: Stores) -> None:
    await insert_records(store, 3)
    body = (await api.get(f"/api/v1/custody/carrier/{CARRIER}", params={"limit": 50})).json()
    assert (body["count"], body["total_capped"], len(body["data"])) == (3, False, 3)


async def test_below_the_cap_every_page_counts_exactly(store: Stores) -> None:
    await insert_records(store, 25)
    assert await page(store, limit=25) == (list(range(1, 26)), Total(25))  # a full first page that is the list
    assert await page(store, limit=10) == (list(range(1, 11)), Total(25))
    assert await page(store, limit=10, offset=20) == (list(range(21, 26)), Total(25))
    assert await page(store, limit=10, offset=30) == ([], Total(25))  # past the last page


async def test_an_exact_total_counts_past_the_cap_for_fhir(store: Stores) -> None:
    await insert_records(store, CAP + 5)
    positions, total = await page(store, limit=10, exact_total=True)
    assert (positions, total) == (list(range(1, 11)), Total(CAP + 5))


async def test_a_carriers_trips_select_its_records_and_their_total(store: Stores) -> None:
    # Transactions 1 and 2 alternate: three records each; trip (SITE, 1) holds the first, third and fifth.
    batch = [
        custody_event("carrier.dispatched", CARRIER, n, T0 + timedelta(minutes=n), transaction=1 + (n - 1) % 2)
        for n in range(1, 7)
    ]
    await store.events.commit_batch(batch)
    async with store.db.engine.connect() as connection:
        records, total = await subject_records(
            connection, "carrier", CARRIER, limit=2, offset=0, trips=[(SITE, 1), ("elsewhere", 2)]
        )
    assert [r.data["transaction"] for r in records] == [1, 1]
    assert total == Total(3)
