"""Retry a write while the database is down; a write the database refuses is the caller's to handle."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gateway.storage.database import Database
from mqttlink.backoff import Backoff, FailureLog

T = TypeVar("T")


async def while_database_down(
    db: Database,
    attempt: Callable[[], Awaitable[T]],
    *,
    log: logging.Logger,
    what: str,
    max_backoff_s: float,
    on_failure: Callable[[], None],
) -> T:
    """Run `attempt` until it succeeds, waiting with capped backoff while the database does not answer.

    Each failure calls `on_failure` (a counter). When the database answers and the attempt still failed, the
    failure is the data's, not the database's: it is raised for the caller to decide (split the batch, drop it).
    The outage is logged once when it starts and once when it ends.
    """
    backoff = Backoff(initial=0.2, cap=max_backoff_s)
    failures = FailureLog(log, what)
    while True:
        try:
            result = await attempt()
        except Exception as exc:
            on_failure()
            if await db.ping():
                raise
            failures.failed(str(exc))
            await asyncio.sleep(backoff.next_delay())
            continue
        failures.recovered()
        return result
