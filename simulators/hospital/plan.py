"""The scenario in force and where the hospital stands in it: its time of day, its traffic now, its next moments.

The day starts with the hospital's scenario; `switch` puts another in force as if it started now, so its traffic
periods and faults keep their offsets from its own start time.
"""

from datetime import datetime, time, timedelta

from simulators.hospital.clock import SimClock
from simulators.hospital.scenario import Scenario, Traffic


class Plan:
    def __init__(self, scenario: Scenario, clock: SimClock) -> None:
        self.scenario = scenario
        self.clock = clock
        self.started_at: datetime = clock.start
        """The simulated moment the scenario in force started (the day's start, or when `switch` put it in force)."""

    def switch(self, scenario: Scenario) -> None:
        """Put `scenario` in force from now on."""
        self.scenario = scenario
        self.started_at = self.clock.now()

    def time_of_day(self) -> time:
        """The time of day in the scenario in force (the hospital's time of day unless `switch` started another)."""
        elapsed = self.clock.now() - self.started_at
        return (datetime.combine(self.clock.start.date(), self.scenario.start) + elapsed).time()

    def traffic(self) -> Traffic:
        """The traffic period in force now."""
        return self.scenario.traffic_at(self.time_of_day())

    def until(self, moment: time) -> float:
        """Simulated seconds until `moment` of the scenario in force (negative once past)."""
        day = self.clock.start.date()
        offset = datetime.combine(day, moment) - datetime.combine(day, self.scenario.start)
        return (offset - (self.clock.now() - self.started_at)) / timedelta(seconds=1)
