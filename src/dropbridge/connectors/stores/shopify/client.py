"""Shopify Admin GraphQL over HTTP: token acquisition and refresh, the cost-based throttle, error classes.

HTTP only: no vendor knowledge beyond the envelope. Queries and their translation live in connector.py
and mapping.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import structlog

from dropbridge.connectors.kit.http import build_client, send
from dropbridge.domain.errors import (
    AuthExpired,
    ConfigurationError,
    ExternalError,
    PermanentError,
    RateLimited,
    RetryableError,
)

log = structlog.get_logger("dropbridge.shopify")

# https://shopify.dev/docs/api/admin-graphql (POST, X-Shopify-Access-Token)
GRAPHQL_PATH = "/admin/api/{version}/graphql.json"
# https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/client-credentials-grant
TOKEN_PATH = "/admin/oauth/access_token"

# Top-level GraphQL error codes (HTTP 200) -> what to do next (convention 4; HTTP statuses are in http.py).
# https://shopify.dev/docs/api/usage/response-codes ; https://shopify.dev/docs/api/usage/idempotent-requests
ERROR_CODE_CLASS: dict[str, type[ExternalError]] = {
    "THROTTLED": RateLimited,
    "INTERNAL_SERVER_ERROR": RetryableError,
    "IDEMPOTENCY_CONCURRENT_REQUEST": RetryableError,
    "ACCESS_DENIED": AuthExpired,  # missing scope: the merchant must re-grant
    "MAX_COST_EXCEEDED": PermanentError,
    "IDEMPOTENCY_KEY_PARAMETER_MISMATCH": PermanentError,
    "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED": PermanentError,
}


class ThrottleBudget:
    """Our view of Shopify's leaky bucket, from the `extensions.cost.throttleStatus` of each response.

    Before a call whose requested cost is known, sleep just long enough for the bucket to hold it; the
    estimate only ever errs low (the bucket was read when the server answered, we restore from when we
    received), so a call that waited is not throttled.
    """

    MARGIN = 0.005  # seconds added to every wait, for clock granularity

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self._clock = clock
        self._sleep = sleep
        self.maximum: float | None = None
        self.available: float | None = None
        self.restore_rate: float | None = None
        self._seen_at = 0.0
        self.slept = 0.0

    def observe(self, cost: Mapping[str, Any]) -> None:
        status = cost.get("throttleStatus") or {}
        try:
            self.maximum = float(status["maximumAvailable"])
            self.available = float(status["currentlyAvailable"])
            self.restore_rate = float(status["restoreRate"])
        except (KeyError, TypeError, ValueError):
            return
        self._seen_at = self._clock()

    def available_now(self) -> float | None:
        if self.available is None or self.restore_rate is None or self.maximum is None:
            return None
        return min(self.maximum, self.available + (self._clock() - self._seen_at) * self.restore_rate)

    def wait_needed(self, cost: float) -> float:
        now = self.available_now()
        if now is None or not self.restore_rate or now >= cost:
            return 0.0
        if self.maximum is not None and cost > self.maximum:
            cost = self.maximum
        return (cost - now) / self.restore_rate + self.MARGIN

    def wait_for(self, cost: float) -> float:
        wait = self.wait_needed(cost)
        if wait > 0:
            self._sleep(wait)
            self.slept += wait
        return wait


class ShopifyClient:
    """One shop, one API version. Thread-safe; `calls` counts GraphQL HTTP requests sent."""

    def __init__(
        self,
        base_url: str,
        api_version: str,
        *,
        access_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_throttle_wait: float = 60.0,
        max_retries: int = 2,
        retry_backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
    ):
        if not access_token and not (client_id and client_secret):
            raise ConfigurationError("Shopify needs an access_token, or client_id and client_secret")
        self.api_version = api_version
        self._static_token = access_token
        self._client_id = client_id
        self._client_secret = client_secret
        self._token: str | None = access_token
        self._expires_at: float | None = None
        self._clock = clock
        self._sleep = sleep
        self.max_throttle_wait = max_throttle_wait
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.budget = ThrottleBudget(clock, sleep)
        self._requested: dict[str, int] = {}  # last requestedQueryCost per operation
        self._lock = threading.RLock()
        self._http = build_client(
            base_url.rstrip("/"),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        self._path = GRAPHQL_PATH.format(version=api_version)
        self.calls = 0
        self.token_requests = 0
        self.throttled = 0

    def close(self) -> None:
        self._http.close()

    # -- tokens ------------------------------------------------------------------------------------

    def _current_token(self) -> str:
        with self._lock:
            if self._static_token:
                return self._static_token
            if self._token is None or (self._expires_at is not None and self._clock() >= self._expires_at):
                self._acquire()
            assert self._token is not None
            return self._token

    def _acquire(self) -> None:
        self.token_requests += 1
        try:
            response = send(
                self._http,
                "POST",
                TOKEN_PATH,
                what="shopify client-credentials grant",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                },
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        except PermanentError as exc:  # 400 invalid_client etc.: the merchant must fix the app credentials
            raise AuthExpired(f"Shopify refused the client credentials: {exc}", status=exc.status) from exc
        body = response.json()
        token = body.get("access_token")
        if not token:
            raise AuthExpired("Shopify token response had no access_token")
        self._token = token
        expires_in = body.get("expires_in")
        if isinstance(expires_in, int | float) and expires_in > 0:
            # Refresh a little early so a token never expires in flight.
            self._expires_at = self._clock() + expires_in - min(300.0, expires_in / 10)
        else:
            self._expires_at = None  # [U] unknown lifetime: refresh on the first 401
        log.info("shopify token acquired", expires_in=expires_in)

    def _drop_token(self, token: str) -> bool:
        """Forget a refused token; True when a new one can be fetched."""
        with self._lock:
            if self._static_token:
                return False
            if self._token == token:
                self._token = None
            return True

    # -- GraphQL -----------------------------------------------------------------------------------

    def execute(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        what: str,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """Run one operation; return `data`. Waits out throttling; retries 5xx only when `idempotent`
        (queries, and mutations that carry @idempotent or are upserts). Raises classified errors."""
        refreshed = False
        retries = 0
        waited = 0.0
        payload = {"query": query, "variables": dict(variables or {})}
        while True:
            with self._lock:
                expected = self._requested.get(what)
                wait = self.budget.wait_needed(expected) if expected else 0.0
            if wait:
                self._sleep(wait)
                self.budget.slept += wait
            token = self._current_token()
            with self._lock:
                self.calls += 1
            try:
                response = send(
                    self._http, "POST", self._path, what=what, json=payload,
                    headers={"X-Shopify-Access-Token": token},
                )
            except AuthExpired:
                if not refreshed and self._drop_token(token):
                    refreshed = True
                    continue
                raise
            except RateLimited as exc:  # some report HTTP 429 for the GraphQL throttle [S]
                with self._lock:
                    self.throttled += 1
                delay = exc.retry_after if exc.retry_after is not None else self._throttle_delay(expected or 10)
                waited = self._wait_throttle(delay, waited, what)
                continue
            except RetryableError:
                if not idempotent or retries >= self.max_retries:
                    raise
                self._sleep(self.retry_backoff * (2**retries))
                retries += 1
                continue
            body = response.json()
            cost = (body.get("extensions") or {}).get("cost") or {}
            with self._lock:
                if cost:
                    self.budget.observe(cost)
                    if isinstance(cost.get("requestedQueryCost"), int | float):
                        self._requested[what] = int(cost["requestedQueryCost"])
            errors = body.get("errors")
            if errors:
                error = self._classify(errors, what)
                if isinstance(error, RateLimited):
                    with self._lock:
                        self.throttled += 1
                    requested = cost.get("requestedQueryCost") or expected or 10
                    waited = self._wait_throttle(self._throttle_delay(requested), waited, what)
                    continue
                if isinstance(error, RetryableError) and idempotent and retries < self.max_retries:
                    self._sleep(self.retry_backoff * (2**retries))
                    retries += 1
                    continue
                raise error
            data = body.get("data")
            if not isinstance(data, dict):
                raise RetryableError(f"{what}: response without data")
            return data

    def _throttle_delay(self, requested: float) -> float:
        with self._lock:
            wait = self.budget.wait_needed(requested)
            if wait <= 0:
                # Reported as throttled although our estimate says the bucket holds enough: wait for one
                # second of restore rather than spin.
                rate = self.budget.restore_rate or 100.0  # storefronts.md §1.6: a Standard shop restores 100/s
                wait = max(ThrottleBudget.MARGIN, min(1.0, requested / rate))
            return wait

    def _wait_throttle(self, delay: float, waited: float, what: str) -> float:
        if waited + delay > self.max_throttle_wait:
            raise RateLimited(f"{what}: still throttled after {waited:.1f}s", retry_after=delay)
        log.debug("shopify throttled", what=what, wait=round(delay, 3))
        self._sleep(delay)
        self.budget.slept += delay
        return waited + delay

    @staticmethod
    def _classify(errors: Any, what: str) -> ExternalError:
        if not isinstance(errors, list):  # REST-style {"errors": "..."} on 200 should not happen; be safe
            return PermanentError(f"{what}: {str(errors)[:300]}")
        codes = [((e.get("extensions") or {}).get("code") if isinstance(e, dict) else None) for e in errors]
        message = "; ".join(str(e.get("message") if isinstance(e, dict) else e) for e in errors)[:300]
        for code in codes:
            if code == "THROTTLED":
                return RateLimited(f"{what}: Throttled")
        for code in codes:
            cls = ERROR_CODE_CLASS.get(code or "")
            if cls is not None:
                return cls(f"{what}: {code}: {message}")
        return PermanentError(f"{what}: {message} ({', '.join(c for c in codes if c) or 'no code'})")
