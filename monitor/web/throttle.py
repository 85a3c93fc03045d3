"""LoginThrottle: failed logins counted per client address over a sliding window; past the limit
the address waits (429 with Retry-After) until its oldest failure leaves the window.

Time comes from the app's clock, so tests move it instead of sleeping. In memory: a restart
forgets the failures, which costs an attacker a restart of the server per few guesses.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta

MAX_FAILURES = 5
WINDOW = timedelta(minutes=1)
MAX_ADDRESSES = 10_000  # beyond this many addresses in a window, the stalest are forgotten


class LoginThrottle:
    def __init__(self, max_failures: int = MAX_FAILURES, window: timedelta = WINDOW) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[datetime]] = {}

    def retry_after(self, address: str, now: datetime) -> int | None:
        """Seconds `address` must wait before trying again, or None when it may try now."""
        failures = self._recent(address, now)
        if len(failures) < self.max_failures:
            return None
        wait = (failures[0] + self.window - now).total_seconds()
        return max(1, math.ceil(wait))

    def failed(self, address: str, now: datetime) -> None:
        self._recent(address, now).append(now)
        self._failures[address] = self._failures.pop(address)  # newest last, for eviction
        while len(self._failures) > MAX_ADDRESSES:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)

    def _recent(self, address: str, now: datetime) -> deque[datetime]:
        failures = self._failures.setdefault(address, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures
