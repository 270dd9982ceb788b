"""Time partitions on PostgreSQL: events by `occurred_at`, the custody log by `recorded_at`, telemetry by `at`.

Each table becomes a partitioned table (`PARTITION BY RANGE`) with one partition per UTC month, named
`<table>_pYYYYMM`, from the month of its oldest row (at most 20 years back) to three months ahead, and a
`<table>_default` partition for a row outside them (a device clock years off). The rows are copied, counted
(the migration stops if one is missing), the old table dropped and the new one takes its name; its indexes,
owned sequences, grants and owner are recreated from what the old table had, so columns or indexes that a
revision before this one added come along without this file naming them.

PostgreSQL requires the partition key in every primary key and unique constraint of a partitioned table, so
`events` is unique by (id, occurred_at), `custody_log` by (position, recorded_at) and (event_id, recorded_at);
telemetry's key already has `at`. What keeps an event id stored once is in `gateway.ingest.event_store` (a resend
carries the same `occurred_at`; the ids of a batch are looked up before the insert). On SQLite nothing changes:
retention deletes rows there (`gateway.storage.retention`).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES: dict[str, str] = {"events": "occurred_at", "custody_log": "recorded_at", "telemetry": "at"}
"""Each partitioned table and its partition key (a timestamptz column)."""
AHEAD_MONTHS = 3
OLDEST_YEARS = 20
"""Rows older than this many years go to the default partition instead of getting a month each."""


def _month(year: int, month: int) -> datetime:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=UTC)


def _partition_ddl(table: str, start: datetime) -> str:
    end = _month(start.year, start.month + 1)
    return (
        f'CREATE TABLE "{table}_p{start:%Y%m}" PARTITION OF "{table}__partitioned" '
        f"FOR VALUES FROM ('{start:%Y-%m-%d} 00:00:00+00') TO ('{end:%Y-%m-%d} 00:00:00+00')"
    )


def _months(bind: sa.Connection, table: str, key: str) -> list[datetime]:
    """Every month from the oldest row's (no older than `OLDEST_YEARS`) through `AHEAD_MONTHS` after this one."""
    now = datetime.now(UTC)
    oldest = bind.execute(
        sa.text(f'SELECT min("{key}") FROM "{table}" WHERE "{key}" >= :floor'),  # noqa: S608 (our table names)
        {"floor": _month(now.year - OLDEST_YEARS, now.month)},
    ).scalar()
    first = oldest.astimezone(UTC) if oldest is not None and oldest < now else now
    months, at = [], _month(first.year, first.month)
    last = _month(now.year, now.month + AHEAD_MONTHS)
    while at <= last:
        months.append(at)
        at = _month(at.year, at.month + 1)
    return months


def _key_constraints(bind: sa.Connection, oid: int) -> list[tuple[str, str, list[str]]]:
    """(name, 'p' or 'u', columns) of the primary key and unique constraints."""
    rows = bind.execute(
        sa.text(
            "SELECT con.conname, con.contype::text, array_agg(a.attname ORDER BY k.ord) "
            "FROM pg_constraint con CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord) "
            "JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum "
            "WHERE con.conrelid = :oid AND con.contype IN ('p', 'u') GROUP BY con.conname, con.contype"
        ),
        {"oid": oid},
    )
    return [(name, kind, list(columns)) for name, kind, columns in rows]


def _plain_indexes(bind: sa.Connection, oid: int) -> list[str]:
    """The definitions of the indexes that back no constraint; a unique one cannot follow without the key."""
    rows = bind.execute(
        sa.text(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), i.indisunique FROM pg_index i "
            "WHERE i.indrelid = :oid AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
        ),
        {"oid": oid},
    ).all()
    unique = [name for name, _, is_unique in rows if is_unique]
    if unique:
        raise RuntimeError(f"unique index(es) {unique} need the partition key: make them constraints that include it")
    return [definition for _, definition, _ in rows]


def _owned_sequences(bind: sa.Connection, oid: int) -> list[tuple[str, str]]:
    rows = bind.execute(
        sa.text(
            "SELECT s.oid::regclass::text, a.attname FROM pg_depend d "
            "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
            "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
            "WHERE d.refobjid = :oid AND d.classid = 'pg_class'::regclass AND d.deptype = 'a'"
        ),
        {"oid": oid},
    )
    return [(sequence, column) for sequence, column in rows]


def _grants(bind: sa.Connection, oid: int) -> list[str]:
    rows = bind.execute(
        sa.text(
            "SELECT coalesce(quote_ident(r.rolname), 'PUBLIC'), a.privilege_type, a.is_grantable "
            "FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
            "WHERE c.oid = :oid AND a.grantee <> c.relowner"
        ),
        {"oid": oid},
    )
    return [
        f"{privilege} TO {grantee}{' WITH GRANT OPTION' if grantable else ''}" for grantee, privilege, grantable in rows
    ]


def _partition(bind: sa.Connection, table: str, key: str) -> None:
    oid, kind, owner, identity = bind.execute(
        sa.text(
            "SELECT c.oid, c.relkind::text, pg_get_userbyid(c.relowner), "
            "EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attidentity <> '') "
            "FROM pg_class c WHERE c.oid = to_regclass(:table)"
        ),
        {"table": f'"{table}"'},
    ).one()
    if kind == "p":
        return  # partitioned already (a database made by a later copy of this revision)
    if identity:
        raise RuntimeError(f"{table} has an identity column, which this migration does not carry over")
    constraints = _key_constraints(bind, oid)
    indexes = _plain_indexes(bind, oid)
    sequences = _owned_sequences(bind, oid)
    grants = _grants(bind, oid)

    new = f"{table}__partitioned"
    bind.execute(
        sa.text(
            f'CREATE TABLE "{new}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED '
            f'INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE ("{key}")'
        )
    )
    for start in _months(bind, table, key):
        bind.execute(sa.text(_partition_ddl(table, start)))
    bind.execute(sa.text(f'CREATE TABLE "{table}_default" PARTITION OF "{new}" DEFAULT'))
    # The names below are this file's own constants, never input.
    bind.execute(sa.text(f'INSERT INTO "{new}" SELECT * FROM "{table}"'))  # noqa: S608
    before = bind.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one()  # noqa: S608
    after = bind.execute(sa.text(f'SELECT count(*) FROM "{new}"')).scalar_one()  # noqa: S608
    if before != after:
        raise RuntimeError(f"{table}: {before} rows before partitioning, {after} after; nothing was changed")
    for sequence, column in sequences:
        bind.execute(sa.text(f'ALTER SEQUENCE {sequence} OWNED BY "{new}"."{column}"'))
    bind.execute(sa.text(f'DROP TABLE "{table}"'))
    bind.execute(sa.text(f'ALTER TABLE "{new}" RENAME TO "{table}"'))
    for name, constraint_kind, columns in constraints:
        keyed = ", ".join(f'"{c}"' for c in [*columns, *([key] if key not in columns else [])])
        kind_sql = "PRIMARY KEY" if constraint_kind == "p" else "UNIQUE"
        bind.execute(sa.text(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {kind_sql} ({keyed})'))
    for definition in indexes:  # "CREATE INDEX ix ON schema.table ...": the name is the new table's now
        bind.execute(sa.text(definition))
    for grant in grants:
        privilege, grantee = grant.split(" TO ", 1)
        bind.execute(sa.text(f'GRANT {privilege} ON "{table}" TO {grantee}'))
    if owner != bind.execute(sa.text("SELECT current_user")).scalar_one():
        bind.execute(sa.text(f'ALTER TABLE "{table}" OWNER TO "{owner}"'))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite has no partitions: retention deletes rows in batches instead
    for table, key in TABLES.items():
        _partition(bind, table, key)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    raise NotImplementedError(
        "0014 does not go back: restore the backup taken before the upgrade (partitions cannot be un-made in place "
        "without copying every row again)"
    )
