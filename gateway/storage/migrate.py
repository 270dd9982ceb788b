"""Bring the database schema to the newest Alembic revision, on SQLite or PostgreSQL, with the async engine."""

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def _upgrade(connection: Connection, schema: str | None, target: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    command.upgrade(config, target)


async def migrate(engine: AsyncEngine, schema: str | None = None, target: str = "head") -> None:
    """Run every pending migration up to `target` in one transaction; the version table lives in `schema` if given."""
    # Alembic announces each of its plugins at INFO on every start; the upgrades themselves stay visible.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, schema, target)
