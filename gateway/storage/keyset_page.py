"""One page of a list by keyset: the rows after a cursor (or an offset), the next cursor, and the list's total."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage.keyset import Keyset
from gateway.storage.totals import Total, total_of

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """A page, the cursor that continues after it (None: it is the last), and the whole list's total."""

    rows: list[T]
    total: Total
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Where a page starts and how long it is: after `cursor` (when given), then `offset` rows further."""

    limit: int
    offset: int = 0
    cursor: str | None = None
    exact_total: bool = False
    """Count every match (the callers that do arithmetic with the total, like FHIR's Task search splitting its
    offset between specimens and deliveries); the API's lists leave it False (`storage/totals.py`)."""


async def keyset_page(
    connection: AsyncConnection,
    query: sa.Select[Any],
    *,
    table: sa.Table,
    clauses: list[sa.ColumnElement[bool]],
    keyset: Keyset,
    scope: str,
    request: PageRequest,
    row: Callable[[Any], T],
) -> Page[T]:
    """`query` (selecting from `table`, filtered by `clauses`) paged in `keyset`'s order.

    One row past the limit is fetched to know whether a next page exists. `scope` names the filters: a cursor is
    refused (`InvalidCursorError`) on a list filtered otherwise than the one that made it.
    """
    statement = query.add_columns(*keyset.columns()).where(*clauses)
    if request.cursor is not None:
        statement = statement.where(keyset.after(keyset.decode(request.cursor, scope)))
    statement = statement.order_by(*keyset.order_by()).limit(request.limit + 1).offset(request.offset)
    fetched = list(await connection.execute(statement))
    rows = fetched[: request.limit]
    more = len(fetched) > request.limit
    next_cursor = keyset.encode(keyset.values_of(rows[-1]), scope) if more else None
    first = request.cursor is None and request.offset == 0
    whole_list = len(rows) if first and not more else None
    total = await total_of(connection, table, clauses, whole_list=whole_list, exact=request.exact_total)
    return Page([row(r) for r in rows], total, next_cursor)
