"""A list's total never counts the whole table: exact up to the cap, then capped (filtered) or the planner's
estimate (unfiltered, PostgreSQL). The cap is lowered to 10 here so that a few rows cross it."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from gateway.composition.stores import Stores
from gateway.storage import totals
from gateway.storage.tables import specimens
from gateway.storage.totals import Total, total_of

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def small_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(totals, "CAP", 10)


async def _fill(store: Stores, count: int, *, analyse: bool = False) -> None:
    rows = [
        {
            "barcode": f"T{n:03d}",
            "status": "sorted" if n % 2 else "resulted",
            "site": "site-1",
            "device": "sorter-1",
            "first_seen_at": T0,
            "last_event_at": T0,
            "event_count": 1,
        }
        for n in range(count)
    ]
    async with store.db.engine.begin() as connection:
        await connection.execute(sa.insert(specimens), rows)
        if analyse and connection.dialect.name == "postgresql":
            await connection.execute(sa.text("ANALYZE specimens"))


async def _total(store: Stores, *clauses: sa.ColumnElement[bool]) -> Total:
    async with store.db.engine.connect() as connection:
        return await total_of(connection, specimens, list(clauses))


async def test_up_to_the_cap_the_total_is_a_count(store: Stores) -> None:
    await _fill(store, 10)
    assert await _total(store) == Total(10)
    assert await _total(store, specimens.c.status == "sorted") == Total(5)


async def test_beyond_the_cap_a_filtered_total_says_at_least(store: Stores) -> None:
    await _fill(store, 30)
    assert await _total(store, specimens.c.status == "sorted") == Total(10, capped=True)


async def test_beyond_the_cap_an_unfiltered_total_is_the_planners_estimate_on_postgresql(store: Stores) -> None:
    await _fill(store, 30, analyse=True)
    expected = Total(30, estimate=True) if store.db.dialect == "postgresql" else Total(10, capped=True)
    assert await _total(store) == expected


async def test_a_table_never_analysed_is_counted_up_to_the_cap(store: Stores) -> None:
    await _fill(store, 30)  # reltuples is -1 (or 0) until ANALYZE or autovacuum has seen the table
    assert await _total(store) == Total(10, capped=True)


async def test_a_first_page_shorter_than_its_limit_is_the_whole_list(store: Stores) -> None:
    await _fill(store, 3)
    async with store.db.engine.connect() as connection:
        assert await total_of(connection, specimens, [], whole_list=3) == Total(3)


async def test_an_exact_total_counts_beyond_the_cap(store: Stores) -> None:
    # FHIR's Task search splits its offset between specimens and deliveries by their totals: it asks for exact ones.
    await _fill(store, 30, analyse=True)
    async with store.db.engine.connect() as connection:
        assert await total_of(connection, specimens, [], exact=True) == Total(30)
        assert await total_of(connection, specimens, [specimens.c.status == "sorted"], exact=True) == Total(15)
