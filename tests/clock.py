"""A clock the test moves: give it to `Gateway(settings, clock=...)` or `create_app(..., clock=...)`."""

from datetime import datetime


class SteppedClock:
    """Returns `now`, which only the test changes."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
