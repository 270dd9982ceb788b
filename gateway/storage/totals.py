"""How many rows a list has, without counting the whole table: exact when few, else capped or estimated.

`count(*)` over ten million specimens reads ten million index entries for every page (811 ms at a million on
PostgreSQL, most of a page's time). A list's total is for people ("12 overdue", "10,000+ specimens"), so:

- a first page shorter than its limit is the whole list: its length is the total, with no second statement;
- an unfiltered list on PostgreSQL whose table the planner counts above `CAP` (`pg_class.reltuples`, kept by
  ANALYZE and autovacuum; one catalog row) reports that figure: `estimate`;
- otherwise the rows are counted up to `CAP` + 1 (`SELECT count(*) FROM (SELECT 1 ... LIMIT CAP + 1)`, an index
  scan of at most that many entries when the filters have their index): at most `CAP` is exact, beyond it the
  total is `CAP` with `capped` ("10,000 or more"). SQLite keeps no row estimate, so its unfiltered lists are
  counted (up to `CAP`) too.
"""

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

CAP = 10_000


@dataclass(frozen=True, slots=True)
class Total:
    """A list's total as the API reports it."""

    value: int
    estimate: bool = False
    """The planner's estimate of an unfiltered table's rows (PostgreSQL), not a count."""
    capped: bool = False
    """At least `value` (which is `CAP`): counting stopped there."""


async def total_of(
    connection: AsyncConnection,
    table: sa.Table,
    clauses: list[sa.ColumnElement[bool]],
    *,
    whole_list: int | None = None,
    exact: bool = False,
) -> Total:
    """The total of the rows of `table` that match `clauses`; `whole_list`: a page known to hold them all; `exact`:
    count them all, however many (what the list routes did before keyset paging)."""
    if whole_list is not None:
        return Total(whole_list)
    if exact:
        every = sa.select(sa.func.count()).select_from(table).where(*clauses)
        return Total(int((await connection.execute(every)).scalar_one()))
    if not clauses and connection.dialect.name == "postgresql":
        estimated = await _planner_rows(connection, table.name)
        if estimated is not None and estimated > CAP:
            return Total(estimated, estimate=True)
    bounded = sa.select(sa.literal(1)).select_from(table).where(*clauses).limit(CAP + 1).subquery()
    counted = int((await connection.execute(sa.select(sa.func.count()).select_from(bounded))).scalar_one())
    return Total(counted) if counted <= CAP else Total(CAP, capped=True)


async def _planner_rows(connection: AsyncConnection, table: str) -> int | None:
    """`pg_class.reltuples` of the table the search path finds (-1, never analysed, gives None)."""
    query = sa.text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:table)")
    found: Any = (await connection.execute(query, {"table": table})).scalar_one_or_none()
    if found is None or found < 0:
        return None
    return int(found)
