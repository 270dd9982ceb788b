"""Alerts, carrier trips and deliveries walked by cursor list every row once, as one long page lists them (ties in
every sort key on purpose), on SQLite and PostgreSQL."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.alerts.alert_store import AlertFilter
from gateway.composition.stores import Stores
from gateway.storage.keyset_page import Page, PageRequest
from gateway.storage.tables import alerts, carrier_trips, deliveries

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
N = 17


def _alerts() -> list[dict[str, Any]]:
    return [
        {
            "id": uuid.UUID(int=n),
            "kind": "specimen.overdue",
            "severity": ("critical", "warning", "info")[n % 3],
            "state": "raised",
            "site": "site-1",
            "subject_kind": "specimen",
            "subject_id": f"S{n}",
            "message": "late",
            "details": {},
            "raised_at": T0 + timedelta(minutes=n // 4),
            "rules_version": 1,
        }
        for n in range(N)
    ]


def _trips() -> list[dict[str, Any]]:
    return [
        {
            "site": f"site-{n % 2}",
            "carrier": f"C{n % 3}",
            "transaction": n // 3,
            "device": "tube-1",
            "status": "arrived",
            "secure": False,
            "specimens": [],
            "dispatched_at": None if n % 5 == 0 else T0 + timedelta(minutes=n // 4),
            "reroutes": 0,
            "last_event_at": T0 + timedelta(minutes=n // 2),
        }
        for n in range(N)
    ]


def _deliveries() -> list[dict[str, Any]]:
    return [
        {
            "delivery": f"D{n:03d}",
            "site": "site-1",
            "status": "stocked",
            "items": [],
            "last_event_at": T0 + timedelta(minutes=n // 4),
            "event_count": 1,
        }
        for n in range(N)
    ]


Listing = Callable[[Stores, PageRequest], Awaitable[Page[Any]]]
LISTS: list[tuple[sa.Table, Callable[[], list[dict[str, Any]]], Listing]] = [
    (alerts, _alerts, lambda s, r: s.alerts.listing(AlertFilter(), r)),
    (carrier_trips, _trips, lambda s, r: s.carriers.listing(r)),
    (deliveries, _deliveries, lambda s, r: s.deliveries.listing(r)),
]


@pytest.mark.parametrize(("table", "rows", "listing"), LISTS, ids=["alerts", "carrier trips", "deliveries"])
async def test_a_walk_by_cursor_lists_what_one_page_lists(
    store: Stores, table: sa.Table, rows: Callable[[], list[dict[str, Any]]], listing: Listing
) -> None:
    async with store.db.engine.begin() as connection:
        await connection.execute(sa.insert(table), rows())
    whole = await listing(store, PageRequest(100))
    seen: list[Any] = []
    cursor: str | None = None
    while True:
        page = await listing(store, PageRequest(3, cursor=cursor))
        seen.extend(page.rows)
        assert page.total.value == N
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(whole.rows) == N
    assert seen == whole.rows
