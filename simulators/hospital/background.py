"""Work the hospital starts and lets run on its own: a traffic arrival, a specimen's lab work, a fault striking."""

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Background:
    """Tasks kept until they end or the hospital stops; a failure is logged, never raised into the day."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def run(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    def cancel(self) -> list[asyncio.Task[None]]:
        """Cancel every task still running; returns them, for the caller to wait for."""
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        return tasks


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("simulated activity failed: %r", task.exception())
