"""One async engine for SQLite (WAL, the default) and PostgreSQL (asyncpg, optional schema)."""

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway.settings import GatewaySettings


class DatabaseConfigError(ValueError):
    """The database URL or schema cannot work; the message says what to set."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the ingest batch writes; busy_timeout rides out a checkpoint.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_engine(settings: GatewaySettings) -> AsyncEngine:
    """The engine for `settings`; creates the SQLite data directory when needed."""
    url = make_url(settings.resolved_database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        if settings.database_schema:
            raise DatabaseConfigError("WARDLINK_DATABASE_SCHEMA applies to PostgreSQL only; unset it for SQLite")
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if url.get_driver_name() != "asyncpg":
            raise DatabaseConfigError("use a postgresql+asyncpg:// URL for WARDLINK_DATABASE_URL")
        connect_args: dict[str, Any] = {"timeout": 5}  # seconds to connect; asyncpg waits 60 by default
        if settings.database_schema:
            connect_args["server_settings"] = {"search_path": settings.database_schema}
        return create_async_engine(url, connect_args=connect_args, pool_pre_ping=True)
    raise DatabaseConfigError(
        f"unsupported database {backend!r}: set WARDLINK_DATABASE_URL to sqlite+aiosqlite:///path "
        "or postgresql+asyncpg://user@host/db"
    )
