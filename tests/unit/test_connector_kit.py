"""The connector kit: one retry policy, one rate budget per account, one webhook helper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dropbridge.connectors.kit import retry
from dropbridge.connectors.kit.budget import RateBudget, WindowBudget
from dropbridge.connectors.kit.webhooks import check_hmac, check_timestamp, header, hmac_digest
from dropbridge.domain.errors import PermanentError, RateLimited, RetryableError, WebhookRejected


def _flaky(errors):
    calls = []

    def fn():
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return "ok"
    return fn, calls


def test_reads_are_retried_through_transient_errors_and_waits_honour_retry_after():
    slept = []
    fn, calls = _flaky([RetryableError("503"), RateLimited("429", retry_after=3.0)])
    assert retry.call(fn, idempotent=True, sleep=slept.append) == "ok"
    assert len(calls) == 3
    assert slept[1] >= 3.0


def test_a_write_with_an_unknown_outcome_is_not_repeated_in_call():
    fn, calls = _flaky([RetryableError("timed out after sending")])
    with pytest.raises(RetryableError):
        retry.call(fn, idempotent=False, sleep=lambda s: None)
    assert len(calls) == 1


def test_a_throttled_write_is_repeated_and_permanent_errors_never_are():
    fn, calls = _flaky([RateLimited("429", retry_after=0.1)])
    assert retry.call(fn, idempotent=False, sleep=lambda s: None) == "ok" and len(calls) == 2
    fn, calls = _flaky([PermanentError("400")])
    with pytest.raises(PermanentError):
        retry.call(fn, idempotent=True, sleep=lambda s: None)
    assert len(calls) == 1


def test_a_wait_beyond_the_policy_goes_back_to_the_job_runner():
    fn, calls = _flaky([RateLimited("429", retry_after=600)])
    with pytest.raises(RateLimited):
        retry.call(fn, idempotent=True, policy=retry.RetryPolicy(max_wait=60), sleep=lambda s: None)
    assert len(calls) == 1


def test_the_rate_budget_spaces_calls_to_its_rate_and_refuses_long_waits():
    now = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s
    budget = RateBudget(rate=2.0, burst=2, clock=lambda: now[0], sleep=sleep)
    for _ in range(6):
        budget.acquire()
    assert now[0] == pytest.approx(2.0)  # 2 free, then 4 at 2 per second
    with pytest.raises(RateLimited) as info:
        budget.acquire(cost=100, max_wait=5)
    assert info.value.retry_after > 5
    assert RateBudget.for_account("x:1", 1, 1) is RateBudget.for_account("x:1", 1, 1)


def test_a_window_budget_sends_a_full_window_then_waits_for_the_first_call_to_age_out():
    now, sent = [0.0], []

    def sleep(s):
        now[0] += s
    budget = WindowBudget(calls=3, window=10.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(7):
        booking = budget.acquire()
        sent.append(now[0])
        now[0] += 0.5  # each call is answered half a second later: counted from then
        budget.done(booking)
    # Never more than 3 in any 10 s, and no later than that allows (a token bucket at 0.3/s would be late).
    assert sent == [0.0, 0.5, 1.0, 10.5, 11.0, 11.5, 21.0]
    budget.done(budget.acquire())  # at 21.5: 11.5, 21.5 and this one in the window
    with pytest.raises(RateLimited) as info:  # the next slot opens at 22.0
        budget.acquire(max_wait=0.1)
    assert info.value.retry_after == pytest.approx(0.5)
    budget.done(budget.acquire(max_wait=1.0), counted=False)  # refused by the host: its slot is free again
    assert budget.acquire(max_wait=0.0) == pytest.approx(22.0)
    assert WindowBudget.parse("x:1", "25/10") is WindowBudget.for_account("x:1", 25, 10.0)
    with pytest.raises(ValueError):
        WindowBudget.parse("x:1", "25 per 10")


def test_webhook_helpers():
    assert header({"X-Signature": "a"}, "x-signature") == "a"
    body = b'{"a":1}'
    check_hmac(hmac_digest("s", body).hex(), "s", body)
    with pytest.raises(WebhookRejected):
        check_hmac(hmac_digest("other", body).hex(), "s", body)
    now = datetime(2026, 12, 7, tzinfo=UTC)
    check_timestamp(now - timedelta(seconds=10), now, 300)
    with pytest.raises(WebhookRejected):
        check_timestamp(now - timedelta(seconds=301), now, 300)
