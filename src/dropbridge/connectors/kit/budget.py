"""One rate budget per platform account: a token bucket every client of that account draws from, so two
connectors (or two threads) of the same account never exceed the platform's documented limit between them.
In-process: several worker processes each hold their own bucket, so a deployment with N workers sets each
account's rate to 1/N of the platform's limit (`rate_share`). WindowBudget: the same for a limit stated as calls
per window of seconds."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable

from dropbridge.domain.errors import RateLimited


class _PerAccount:
    """One budget per platform account and limit, made on first use; each subclass keeps its own."""

    _accounts: dict
    _accounts_lock: threading.Lock

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._accounts, cls._accounts_lock = {}, threading.Lock()

    def _limit(self) -> tuple:
        raise NotImplementedError

    @classmethod
    def _shared(cls, key: str, *limit):
        with cls._accounts_lock:
            budget = cls._accounts.get(key)
            if budget is None or budget._limit() != limit:
                budget = cls._accounts[key] = cls(*limit)
            return budget


class RateBudget(_PerAccount):

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate, self.burst = rate, burst
        self._tokens = burst
        self._at = clock()
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()

    def _limit(self) -> tuple:
        return (self.rate, self.burst)

    @classmethod
    def for_account(cls, key: str, rate: float, burst: float) -> RateBudget:
        """The shared budget of one platform account (e.g. "printful:<token hash>"), made on first use."""
        return cls._shared(key, rate, burst)

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


class WindowBudget(_PerAccount):
    """At most `calls` requests in any `window` seconds, the shape of a host limiter that counts requests in
    a sliding window (a WooCommerce host's, say). A token bucket cannot stand in for it: refilled at
    calls/window, it lets calls beyond the first `calls` through before the window has passed. Shared per
    account, in-process, like RateBudget.

    A call is counted from when its answer came (`done`): the host counted it somewhere between sending and
    answering, so counting from the send would reopen a slot the host still sees taken. A call the host
    refused (429) is not counted by it, nor here."""

    def __init__(self, calls: int, window: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if calls < 1 or window <= 0:
            raise ValueError("calls must be at least 1 and window positive")
        self.calls, self.window = calls, window
        self._sent: list[float] = []  # sorted: when each call in the window was sent, or answered once done
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()

    def _limit(self) -> tuple:
        return (self.calls, self.window)

    @classmethod
    def for_account(cls, key: str, calls: int, window: float) -> WindowBudget:
        return cls._shared(key, calls, window)

    @classmethod
    def parse(cls, key: str, spec: str) -> WindowBudget:
        """`spec` "CALLS/SECONDS" (e.g. "25/10")."""
        try:
            calls, seconds = spec.split("/")
            return cls.for_account(key, int(calls), float(seconds))
        except ValueError:
            raise ValueError(f"rate limit must be CALLS/SECONDS, e.g. 25/10, not {spec!r}") from None

    def acquire(self, max_wait: float = 30.0) -> float:
        """Wait until a call fits in the window and book it; returns the booking, for `done`. Raises
        RateLimited (with the wait it would take) rather than wait beyond `max_wait`."""
        with self._lock:
            now = self._clock()
            cut = bisect.bisect_right(self._sent, now - self.window)
            del self._sent[:cut]
            at = now
            if len(self._sent) >= self.calls:  # the slot the call takes is the one freed `calls` calls ago
                at = self._sent[len(self._sent) - self.calls] + self.window
            wait = at - now
            if wait > max_wait:
                raise RateLimited(f"rate limit reached: next call in {wait:.1f} s", retry_after=wait)
            bisect.insort(self._sent, at)  # booked now, so concurrent callers queue behind it
        if wait > 0:
            self._sleep(wait)
        return at

    def done(self, booking: float, counted: bool = True) -> None:
        """The call booked at `booking` was answered: count it from now, or not at all if the host refused it."""
        with self._lock:
            i = bisect.bisect_left(self._sent, booking)
            if i < len(self._sent) and self._sent[i] == booking:
                del self._sent[i]
                if counted:
                    bisect.insort(self._sent, max(booking, self._clock()))
