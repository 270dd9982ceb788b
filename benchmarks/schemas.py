"""A throw-away PostgreSQL schema per measurement, so runs never see each other's rows."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

REAL_DB = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
"""The PostgreSQL the benchmarks measure on when it is up (each measurement in a schema of its own)."""


@asynccontextmanager
async def schema_for(database_url: str | None) -> AsyncIterator[str | None]:
    """A new schema on PostgreSQL (dropped afterwards); None on SQLite."""
    if database_url is None or not database_url.startswith("postgresql"):
        yield None
        return
    import asyncpg

    schema = f"wl_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()
