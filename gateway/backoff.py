"""Capped exponential backoff, and logs that report a problem once, then stay quiet until it recovers."""

import logging
from collections import Counter
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
    """The first failure at ERROR, the rest at DEBUG, the recovery at INFO with the count."""

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


class ReasonCounter:
    """Counts occurrences per reason; logs the first of each reason at WARNING and the rest at DEBUG."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._log = logger
        self._what = what
        self.counts: Counter[str] = Counter()

    def add(self, reason: str, detail: str) -> None:
        self.counts[reason] += 1
        if self.counts[reason] == 1:
            self._log.warning("%s (%s): %s; further ones are counted quietly", self._what, reason, detail)
        else:
            self._log.debug("%s (%s, #%d): %s", self._what, reason, self.counts[reason], detail)
