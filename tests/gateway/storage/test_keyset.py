"""Keyset paging: walking a list by cursors visits every row once, in the list's order, on SQLite and PostgreSQL;
a cursor that is not this list's is refused with the reason."""

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.composition.stores import Stores
from gateway.storage.keyset import InvalidCursorError, Keyset, SortKey
from gateway.storage.keyset_page import PageRequest
from gateway.storage.tables import specimens
from gateway.tracking.specimens.store import DUE, RECENT, SpecimenFilter

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def _row(n: int, *, last_minute: int, due_minute: int | None, priority: str | None) -> dict[str, Any]:
    return {
        "barcode": f"K{n:04d}",
        "status": "sorted" if n % 2 else "in_transit",
        "site": "site-1",
        "device": "sorter-1",
        "first_seen_at": T0,
        "last_event_at": T0 + timedelta(minutes=last_minute),
        "event_count": 1,
        "priority": priority,
        "due_at": None if due_minute is None else T0 + timedelta(minutes=due_minute),
    }


# Ties on purpose: several specimens share a last event and a due time; some have no due time or priority.
ROWS = [
    _row(
        n,
        last_minute=n // 3,
        due_minute=None if n % 5 == 0 else n // 4,
        priority=(None, "stat", "urgent", "routine")[n % 4],
    )
    for n in range(37)
]


@pytest.fixture
async def filled(store: Stores) -> Stores:
    async with store.db.engine.begin() as connection:
        await connection.execute(sa.insert(specimens), ROWS)
    return store


async def _walk(store: Stores, where: SpecimenFilter, *, by_due: bool, limit: int) -> tuple[list[str], set[int]]:
    """Every barcode, page after page by cursor, and the totals each page reported."""
    seen: list[str] = []
    totals: set[int] = set()
    cursor: str | None = None
    while True:
        page = await store.specimens.listing(PageRequest(limit, cursor=cursor), where=where, by_due=by_due)
        seen.extend(row.barcode for row in page.rows)
        totals.add(page.total.value)
        if page.next_cursor is None:
            return seen, totals
        cursor = page.next_cursor


def _recent(rows: list[dict[str, Any]]) -> list[str]:
    by_barcode = sorted(rows, key=lambda r: r["barcode"])
    return [r["barcode"] for r in sorted(by_barcode, key=lambda r: r["last_event_at"], reverse=True)]


def _due(rows: list[dict[str, Any]]) -> list[str]:
    rank = {"stat": 0, "urgent": 1}

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        due = r["due_at"]
        return (due is None, due or T0, rank.get(r["priority"], 2), r["barcode"])

    return [r["barcode"] for r in sorted(rows, key=key)]


@pytest.mark.parametrize("limit", [1, 4, 36, 37, 50])
@pytest.mark.parametrize(("by_due", "expected"), [(False, _recent), (True, _due)], ids=["recent", "due"])
async def test_cursors_visit_every_specimen_once_in_the_lists_order(
    filled: Stores, by_due: bool, expected: Any, limit: int
) -> None:
    seen, totals = await _walk(filled, SpecimenFilter(), by_due=by_due, limit=limit)
    assert seen == expected(ROWS)
    assert totals == {len(ROWS)}


async def test_a_filtered_walk_keeps_its_filter(filled: Stores) -> None:
    seen, totals = await _walk(filled, SpecimenFilter(status="sorted"), by_due=True, limit=5)
    sorted_rows = [r for r in ROWS if r["status"] == "sorted"]
    assert seen == _due(sorted_rows)
    assert totals == {len(sorted_rows)}


async def test_offset_still_pages_and_offers_the_cursor_after_its_page(filled: Stores) -> None:
    page = await filled.specimens.listing(PageRequest(5, offset=10), where=SpecimenFilter())
    after = await filled.specimens.listing(PageRequest(5, cursor=page.next_cursor), where=SpecimenFilter())
    assert [r.barcode for r in page.rows + after.rows] == _recent(ROWS)[10:20]


async def test_the_last_page_has_no_next_cursor(filled: Stores) -> None:
    page = await filled.specimens.listing(PageRequest(len(ROWS)), where=SpecimenFilter())
    assert (len(page.rows), page.next_cursor, page.total.value) == (len(ROWS), None, len(ROWS))


async def test_a_cursor_is_refused_on_another_order_or_other_filters(filled: Stores) -> None:
    page = await filled.specimens.listing(PageRequest(3), where=SpecimenFilter(status="sorted"))
    with pytest.raises(InvalidCursorError, match="another list or sort order"):
        await filled.specimens.listing(
            PageRequest(3, cursor=page.next_cursor), where=SpecimenFilter(status="sorted"), by_due=True
        )
    with pytest.raises(InvalidCursorError, match="other filters"):
        await filled.specimens.listing(PageRequest(3, cursor=page.next_cursor), where=SpecimenFilter())


def _forged(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()


SCOPE = repr(SpecimenFilter())


@pytest.mark.parametrize(
    ("cursor", "reason"),
    [
        ("not base64!", "not one this gateway made"),
        (base64.urlsafe_b64encode(b"\xff\xfe").decode(), "not one this gateway made"),
        (_forged([1, 2]), "not one this gateway made"),
        (_forged({"v": 99, "l": "specimens.recent", "k": []}), "or an older one"),
        (_forged({"v": 1, "l": "specimens.recent", "f": "x", "k": []}), "other filters"),
        (_forged({"v": 1, "l": "specimens.due", "f": "x", "k": []}), "another list or sort order"),
    ],
)
def test_a_damaged_cursor_says_what_is_wrong(cursor: str, reason: str) -> None:
    with pytest.raises(InvalidCursorError, match=reason):
        RECENT.decode(cursor, SCOPE)


def _with_keys(keyset: Keyset, keys: list[Any]) -> str:
    """A cursor of `keyset` whose sort key is replaced by `keys` (as a client that edits one would)."""
    good = keyset.encode([T0, "a"] if keyset is RECENT else [None, 2, "a"], SCOPE)
    body = json.loads(base64.urlsafe_b64decode(good + "=" * (-len(good) % 4)))
    return _forged({**body, "k": keys})


@pytest.mark.parametrize(
    ("keyset", "keys"),
    [
        (RECENT, ["yesterday", "a"]),
        (RECENT, ["2026-12-06T08:00:00", "a"]),  # no zone
        (RECENT, [None, "a"]),  # last_event_at is never NULL
        (RECENT, [T0.isoformat(), 7]),
        (RECENT, [T0.isoformat()]),
        (DUE, [None, "2", "a"]),
        (DUE, [None, True, "a"]),
    ],
)
def test_an_edited_sort_key_is_refused(keyset: Keyset, keys: list[Any]) -> None:
    with pytest.raises(InvalidCursorError):
        keyset.decode(_with_keys(keyset, keys), SCOPE)


def test_a_cursor_round_trips_its_sort_key() -> None:
    keys = (T0, "K0001")
    assert RECENT.decode(RECENT.encode(keys, SCOPE), SCOPE) == keys
    assert DUE.decode(DUE.encode((None, 2, "K0002"), SCOPE), SCOPE) == (None, 2, "K0002")


def test_a_cursor_is_url_safe() -> None:
    cursor = RECENT.encode((T0, "K/+?&= 01"), SCOPE)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_a_keyset_sorts_nulls_last_whichever_the_direction() -> None:
    column = sa.column("x", sa.Integer())
    keyset = Keyset("t", (SortKey(column, "int", descending=True, nullable=True), SortKey(sa.column("id"), "int")))
    order = [str(term) for term in keyset.order_by()]
    assert order == ["x IS NULL", "x DESC", "id"]


async def test_at_risk_specimens_walk_by_cursor_as_one_page_would_list_them(store: Stores) -> None:
    now = T0 + timedelta(hours=1)
    rows = []
    for n in range(23):  # open, collected a minute ago: due in minutes is at risk, due in ten hours on track
        row = _row(n, last_minute=60, due_minute=60 + (n % 7 if n % 3 else 600), priority=("stat", None)[n % 2])
        rows.append({**row, "collected_at": now - timedelta(minutes=1), "target_s": 3600})
    async with store.db.engine.begin() as connection:
        await connection.execute(sa.insert(specimens), rows)
    whole = await store.specimens.listing(PageRequest(100), where=SpecimenFilter(), by_due=True, at_risk_at=now)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await store.specimens.listing(
            PageRequest(4, cursor=cursor), where=SpecimenFilter(), by_due=True, at_risk_at=now
        )
        seen.extend(r.barcode for r in page.rows)
        assert page.total == whole.total
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert 4 < len(whole.rows) < len(rows)  # some at risk, some on track: the filter is at work
    assert seen == [r.barcode for r in whole.rows]
