"""The deliveries table: re-projected in the batch's transaction from all events of each touched delivery; queried.

A delivery's events are its own (subject kind `delivery`) and the cabinet restocks that name it (`data.delivery`).
Restocks are looked for from a day before the delivery's first event on, so that the search stays an index range
on (type, occurred_at) while depending only on the stored events, never on the order they came in.
"""

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, get_args

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contract import Event
from gateway.projection.transaction import Tx
from gateway.rules.pharmacy import DeliveryRules
from gateway.storage.chunks import chunks
from gateway.storage.keyset import Keyset, SortKey
from gateway.storage.keyset_page import Page, PageRequest, keyset_page
from gateway.storage.stored_event import StoredEvent, stored_event
from gateway.storage.tables import deliveries, events
from gateway.tracking.deliveries.fold import (
    DONE,
    RESTOCKED,
    DeliveryLine,
    DeliveryRow,
    DeliveryStatus,
    DeliveryStep,
    delivery_steps,
    fold_delivery,
)
from gateway.tracking.deliveries.search import DeliverySearch

RESTOCK_LOOKBACK = timedelta(days=1)
"""How long before a delivery's first event a restock naming it still counts (clocks of two systems disagree)."""

_named_delivery = events.c.body[("data", "delivery")].as_string()


def _restock_event(row: Any) -> StoredEvent:
    """A restock as the delivery fold wants it: its cabinet (the subject) in its data."""
    event = stored_event(row)
    return replace(event, data={**event.data, "cabinet": row.subject_id})


async def delivery_events(connection: AsyncConnection, ids: Sequence[str]) -> dict[str, list[StoredEvent]]:
    """Each delivery's own events and the restocks naming it (within the look-back of its first event)."""
    found: dict[str, list[StoredEvent]] = defaultdict(list)
    for chunk in chunks(ids):
        query = sa.select(events).where(events.c.subject_kind == "delivery", events.c.subject_id.in_(chunk))
        for row in await connection.execute(query):
            found[row.subject_id].append(stored_event(row))
        firsts = {d: min(e.occurred_at for e in found[d]) for d in chunk if found[d]}
        if not firsts:
            continue
        restocks = sa.select(events).where(
            events.c.type == RESTOCKED,
            events.c.occurred_at >= min(firsts.values()) - RESTOCK_LOOKBACK,
            _named_delivery.in_(list(firsts)),
        )
        for row in await connection.execute(restocks):
            event = _restock_event(row)
            named = event.data["delivery"]
            if event.occurred_at >= firsts[named] - RESTOCK_LOOKBACK:
                found[named].append(event)
    return found


def _row_values(row: DeliveryRow) -> dict[str, Any]:
    values = dataclasses.asdict(row)
    values["items"] = list(values["items"])  # of {gtin, quantity}
    return values


def delivery_row(row: Any) -> DeliveryRow:
    values = {k: v for k, v in row._asdict().items() if not k.startswith("_k")}  # not the keyset's labels
    values["items"] = tuple(DeliveryLine(i["gtin"], i["quantity"]) for i in values["items"])
    return DeliveryRow(**values)


async def reproject_deliveries(
    connection: AsyncConnection, insert: Any, rules: DeliveryRules, ids: Sequence[str]
) -> None:
    """Fold every event of each delivery again and store the rows."""
    found = await delivery_events(connection, ids)
    rows = [row for d in ids if (row := fold_delivery(d, found.get(d, ()), rules)) is not None]
    if not rows:
        return
    statement = insert(deliveries)
    upsert = statement.on_conflict_do_update(
        index_elements=["delivery"],
        set_={c.name: statement.excluded[c.name] for c in deliveries.columns if c.name != "delivery"},
    )
    for chunk in chunks(rows):
        await connection.execute(upsert, [_row_values(r) for r in chunk])


async def project_deliveries(tx: Tx, new: Sequence[Event]) -> None:
    """The projector for deliveries: their own events, and cabinet restocks that name one."""
    touched = {e.subject.id for e in new if e.subject.kind == "delivery"}
    touched |= {named for e in new if e.type == RESTOCKED and (named := getattr(e.data, "delivery", None))}
    if touched:
        await reproject_deliveries(tx.connection, tx.insert, tx.rules.deliveries, sorted(touched))


OPEN = sorted(set(get_args(DeliveryStatus)) - DONE)
"""The statuses of a delivery in progress, named (an index range each) rather than "not done" (a scan of all)."""

RECENT = Keyset(
    "deliveries.recent",
    (SortKey(deliveries.c.last_event_at, "datetime", descending=True), SortKey(deliveries.c.delivery, "str")),
)
"""The most recently active first."""


async def list_deliveries(
    connection: AsyncConnection, *, limit: int, offset: int, **filters: Any
) -> tuple[list[DeliveryRow], int]:
    """One page of deliveries and how many match (`delivery_page` with its `filters`, counted exactly)."""
    page = await delivery_page(connection, PageRequest(limit, offset, exact_total=True), **filters)
    return page.rows, page.total.value


async def delivery_page(
    connection: AsyncConnection,
    request: PageRequest,
    *,
    status: str | None = None,
    ward: str | None = None,
    wards: tuple[str, ...] | None = None,
    robot: str | None = None,
    in_progress: bool | None = None,
    overdue_at: datetime | None = None,
    ids: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
    updated_since: datetime | None = None,
    updated_before: datetime | None = None,
    search: DeliverySearch | None = None,
) -> Page[DeliveryRow]:
    """One page of deliveries by keyset, the most recently active first, and the total (`storage/totals.py`).

    `in_progress` True: not yet handed over, stocked or failed (False: the others). `overdue_at`: only those
    still in progress whose due time has passed at that instant. `wards`: only deliveries for one of these wards.
    `ids`, `statuses`: only these deliveries, statuses. `updated_since` / `updated_before`: only those whose latest
    event happened at or after / before these instants. `search`: only those it matches (`DeliverySearch`).
    """
    c = deliveries.c
    where: list[sa.ColumnElement[bool]] = [
        column == value for column, value in ((c.status, status), (c.ward, ward), (c.robot, robot)) if value is not None
    ]
    for column, values in ((c.ward, wards), (c.delivery, ids), (c.status, statuses)):
        if values is not None:
            where.append(column.in_(values))
    if updated_since is not None:
        where.append(c.last_event_at >= updated_since)
    if updated_before is not None:
        where.append(c.last_event_at < updated_before)
    if in_progress is not None:
        where.append(c.status.in_(OPEN) if in_progress else c.status.in_(sorted(DONE)))
    if overdue_at is not None:
        where += [c.status.in_(OPEN), c.due_at < overdue_at]
    if search is not None:
        where.append(search.clause())
    scope = repr((status, ward, wards, robot, in_progress, overdue_at is not None, ids, statuses))
    scope += repr((updated_since, updated_before, search))
    return await keyset_page(
        connection,
        sa.select(deliveries),
        table=deliveries,
        clauses=where,
        keyset=RECENT,
        scope=scope,
        request=request,
        row=delivery_row,
    )


async def find_delivery(connection: AsyncConnection, delivery: str) -> tuple[DeliveryRow, list[DeliveryStep]] | None:
    """The delivery's row and its steps in the order they happened; None when nothing about it arrived."""
    row = (await connection.execute(sa.select(deliveries).where(deliveries.c.delivery == delivery))).first()
    if row is None:
        return None
    found = await delivery_events(connection, [delivery])
    return delivery_row(row), delivery_steps(delivery, found.get(delivery, ()))
