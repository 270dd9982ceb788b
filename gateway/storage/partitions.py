"""PostgreSQL's monthly partitions of events, custody log and telemetry: made ahead of time, found, told apart.

Migration 0014 partitions the three tables by a timestamp (`PARTITIONED`), one partition per UTC month named
`<table>_pYYYYMM`, plus `<table>_default` for a row no month holds. The maintenance pass
(`gateway.storage.retention`) keeps the next months made before rows arrive for them; a row that reached the
default partition because its month did not exist yet moves into the month when it is made.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

PARTITIONED: dict[str, str] = {"events": "occurred_at", "custody_log": "recorded_at", "telemetry": "at"}
"""Each partitioned table and its partition key, as migration 0014 made them."""

MAKE_LOCK_TIMEOUT = "5s"
"""How long making a month waits for the table (writers wait behind it meanwhile); past it, the next pass tries."""

_MONTHLY = re.compile(r"_p(\d{4})(\d{2})$")


def month_start(at: datetime, *, plus: int = 0) -> datetime:
    """The first instant (UTC) of `at`'s month, `plus` months on."""
    at = at.astimezone(UTC)
    index = at.year * 12 + at.month - 1 + plus
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Month:
    """One monthly partition of `table`: rows with `start <= key < end`."""

    table: str
    start: datetime

    @property
    def end(self) -> datetime:
        return month_start(self.start, plus=1)

    @property
    def name(self) -> str:
        return f"{self.table}_p{self.start:%Y%m}"

    @property
    def bounds(self) -> str:
        """The `FOR VALUES` clause (UTC literals: the session's time zone does not move them)."""
        return f"FROM ('{self.start:%Y-%m-%d} 00:00:00+00') TO ('{self.end:%Y-%m-%d} 00:00:00+00')"


async def months(connection: AsyncConnection, table: str) -> list[Month]:
    """The monthly partitions attached to `table`, oldest first (the default partition is not one)."""
    rows = await connection.execute(
        sa.text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:table)"
        ),
        {"table": f'"{table}"'},
    )
    found = []
    for (name,) in rows:
        match = _MONTHLY.search(name)
        if match and name == f"{table}{match.group(0)}":
            found.append(Month(table, datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC)))
    return sorted(found, key=lambda month: month.start)


async def is_partitioned(connection: AsyncConnection, table: str) -> bool:
    kind = await connection.scalar(
        sa.text("SELECT relkind::text FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}
    )
    return bool(kind == "p")


async def lock_maintenance(connection: AsyncConnection) -> None:
    """One maintenance pass per schema at a time (replicas run it too); released when the transaction ends."""
    await connection.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtext('wardlink-partitions:' || current_schema()))")
    )


async def make_ahead(connection: AsyncConnection, table: str, *, now: datetime, ahead: int) -> list[Month]:
    """Make this month's partition and the next `ahead` months' that are missing; the months made.

    A month is made beside the table and attached once the default partition's rows of that month are in it
    (PostgreSQL refuses a new partition whose rows sit in the default one). Writers wait while a month is made (the
    table is locked against them until the transaction ends): a row stored between the move and the attach would
    stop the attach, and one routed to the default partition before it would be refused after it.
    """
    key = PARTITIONED[table]
    have = {month.start for month in await months(connection, table)}
    wanted = [Month(table, month_start(now, plus=plus)) for plus in range(ahead + 1)]
    if all(month.start in have for month in wanted):
        return []
    # Not behind a long reader for long: writers queue behind this lock; a pass that cannot have it soon tries again.
    await connection.execute(sa.text(f"SET LOCAL lock_timeout = '{MAKE_LOCK_TIMEOUT}'"))
    await connection.execute(sa.text(f'LOCK TABLE "{table}" IN SHARE ROW EXCLUSIVE MODE'))
    made = []
    for month in wanted:
        if month.start in have:
            continue
        name = month.name
        await connection.execute(
            sa.text(f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
        )
        await connection.execute(
            sa.text(
                f'WITH moved AS (DELETE FROM "{table}_default" WHERE "{key}" >= :start AND "{key}" < :end '  # noqa: S608
                f'RETURNING *) INSERT INTO "{name}" SELECT * FROM moved'
            ),
            {"start": month.start, "end": month.end},
        )
        await connection.execute(sa.text(f'ALTER TABLE "{table}" ATTACH PARTITION "{name}" FOR VALUES {month.bounds}'))
        made.append(month)
    return made


def expired(found: list[Month], before: datetime) -> list[Month]:
    """The months wholly older than `before`: not one of their rows is as recent as `before`."""
    return [month for month in found if month.end <= before]
