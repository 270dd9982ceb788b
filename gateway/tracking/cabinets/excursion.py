"""Cold-chain excursions: when a fridge's readings left the 2-8 °C band, and how far.

An excursion is a run of consecutive readings outside the band; the latest one in the window is what a pharmacist
must check the fridge's lines against.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

FRIDGE_RANGE_C = (2.0, 8.0)


@dataclass(frozen=True, slots=True)
class Excursion:
    started_at: datetime
    ended_at: datetime | None
    """The first reading back in the band; None while it goes on."""
    max_c: float
    min_c: float


def latest_excursion(
    points: Iterable[tuple[datetime, float]], band: tuple[float, float] = FRIDGE_RANGE_C
) -> Excursion | None:
    """The latest run of readings (oldest first) outside `band`; None when every reading is inside it."""
    low, high = band
    found: Excursion | None = None
    current: Excursion | None = None
    for at, value in points:
        outside = not low <= value <= high
        if outside and current is None:
            current = Excursion(at, None, value, value)
        elif outside and current is not None:
            current = Excursion(current.started_at, None, max(current.max_c, value), min(current.min_c, value))
        elif current is not None:
            found, current = Excursion(current.started_at, at, current.max_c, current.min_c), None
    return current or found
