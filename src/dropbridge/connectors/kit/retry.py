"""The one retry policy for connector HTTP calls (tenacity): a call that the platform throttled (429, a
throttle envelope) waited out as it asks, and a read that failed transiently (timeout, 5xx) tried again with
exponential backoff and jitter, within a bounded total wait. Writes are retried only when the platform said it
did not act (rate limited): a write whose outcome is unknown goes back to the job runner, which asks the
platform before sending again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from dropbridge.domain.errors import ExternalError, RateLimited, RetryableError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    max_wait: float = 60.0  # the most one call may spend waiting in all; beyond it the error propagates
    backoff_base: float = 0.5
    backoff_max: float = 10.0


DEFAULT = RetryPolicy()


def _retryable(idempotent: bool) -> Callable[[BaseException], bool]:
    def check(exc: BaseException) -> bool:
        if isinstance(exc, RateLimited):
            return True  # the platform refused before acting: safe to repeat, reads and writes alike
        return idempotent and isinstance(exc, RetryableError)
    return check


def _wait(policy: RetryPolicy):
    backoff = tenacity.wait_random_exponential(multiplier=policy.backoff_base, max=policy.backoff_max)

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = exc.retry_after if isinstance(exc, ExternalError) and exc.retry_after else 0.0
        return max(asked, backoff(state))
    return wait


def _give_up(policy: RetryPolicy):
    def stop(state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= policy.attempts:
            return True
        exc = state.outcome.exception() if state.outcome else None
        asked = exc.retry_after if isinstance(exc, ExternalError) and exc.retry_after else 0.0
        return state.seconds_since_start + asked > policy.max_wait  # waiting that long is the job runner's job
    return stop


def call(fn: Callable[[], T], *, idempotent: bool, policy: RetryPolicy = DEFAULT,
         sleep: Callable[[float], None] | None = None) -> T:
    """Run `fn` under the policy; the last error propagates unchanged when it gives up."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(_retryable(idempotent)), wait=_wait(policy), stop=_give_up(policy),
        reraise=True, **({"sleep": sleep} if sleep else {}))
    return retrying(fn)
