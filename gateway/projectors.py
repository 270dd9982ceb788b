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


@dataclass(frozen=True, slots=True)
class Tx:
    """One open transaction, the dialect's `INSERT` (for `ON CONFLICT`) and the rules in force."""

    connection: AsyncConnection
    insert: Callable[..., Any]
    rules: TrackingRules

    @property
    def dialect(self) -> str:
        return self.connection.dialect.name


Projector = Callable[[Tx, Sequence[Event]], Awaitable[None]]


def projectors() -> list[Projector]:
    """Every projector, in the order a batch runs them."""
    from gateway.device_store import project_devices
    from gateway.specimen_store import project_specimens

    return [
        project_specimens,
        project_devices,
    ]
