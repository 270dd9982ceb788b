"""Telemetry: measurements that are not domain events (temperatures, battery, position, poll latency).

Published at QoS 0 on `{root}/v1/{site}/{edge}/telemetry`; losing one reading is acceptable, so telemetry
never waits in the outbox behind domain events.
"""

import math
from typing import Annotated

from pydantic import AfterValidator, Field

from contract.base import Strict, UtcDatetime
from contract.ids import Identifier


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("a reading must be a finite number (not NaN or infinity)")
    return value


class Reading(Strict):
    metric: Identifier = Field(description="e.g. fridge_temperature, battery_charge, position_x")
    value: Annotated[float, AfterValidator(_finite)]
    unit: str = Field(default="", max_length=16)


class Telemetry(Strict):
    site: Identifier
    edge: Identifier
    device: Identifier
    at: UtcDatetime
    readings: list[Reading] = Field(min_length=1, max_length=100)
