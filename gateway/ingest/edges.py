"""The edges the gateway has heard of: each one's latest state (online or offline) and since when."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from gateway.storage.database import Database
from gateway.storage.tables import edges


@dataclass(frozen=True, slots=True)
class EdgeRow:
    site: str
    edge: str
    state: str
    since: datetime
    version: str
    updated_at: datetime


class EdgeQueries:
    """Reads the edges' states."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[EdgeRow]:
        """Every edge by site and id."""
        async with self._db.engine.connect() as connection:
            result = await connection.execute(sa.select(edges).order_by(edges.c.site, edges.c.edge))
            return [EdgeRow(**r._asdict()) for r in result]
