"""Login throttling: after N failed logins for one user name from one client address within a window, refuse.

Kept in memory per gateway process (a restart forgets it): enough to make guessing passwords slow, with nothing to
clean up in the database. A successful login clears the key's failures.
"""

import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    def __init__(self, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        failures = self._failures.get(key, deque())
        cutoff = self._clock() - self.window_s
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            self._failures.pop(key, None)
        return failures

    def retry_after(self, username: str, client: str) -> int | None:
        """Seconds until this user name may be tried again from this client, or None when it may now."""
        failures = self._recent((username.lower(), client))
        if len(failures) < self.max_failures:
            return None
        return max(1, int(failures[0] + self.window_s - self._clock()) + 1)

    def failed(self, username: str, client: str) -> None:
        key = (username.lower(), client)
        self._recent(key)
        self._failures.setdefault(key, deque()).append(self._clock())
        if len(self._failures) > 100_000:  # a flood of made-up names must not grow memory without bound
            self._failures.pop(next(iter(self._failures)))

    def succeeded(self, username: str, client: str) -> None:
        self._failures.pop((username.lower(), client), None)
