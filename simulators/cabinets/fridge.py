"""The cabinet's 2-8 °C fridge compartment: a temperature that drifts toward a target, and its range alarms."""

import random

FRIDGE_RANGE_C = (2.0, 8.0)
ABOVE, BELOW = "A-201", "A-202"
"""The MV-40's alarm codes for a fridge above and below its range."""


class Fridge:
    """Each reading moves 30 % of the way to the target (the setpoint, or a fault's temperature), plus sensor noise."""

    def __init__(self, setpoint_c: float) -> None:
        self.setpoint_c = setpoint_c
        self.temperature_c = setpoint_c
        self.target_c = setpoint_c

    def warm(self, target_c: float) -> None:
        """Fault: drift toward `target_c` until `recover()`."""
        self.target_c = target_c

    def recover(self) -> None:
        self.target_c = self.setpoint_c

    def read(self, rng: random.Random) -> float:
        """The next reading (°C, two decimals); the draw from `rng` keeps a seeded cabinet deterministic."""
        self.temperature_c += (self.target_c - self.temperature_c) * 0.3 + rng.gauss(0, 0.08)
        return round(self.temperature_c, 2)

    @staticmethod
    def out_of_range(temperature_c: float) -> dict[str, bool]:
        """Alarm code -> whether the reading is out of range that way."""
        low, high = FRIDGE_RANGE_C
        return {ABOVE: temperature_c > high, BELOW: temperature_c < low}
