"""Simulated hospital time that runs `speed` times faster than the wall clock."""

import asyncio
import time as wall
from datetime import datetime, time, timedelta


class SimClock:
    def __init__(self, start: time, speed: float) -> None:
        self.speed = speed
        self._start = datetime.combine(datetime.today(), start)
        self._t0 = wall.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(wall.monotonic() - self._t0) * self.speed)

    def time_of_day(self) -> time:
        return self.now().time()

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(max(sim_seconds, 0) / self.speed)

    async def sleep_until(self, moment: time) -> None:
        target = datetime.combine(self._start.date(), moment)
        await self.sleep((target - self.now()).total_seconds())
