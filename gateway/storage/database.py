"""One database: its engine, the dialect's `INSERT`, and SQLite's single writer's turn."""

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.settings import GatewaySettings
from gateway.storage.engine import create_engine
from gateway.storage.migrate import migrate


class Database:
    """The gateway's database; `await Database.open(settings)` migrates it first. Every store and query takes one."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.insert: Callable[..., Any] = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        """The dialect's `INSERT`, which has `on_conflict_do_*` on SQLite and PostgreSQL alike."""
        self._sqlite_writer = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        """SQLite has one writer: this process's ingest and projection transactions take turns rather than meet
        a stale read snapshot (SQLITE_BUSY_SNAPSHOT) at their first write."""

    @classmethod
    async def open(cls, settings: GatewaySettings) -> "Database":
        engine = create_engine(settings)
        try:
            await migrate(engine, settings.database_schema)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self, timeout_s: float = 3.0) -> bool:
        """True when the database answers within `timeout_s`."""
        try:
            async with asyncio.timeout(timeout_s), self.engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
        except Exception:
            return False
        return True

    def write(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """The SQLite writer's turn (see `__init__`); nothing to wait for on PostgreSQL."""
        return self._sqlite_writer if self._sqlite_writer is not None else contextlib.nullcontext()
