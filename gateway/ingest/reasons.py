"""Counting rejected input per reason, logged once per reason."""

import logging
from collections import Counter


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
