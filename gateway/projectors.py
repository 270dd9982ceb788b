"""What a committed batch refreshes: each projector folds the subjects the batch's new events touched.

Projectors run in the batch's transaction, in this order, so the events and every projection commit together.
Each one recomputes its rows from all stored events of the touched subjects (pure folds), never from the batch
alone, so arrival order, duplicates and late events never change the outcome.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from contract import Event
from gateway.rules import TrackingRules

INTEGRATION_EDGE = "integration"
"""The edge id of events that clinical systems report through the API: no device is behind them."""


@dataclass(frozen=True, slots=True)
class Tx:
    """One open transaction, the dialect's `INSERT` (for `ON CONFLICT`) and the rules in force."""

    connection: AsyncConnection
    insert: Callable[..., Any]
    rules: TrackingRules

    @property
    def dialect(self) -> str:
        return self.connection.dialect.name


def dialect_insert(connection: AsyncConnection) -> Callable[..., Any]:
    """The dialect's `INSERT` construct, which has `on_conflict_do_*` on SQLite and PostgreSQL alike."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


Projector = Callable[[Tx, Sequence[Event]], Awaitable[None]]


def projectors() -> list[Projector]:
    """Every projector, in the order a batch runs them."""
    from gateway.cabinet_store import project_cabinets
    from gateway.carrier_store import project_carriers
    from gateway.custody_log import project_custody_log
    from gateway.delivery_store import project_deliveries
    from gateway.device_store import project_devices
    from gateway.specimen_store import project_specimens

    return [
        project_carriers,  # before specimens: a carrier's arrival moves the specimens it carries (carrier_loads)
        project_specimens,
        project_devices,
        project_deliveries,
        project_cabinets,
        project_custody_log,  # last: it holds the custody log's append lock until the batch commits
    ]
