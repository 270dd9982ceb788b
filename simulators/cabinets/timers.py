"""A cabinet's named one-shot timers on its simulated time: the door-ajar alarm, the end of a fridge fault."""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class Timers:
    """`start(name, ...)` replaces a pending timer of the same name; `real_seconds` turns simulated into real time."""

    def __init__(self, real_seconds: Callable[[float], float]) -> None:
        self._real_seconds = real_seconds
        self._pending: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, sim_seconds: float, action: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `action` once `sim_seconds` have passed, unless cancelled first."""
        self.cancel(name)

        async def timer() -> None:
            await asyncio.sleep(self._real_seconds(sim_seconds))
            self._pending.pop(name, None)
            await action()

        self._pending[name] = asyncio.get_running_loop().create_task(timer())

    def cancel(self, name: str) -> None:
        task = self._pending.pop(name, None)
        if task is not None:
            task.cancel()

    def take(self) -> list[asyncio.Task[None]]:
        """Every pending timer's task, forgotten here: the caller cancels them (a power cut)."""
        tasks, self._pending = list(self._pending.values()), {}
        return tasks
