"""How every peer of the wire keeps a link alive: capped exponential backoff, failures logged once.

Part of the contract's behaviour, like the broker URL: edge, gateway and simulators reconnect the same way.
"""

import logging
from dataclasses import dataclass


@dataclass
class Backoff:
    initial: float
    cap: float
    _next: float = 0.0

    def next_delay(self) -> float:
        self._next = self.initial if self._next == 0 else min(self._next * 2, self.cap)
        return self._next

    def reset(self) -> None:
        self._next = 0.0


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
