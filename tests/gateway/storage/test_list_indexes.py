"""Every list query, with its typical filters, is served by an index on PostgreSQL (issue #20: ten million specimens).

Each case runs the real query function (the lookup, a page of a list, a page after a cursor) and captures the SQL
it sends; each statement that reads a big table (specimens, events, the audit trail) is then EXPLAINed with its own
parameters, and its plan must read that table through an index: no Seq Scan. Page statements in an order an index
holds must also come out of the index in that order (no full Sort; an Incremental Sort of equal keys is fine).

How the planner's choice is made deterministic: the tables hold 30,000 rows each (enough that a scan is costed as
a scan) and are ANALYZEd, and the plans are made with `enable_seqscan = off`. Without it the planner rightly reads a
common filter (specimens that are resulted: most of them) by a sequential scan that stops at a LIMIT, which says
nothing about the indexes; with it, the planner still picks a Seq Scan where no index fits the filter and the order,
which is exactly what this test must catch.
"""

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy import event

from gateway.alerts.alert_store import AlertFilter
from gateway.auth.audit_trail import AuditFilter, listing
from gateway.composition.stores import Stores
from gateway.storage.keyset_page import PageRequest
from gateway.tracking.events import EventFilter
from gateway.tracking.specimens.store import SpecimenFilter
from tests.infra import real_infra

pytestmark = [pytest.mark.real_services, pytest.mark.asyncio(loop_scope="module")]

ROWS = 30_000
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
BIG_TABLES = ("specimens", "events", "access_audit", "alerts", "carrier_trips", "deliveries")

SEED = [
    # Specimens over the last 30,000 minutes: 5 % STAT, 40 wards, 6 categories, the last 300 open.
    """INSERT INTO specimens (barcode, status, site, device, first_seen_at, last_event_at, event_count, priority,
           category, ward, collected_at, resulted_at, target_s, due_at)
       SELECT 'M' || lpad(g::text, 9, '0'),
              CASE WHEN g > {rows} - 300 THEN (CASE WHEN g % 3 = 0 THEN 'in_transit' ELSE 'sorted' END)
                   ELSE 'resulted' END,
              'site-' || (g % 3 + 1), 'sorter-1', {now} - ({rows} - g) * interval '1 minute',
              {now} - ({rows} - g) * interval '1 minute' + interval '30 minutes', 5,
              CASE WHEN g % 20 = 0 THEN 'stat' ELSE 'routine' END,
              (ARRAY['biochemistry','cbc','coagulation','immunology','blood-gas','urinalysis'])[g % 6 + 1],
              'ward-' || (g % 40 + 1), {now} - ({rows} - g) * interval '1 minute',
              CASE WHEN g > {rows} - 300 THEN NULL
                   ELSE {now} - ({rows} - g) * interval '1 minute' + interval '2 hours' END,
              CASE WHEN g % 20 = 0 THEN 3600 ELSE 14400 END,
              {now} - ({rows} - g) * interval '1 minute'
                  + CASE WHEN g % 20 = 0 THEN interval '1 hour' ELSE interval '4 hours' END
       FROM generate_series(1, {rows}) AS g""",
    # Events: one scan per specimen, at one of 30 sorters.
    """INSERT INTO events (id, site, edge, seq, device, subject_kind, subject_id, type, occurred_at, received_at,
           body, historical)
       SELECT gen_random_uuid(), 'site-1', 'edge-1', g, 'sorter-' || (g % 30), 'specimen',
              'M' || lpad(g::text, 9, '0'), 'specimen.scanned', {now} - ({rows} - g) * interval '1 minute',
              {now} - ({rows} - g) * interval '1 minute', '{{}}', false
       FROM generate_series(1, {rows}) AS g""",
    # The audit trail: custody views by 5 people (thousands each, so that a page of one is worth an ordered scan).
    """INSERT INTO access_audit (at, actor, actor_kind, role, action, target, outcome)
       SELECT {now} - ({rows} - g) * interval '1 minute', 'user-' || (g % 5), 'user', 'lab',
              CASE WHEN g % 10 = 0 THEN 'login' ELSE 'custody.view' END, 'specimen M' || lpad(g::text, 9, '0'), 'ok'
       FROM generate_series(1, {rows}) AS g""",
    # Alerts: one per specimen that was late, all cleared but the last 100.
    """INSERT INTO alerts (id, open_key, kind, severity, state, site, subject_kind, subject_id, ward, message,
           details, raised_at, cleared_at, rules_version)
       SELECT gen_random_uuid(), CASE WHEN g > {rows} - 100 THEN 'specimen.overdue|site-1|' || g END,
              'specimen.overdue', (ARRAY['critical','warning','info'])[g % 3 + 1],
              CASE WHEN g > {rows} - 100 THEN 'raised' ELSE 'cleared' END, 'site-1', 'specimen',
              'M' || lpad(g::text, 9, '0'), 'ward-' || (g % 40 + 1), 'late', '{{}}',
              {now} - ({rows} - g) * interval '1 minute',
              CASE WHEN g > {rows} - 100 THEN NULL ELSE {now} - ({rows} - g) * interval '1 minute' END, 1
       FROM generate_series(1, {rows}) AS g""",
    # Carrier trips: 400 carriers, all arrived but the last 50.
    """INSERT INTO carrier_trips (site, carrier, transaction, device, status, priority, secure, specimens,
           dispatched_at, arrived_at, reroutes, last_event_at)
       SELECT 'site-1', 'C' || lpad((g % 400)::text, 3, '0'), g, 'tube-1',
              CASE WHEN g > {rows} - 50 THEN 'dispatched' ELSE 'arrived' END, 'routine', false, '[]',
              {now} - ({rows} - g) * interval '1 minute',
              CASE WHEN g > {rows} - 50 THEN NULL ELSE {now} - ({rows} - g) * interval '1 minute' END, 0,
              {now} - ({rows} - g) * interval '1 minute'
       FROM generate_series(1, {rows}) AS g""",
    # Deliveries: 10 robots, 40 wards, all stocked but the last 50.
    """INSERT INTO deliveries (delivery, site, status, ward, priority, items, robot, created_at, due_at,
           last_event_at, event_count)
       SELECT 'D' || lpad(g::text, 9, '0'), 'site-1', CASE WHEN g > {rows} - 50 THEN 'departed' ELSE 'stocked' END,
              'ward-' || (g % 40 + 1), 'routine', '[]', 'robot-' || (g % 10),
              {now} - ({rows} - g) * interval '1 minute',
              {now} - ({rows} - g) * interval '1 minute' + interval '1 hour',
              {now} - ({rows} - g) * interval '1 minute', 5
       FROM generate_series(1, {rows}) AS g""",
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stores]:
    """A PostgreSQL schema with `ROWS` specimens, events and audit entries, ANALYZEd (shared: read only)."""
    async with real_infra() as infra:
        store = await Stores.open(infra.gateway_settings(Path(tmp_path_factory.mktemp("indexes"))))
        try:
            async with store.db.engine.begin() as connection:
                for statement in SEED:
                    await connection.exec_driver_sql(statement.format(rows=ROWS, now=f"timestamptz '{NOW}'"))
                for table in BIG_TABLES:
                    await connection.execute(sa.text(f"ANALYZE {table}"))
            yield store
        finally:
            await store.close()


Query = Callable[[Stores], Awaitable[Any]]


async def _next_cursor(store: Stores, where: SpecimenFilter, *, by_due: bool = False) -> str:
    first = await store.specimens.listing(PageRequest(50), where=where, by_due=by_due)
    assert first.next_cursor is not None
    return first.next_cursor


async def _specimens_after_cursor(store: Stores, where: SpecimenFilter, by_due: bool = False) -> Any:
    cursor = await _next_cursor(store, where, by_due=by_due)
    return await store.specimens.listing(PageRequest(50, cursor=cursor), where=where, by_due=by_due)


async def _events_after_cursor(store: Stores, where: EventFilter) -> Any:
    first = await store.event_log.listing(where, PageRequest(50))
    return await store.event_log.listing(where, PageRequest(50, cursor=first.next_cursor))


async def _audit_after_cursor(store: Stores, where: AuditFilter) -> Any:
    first = await listing(store.db, where, PageRequest(50))
    return await listing(store.db, where, PageRequest(50, cursor=first.next_cursor))


async def _after(listing: Callable[..., Awaitable[Any]], where: Any) -> Any:
    first = await listing(where, PageRequest(50))
    return await listing(where, PageRequest(50, cursor=first.next_cursor))


async def _trips_after_cursor(store: Stores) -> Any:
    first = await store.carriers.listing(PageRequest(50))
    return await store.carriers.listing(PageRequest(50, cursor=first.next_cursor))


async def _deliveries_after_cursor(store: Stores) -> Any:
    first = await store.deliveries.listing(PageRequest(50))
    return await store.deliveries.listing(PageRequest(50, cursor=first.next_cursor))


def _page(where: SpecimenFilter, *, by_due: bool = False) -> Query:
    return lambda store: store.specimens.listing(PageRequest(50), where=where, by_due=by_due)


# (what the dashboard or an integration asks, the query, whether its page comes out of an index in order)
CASES: list[tuple[str, Query, bool]] = [
    ("one specimen by barcode", lambda s: s.specimens.get("M000012345"), False),
    (
        "STAT at risk",
        lambda s: s.specimens.listing(
            PageRequest(100), where=SpecimenFilter(priority="stat"), by_due=True, at_risk_at=NOW
        ),
        False,
    ),
    ("specimens, first page", _page(SpecimenFilter()), True),
    ("specimens, by status", _page(SpecimenFilter(status="resulted")), True),
    ("specimens, by ward", _page(SpecimenFilter(ward="ward-7")), True),
    ("specimens, one site", _page(SpecimenFilter(site="site-2")), True),
    ("specimens, by priority", _page(SpecimenFilter(priority="stat")), True),
    ("specimens, by category", _page(SpecimenFilter(category="cbc")), True),
    ("specimens, overdue first", _page(SpecimenFilter(overdue_at=NOW), by_due=True), False),
    ("specimens, in transit by due", _page(SpecimenFilter(status="in_transit"), by_due=True), False),
    ("specimens, after a cursor", lambda s: _specimens_after_cursor(s, SpecimenFilter()), True),
    ("specimens, one ward after a cursor", lambda s: _specimens_after_cursor(s, SpecimenFilter(ward="ward-7")), True),
    ("specimens, one site after a cursor", lambda s: _specimens_after_cursor(s, SpecimenFilter(site="site-2")), True),
    ("events, first page", lambda s: s.event_log.listing(EventFilter(), PageRequest(100)), True),
    (  # a subject's events are few: sorting them after the index found them is the cheaper plan
        "events, one subject",
        lambda s: s.event_log.listing(EventFilter(subject_kind="specimen", subject_id="M000000042"), PageRequest(100)),
        False,
    ),
    (
        "events, one device since",
        lambda s: s.event_log.listing(EventFilter(device="sorter-3", since=NOW - timedelta(days=3)), PageRequest(100)),
        True,
    ),
    (
        "events, by type",
        lambda s: s.event_log.listing(EventFilter(types=("specimen.scanned",)), PageRequest(100)),
        True,
    ),
    ("events, after a cursor", lambda s: _events_after_cursor(s, EventFilter()), True),
    ("audit trail, first page", lambda s: listing(s.db, AuditFilter(), PageRequest(100)), True),
    ("audit trail, one actor", lambda s: listing(s.db, AuditFilter(actor="user-3"), PageRequest(100)), True),
    ("audit trail, one action", lambda s: listing(s.db, AuditFilter(action="login"), PageRequest(100)), True),
    (  # one target's entries are few (sorted once found)
        "audit trail, one target",
        lambda s: listing(s.db, AuditFilter(target="specimen M000000042"), PageRequest(100)),
        False,
    ),
    ("audit trail, after a cursor", lambda s: _audit_after_cursor(s, AuditFilter(actor="user-3")), True),
    ("alerts, first page", lambda s: s.alerts.listing(AlertFilter(), PageRequest(50)), True),
    ("alerts, open", lambda s: s.alerts.listing(AlertFilter(state="open"), PageRequest(50)), False),
    (
        "alerts, one subject",
        lambda s: s.alerts.listing(AlertFilter(subject_kind="specimen", subject_id="M000000042"), PageRequest(50)),
        False,
    ),
    ("alerts, after a cursor", lambda s: _after(s.alerts.listing, AlertFilter()), True),
    ("alerts, for one role", lambda s: s.alerts.listing(AlertFilter(for_role="lab"), PageRequest(50)), False),
    (
        "alerts, open for one role",
        lambda s: s.alerts.listing(AlertFilter(state="open", for_role="lab"), PageRequest(50)),
        False,
    ),
    ("carrier trips, first page", lambda s: s.carriers.listing(PageRequest(50)), True),
    ("carrier trips, in transit", lambda s: s.carriers.listing(PageRequest(50), in_transit=True), False),
    ("carrier trips, after a cursor", lambda s: _trips_after_cursor(s), True),
    ("deliveries, first page", lambda s: s.deliveries.listing(PageRequest(50)), True),
    ("deliveries, in progress", lambda s: s.deliveries.listing(PageRequest(50), in_progress=True), False),
    ("deliveries, one ward", lambda s: s.deliveries.listing(PageRequest(50), ward="ward-7"), False),
    ("deliveries, one robot", lambda s: s.deliveries.listing(PageRequest(50), robot="robot-3"), False),
    ("deliveries, after a cursor", lambda s: _deliveries_after_cursor(s), True),
]


async def _statements(store: Stores, query: Query) -> list[tuple[str, Any]]:
    """The SELECTs on big tables that `query` sent, with their parameters."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and any(t in statement for t in BIG_TABLES):
            sent.append((statement, parameters))

    event.listen(store.db.engine.sync_engine, "before_cursor_execute", capture)
    try:
        await query(store)
    finally:
        event.remove(store.db.engine.sync_engine, "before_cursor_execute", capture)
    return sent


def _bounded(scan: dict[str, Any], nodes: list[dict[str, Any]]) -> bool:
    """The filter (or cursor) bounds an index range, or a bitmap heap scan is fed by one, or the scan reads an index
    in the list's order and stops at a LIMIT (the planner's choice for a common value: most specimens are resulted)."""
    if "Index Cond" in scan:
        return True
    if scan["Node Type"] in ("Index Scan", "Index Only Scan") and any(n["Node Type"] == "Limit" for n in nodes):
        return True
    return scan["Node Type"] == "Bitmap Heap Scan" and any(
        n["Node Type"] == "Bitmap Index Scan" and "Index Cond" in n for n in nodes
    )


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", ()) for node in _nodes(child))]


async def _plan(store: Stores, statement: str, parameters: Any) -> dict[str, Any]:
    async with store.db.engine.connect() as connection:
        await connection.exec_driver_sql("SET enable_seqscan = off")
        result = await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        raw = result.scalar_one()
        await connection.rollback()
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


@pytest.mark.parametrize(("name", "query", "ordered"), CASES, ids=[name for name, _, _ in CASES])
async def test_each_list_query_reads_its_big_table_through_an_index(
    seeded: Stores, name: str, query: Query, ordered: bool
) -> None:
    statements = await _statements(seeded, query)
    assert statements, f"{name}: no statement on {', '.join(BIG_TABLES)} was captured"
    for statement, parameters in statements:
        nodes = _nodes(await _plan(seeded, statement, parameters))
        scans = [n for n in nodes if n.get("Relation Name") in BIG_TABLES]
        read = [(n["Node Type"], n.get("Index Name"), n.get("Index Cond")) for n in scans]
        assert all(n["Node Type"] != "Seq Scan" for n in scans), f"{name}: {statement}\nreads {read}"
        if "WHERE" in statement.split():
            assert all(_bounded(n, nodes) for n in scans), f"{name}: {statement}\nreads {read}"
        is_page = "LIMIT" in statement and "count(" not in statement
        if ordered and is_page:
            sorts = [n["Node Type"] for n in nodes if n["Node Type"] == "Sort"]
            assert not sorts, f"{name}: the page is sorted, not read in index order: {statement}"


async def test_the_open_stat_list_reads_only_the_open_work(seeded: Stores) -> None:
    """The lab's STAT list (priority=stat&open=true&sort=due): from the index of the open specimens alone, never
    from the priority index of every STAT specimen there ever was."""
    stat_list = _page(SpecimenFilter(priority="stat", unresulted=True), by_due=True)
    statements = await _statements(seeded, stat_list)
    assert statements
    for statement, parameters in statements:
        nodes = _nodes(await _plan(seeded, statement, parameters))
        read = {n["Index Name"] for n in nodes if n.get("Index Name", "").startswith("ix_specimens")}
        assert read == {"ix_specimens_open_priority_due"}, f"{statement}\nreads {read}"
