"""How every peer keeps a link alive: capped, jittered exponential backoff, and failures logged once.

Jitter spreads the retries of many peers that lost the same broker (or database) at the same moment, so they do not
all come back in the same instant and knock it over again.
"""

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays doubling from `initial` up to `cap`; each is shortened by a random share of up to `jitter` of itself.

    So a delay never exceeds `cap`, and never falls below `(1 - jitter) * min(initial, cap)`.
    """

    initial: float
    cap: float
    jitter: float = 0.5
    random: Callable[[], float] = field(default=random.random, repr=False)
    """A number in [0, 1) per delay; tests pass a seeded generator's `random`."""
    _step: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.cap <= 0:
            raise ValueError(f"backoff delays must be positive (initial {self.initial}, cap {self.cap})")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"backoff jitter is a share of the delay, from 0 to 1 (got {self.jitter})")

    def next_delay(self) -> float:
        self._step = min(self.cap, self.initial if self._step == 0 else self._step * 2)
        return self._step * (1 - self.jitter * self.random())

    def reset(self) -> None:
        self._step = 0.0


class FailureLog:
    """Log the first failure at ERROR, the rest at DEBUG, and the recovery at INFO with the count."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._log = logger
        self._what = what
        self.failures = 0

    def failed(self, reason: str) -> None:
        self.failures += 1
        if self.failures == 1:
            self._log.error("%s failed: %s (retrying quietly until it recovers)", self._what, reason)
        else:
            self._log.debug("%s still failing (%d): %s", self._what, self.failures, reason)

    def recovered(self) -> None:
        if self.failures:
            self._log.info("%s recovered after %d failed attempts", self._what, self.failures)
        self.failures = 0
