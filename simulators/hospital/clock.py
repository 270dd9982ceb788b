"""Simulated hospital time that runs `speed` times faster than the wall clock, and never ahead of it.

A scenario's times ("07:00") are the hospital's local time of day. The simulated day is played **yesterday**
(local date), from the scenario's start time: a day covers at most 24 hours and ends before midnight, so every
timestamp a simulator stamps lies in the past, and a gateway that refuses timestamps from the future accepts
them. Should the clock still run after the day (the devices keep talking after the scenario's end), it is held
to the wall clock: `now()` is never later than the real now. `now()` is an aware UTC datetime, as devices stamp
their records; `time_of_day()` is the local time the scenario's traffic periods and faults refer to.
"""

import asyncio
import time as wall
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo


def wall_now() -> datetime:
    return datetime.now(UTC)


def local_zone() -> tzinfo:
    """The machine's time zone, taken as the hospital's."""
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


class SimClock:
    """`clock.now()` (or `clock()`): simulated now; `await clock.sleep(sim_seconds)` waits 1/speed of that."""

    def __init__(
        self,
        start: time,
        speed: float,
        *,
        day: date | None = None,
        zone: tzinfo | None = None,
        wall_clock: Callable[[], datetime] = wall_now,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0 (simulated seconds per real second)")
        self.speed = speed
        self.zone = zone or local_zone()
        self._wall = wall_clock
        day = day or (wall_clock().astimezone(self.zone).date() - timedelta(days=1))
        self.start = datetime.combine(day, start, tzinfo=self.zone)
        """The simulated moment the clock started at (aware, the hospital's zone)."""
        self._t0 = wall.monotonic()

    def now(self) -> datetime:
        """Simulated now, aware UTC; held to the wall clock once it would overtake it."""
        simulated = self.start + timedelta(seconds=(wall.monotonic() - self._t0) * self.speed)
        return min(simulated, self._wall()).astimezone(UTC)

    __call__ = now

    def local(self) -> datetime:
        """Simulated now in the hospital's zone."""
        return self.now().astimezone(self.zone)

    def time_of_day(self) -> time:
        return self.local().time().replace(tzinfo=None)

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(max(sim_seconds, 0) / self.speed)

    async def sleep_until(self, moment: time) -> None:
        """Until `moment` (local time of day) on the simulated day."""
        target = datetime.combine(self.start.date(), moment, tzinfo=self.zone)
        await self.sleep((target - self.local()).total_seconds())
