"""HTTP calls to Printful (contract 1.1-1.3); no translation here (that is mapping.py).

Bearer token on every call (`X-PF-Store-Id` for account-level tokens); one rate budget per account at the
documented 120 requests a minute (a token bucket, as v2 meters), and the stricter 5 a minute for shipping
rates above 100 items. Reads are retried under the kit's policy (5xx, 429 waited out as Retry-After says);
writes are sent once: an unknown outcome goes back to the job runner, which looks the order up first."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from dropbridge.connectors.kit import retry
from dropbridge.connectors.kit.budget import RateBudget
from dropbridge.connectors.kit.http import build_client, classify, send

# https://developers.printful.com/docs/#section/Rate-Limits, /docs/v2-beta/#tag/Rate-Limiting
DEFAULT_RATE_PER_MINUTE = 120
BULK_SHIPPING_PER_MINUTE = 5  # shipping rates when the summed quantity is over 100
# A little under the documented rate and bucket: ours and Printful's run at the same rate but see each call at
# slightly different times (a slow first call, then fast ones), and one call landing on Printful's empty
# bucket locks catalog calls out for 60 s. A tenth of the bucket kept back absorbs seconds of such jitter.
SAFETY = 0.98
BURST_SHARE = 0.9
# Catalog pages may wait out that lockout once (a pull that gives up starts over on the next interval);
# order calls keep the default policy, whose waits stay within a job's lease.
PULL_POLICY = retry.RetryPolicy(attempts=5, max_wait=150.0)


class PrintfulClient:
    def __init__(self, base_url: str, token: str, *, store_id: str | None = None,
                 timeout: float | httpx.Timeout | None = None, transport: httpx.BaseTransport | None = None,
                 rate_per_minute: int = DEFAULT_RATE_PER_MINUTE, retry_policy: retry.RetryPolicy = retry.DEFAULT):
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if store_id:
            headers["X-PF-Store-Id"] = store_id
        self._http = build_client(base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport)
        account = hashlib.sha256(f"{token}\0{store_id or ''}".encode()).hexdigest()[:16]
        self.budget = RateBudget.for_account(f"printful:{account}", rate_per_minute / 60 * SAFETY,
                                             max(1, int(rate_per_minute * BURST_SHARE)))
        self.bulk_budget = RateBudget.for_account(f"printful:{account}:bulk-shipping",
                                                  BULK_SHIPPING_PER_MINUTE / 60 * SAFETY,
                                                  max(1, int(BULK_SHIPPING_PER_MINUTE * BURST_SHARE)))
        self.retry_policy = retry_policy
        self.calls = 0

    def _send(self, method: str, path: str, what: str, bulk: bool = False, **kwargs: Any) -> Any:
        if bulk:
            self.bulk_budget.acquire()
        self.budget.acquire()
        self.calls += 1
        response = send(self._http, method, path, what=what, **kwargs)
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError:
            raise classify(httpx.Response(502, text=response.text[:300], request=response.request), what) from None
        code = body.get("code") if isinstance(body, dict) else None
        if isinstance(code, int) and not 200 <= code < 300:  # 7.1: v1's success is the body's code
            raise classify(httpx.Response(code, json=body, headers=response.headers, request=response.request), what)
        return body

    def get(self, path: str, params: dict[str, Any] | None = None, *, what: str, pull: bool = False) -> Any:
        """`pull`: a catalog page, which may wait out a rate-limit lockout (PULL_POLICY)."""
        return retry.call(lambda: self._send("GET", path, what, params=params), idempotent=True,
                          policy=PULL_POLICY if pull else self.retry_policy)

    def post(self, path: str, body: Any = None, *, what: str, params: dict[str, Any] | None = None,
             read: bool = False, bulk: bool = False) -> Any:
        """`read`: a POST that changes nothing (shipping rates), retried like a GET."""
        def call() -> Any:
            return self._send("POST", path, what, bulk=bulk, json=body, params=params)
        return retry.call(call, idempotent=True, policy=self.retry_policy) if read else call()

    def delete(self, path: str, *, what: str) -> Any:
        return self._send("DELETE", path, what)

    def close(self) -> None:
        self._http.close()
