"""The specimens list for one site: a lab's board in a network of sites lists its own specimens, with their total."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from contract import Subject, new_event
from gateway.composition.stores import Stores
from gateway.settings import GatewaySettings
from tests.auth import in_process

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
async def api(gateway_settings: GatewaySettings, store: Stores) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(gateway_settings, store) as client:
        yield client


async def seed(store: Stores, sites: dict[str, int]) -> None:
    """Each site's specimens scanned at its own sorter, one event each, the sites' scans interleaved in time."""
    batch = []
    for s, (site, count) in enumerate(sites.items()):
        for n in range(count):
            event = new_event(
                "specimen.scanned",
                seq=n + 1,
                site=site,
                edge=f"{site}-edge",
                device="sorter-1",
                subject=Subject(kind="specimen", id=f"S{s}{n:03d}"),
                occurred_at=T0 + timedelta(seconds=2 * n + s),
            )
            batch.append(event.model_copy(update={"received_at": event.occurred_at}))
    await store.events.commit_batch(batch)


@pytest.mark.parametrize(
    ("site", "expected"),
    [("north", ["S0002", "S0001", "S0000"]), ("south", ["S1001", "S1000"]), (None, None)],
)
async def test_the_list_filters_by_site(
    api: httpx.AsyncClient, store: Stores, site: str | None, expected: list[str] | None
) -> None:
    await seed(store, {"north": 3, "south": 2})
    page = (await api.get("/api/v1/specimens", params={"site": site} if site else {})).json()
    barcodes = [s["barcode"] for s in page["data"]]
    if expected is None:  # the network: every site's
        assert (page["count"], len(barcodes)) == (5, 5)
    else:
        assert (page["count"], barcodes) == (len(expected), expected)
        assert {s["location"]["site"] for s in page["data"]} == {site}


async def test_a_cursor_stays_within_its_site(api: httpx.AsyncClient, store: Stores) -> None:
    await seed(store, {"north": 3, "south": 2})
    first = (await api.get("/api/v1/specimens", params={"site": "north", "limit": 2})).json()
    rest = await api.get("/api/v1/specimens", params={"site": "north", "limit": 2, "cursor": first["next_cursor"]})
    assert [s["barcode"] for s in rest.json()["data"]] == ["S0000"]
