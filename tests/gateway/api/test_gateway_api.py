"""The HTTP API on its own (in-process ASGI, no broker): pages, filters and problem details that say what to do."""

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from contract import Subject, new_event
from gateway.api import create_app
from gateway.composition.stores import Stores
from gateway.settings import GatewaySettings
from gateway.storage.database import Database
from tests.auth import in_process

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
async def api(gateway_settings: GatewaySettings, store: Stores) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(gateway_settings, store) as client:
        yield client


async def seed(store: Stores, count: int) -> None:
    """`count` specimens, one event each, S000 the oldest; every third one rejected."""
    batch = []
    for n in range(count):
        kind = "specimen.rejected" if n % 3 == 0 else "specimen.scanned"
        event = new_event(
            kind,
            seq=n + 1,
            site="general-hospital",
            edge="core-lab-edge",
            device="sorter-1",
            subject=Subject(kind="specimen", id=f"S{n:03d}"),
            occurred_at=T0 + timedelta(seconds=n),
            data={"reason": "no_read", "lane": 9} if kind == "specimen.rejected" else {},
        )
        batch.append(event.model_copy(update={"received_at": event.occurred_at}))
    await store.events.commit_batch(batch)


async def test_specimens_page_most_recent_first_and_filter_by_status(api: httpx.AsyncClient, store: Stores) -> None:
    await seed(store, 12)
    page = (await api.get("/api/v1/specimens", params={"limit": 5, "offset": 2})).json()
    assert page["count"] == 12
    assert [s["barcode"] for s in page["data"]] == ["S009", "S008", "S007", "S006", "S005"]
    rejected = (await api.get("/api/v1/specimens", params={"status": "rejected"})).json()
    assert rejected["count"] == 4
    assert {s["reason"] for s in rejected["data"]} == {"no_read"}
    assert all("timeline" not in s for s in rejected["data"])


async def test_the_page_size_is_capped(api: httpx.AsyncClient, store: Stores) -> None:
    await seed(store, 501)
    page = (await api.get("/api/v1/specimens", params={"limit": 10_000})).json()
    assert (len(page["data"]), page["count"]) == (500, 501)


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/api/v1/specimens/S999", 404, "no event about specimen S999 has arrived yet"),
        ("/api/v1/specimens/bad%20barcode", 422, "barcode 'bad barcode' contains ' '"),
        ("/api/v1/specimens?status=lost", 422, "status: Input should be"),
        ("/api/v1/specimens?limit=0", 422, "limit: Input should be greater than or equal to 1"),
    ],
)
async def test_errors_are_problem_details_that_say_what_to_do(
    api: httpx.AsyncClient, path: str, status: int, says: str
) -> None:
    response = await api.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert says in problem["detail"]


async def test_health_without_a_broker_link_is_degraded(api: httpx.AsyncClient) -> None:
    response = await api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "database": True,
        "broker": False,
        "ingest": {
            "accepted": 0,
            "duplicates": 0,
            "rejected": {},
            "batches": 0,
            "acks_published": 0,
            "store_failures": 0,
        },
        "projection": {"backlog": 0, "failed": 0, "projected": 0},
        "telemetry": {
            "messages": 0,
            "readings": 0,
            "dropped": 0,
            "rejected": {},
            "batches": 0,
            "store_failures": 0,
            "downsample_passes": 0,
            "raw_folded": 0,
            "expired": 0,
        },
    }


async def aiosqlite_threads_finished(started_after: set[threading.Thread]) -> None:
    """Wait, while this test's event loop still runs, for the aiosqlite worker threads it started to end.

    aiosqlite stops a connection that failed to open with a future it does not await. If the test's loop closes
    before the worker thread resolves that future, the thread raises "Event loop is closed" during a later test,
    and pytest formatting that thread's exception next to its own assertion rewriting has crashed the interpreter
    (`SystemError: AST constructor recursion depth mismatch`, CPython 3.11.7).
    """
    for thread in set(threading.enumerate()) - started_after:
        if thread.name.endswith("(_connection_worker_thread)"):
            await asyncio.to_thread(thread.join, 10)


async def test_health_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    threads_before = set(threading.enumerate())
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")
    unreachable = Stores.build(Database(engine), GatewaySettings(data_dir=tmp_path))
    app = create_app(GatewaySettings(data_dir=tmp_path), unreachable)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
            response = await client.get("/healthz")
    finally:
        await unreachable.close()
        await aiosqlite_threads_finished(threads_before)
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["database"] is False
