"""The gateway's idea of now: the wall clock, or a simulation's clock when the demo plays a day faster than real."""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns an aware UTC datetime."""


def utc_now() -> datetime:
    return datetime.now(UTC)
