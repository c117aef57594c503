"""One rate budget per platform account: a token bucket every client of that account draws from, so two
connectors (or two threads) of the same account never exceed the platform's documented limit between them.
In-process: several worker processes each hold their own bucket, so a deployment with N workers sets each
account's rate to 1/N of the platform's limit (`rate_share`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from dropbridge.domain.errors import RateLimited


class RateBudget:
    _accounts: dict[str, RateBudget] = {}
    _accounts_lock = threading.Lock()

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate, self.burst = rate, burst
        self._tokens = burst
        self._at = clock()
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()

    @classmethod
    def for_account(cls, key: str, rate: float, burst: float) -> RateBudget:
        """The shared budget of one platform account (e.g. "printful:<token hash>"), made on first use."""
        with cls._accounts_lock:
            budget = cls._accounts.get(key)
            if budget is None or (budget.rate, budget.burst) != (rate, burst):
                budget = cls._accounts[key] = cls(rate, burst)
            return budget

    def acquire(self, cost: float = 1.0, max_wait: float = 30.0) -> float:
        """Take `cost` tokens, waiting as long as the budget needs; returns the seconds waited. Raises
        RateLimited (with the wait it would take) rather than wait beyond `max_wait`."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            wait = max(0.0, (cost - self._tokens) / self.rate)
            if wait > max_wait:
                raise RateLimited(f"rate budget exhausted: next call in {wait:.1f} s", retry_after=wait)
            self._tokens -= cost  # may go negative: the wait below pays it back
        if wait:
            self._sleep(wait)
        return wait
