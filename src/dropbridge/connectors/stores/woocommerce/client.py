"""WooCommerce REST API v3 over HTTP: auth, bounded retries on throttling, nothing else.

Core WooCommerce has no rate limiting; hosts and WAFs answer bare 429s, sometimes with Retry-After.
We wait and retry those (and 5xx on reads) within a bounded budget, then raise for the job to retry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from dropbridge.connectors.kit.budget import WindowBudget
from dropbridge.connectors.kit.http import build_client, send
from dropbridge.domain.errors import RateLimited, RetryableError

from .auth import client_auth

API = "/wp-json/wc/v3"
# https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-orders
ORDERS = API + "/orders"
# https://woocommerce.github.io/woocommerce-rest-api-docs/#retrieve-an-order
ORDER = API + "/orders/{order_id}"
# https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-refunds
ORDER_REFUNDS = API + "/orders/{order_id}/refunds"
# https://woocommerce.github.io/woocommerce-rest-api-docs/#order-notes
ORDER_NOTES = API + "/orders/{order_id}/notes"
# https://woocommerce.github.io/woocommerce-rest-api-docs/#products
PRODUCTS = API + "/products"
# https://woocommerce.github.io/woocommerce-rest-api-docs/#batch-update-products
PRODUCTS_BATCH = API + "/products/batch"
# https://woocommerce.github.io/woocommerce-rest-api-docs/#product-categories
CATEGORIES = API + "/products/categories"
# https://woocommerce.github.io/woocommerce-rest-api-docs/#product-variations
VARIATIONS = API + "/products/{product_id}/variations"
# https://woocommerce.github.io/woocommerce-rest-api-docs/#batch-update-product-variations
VARIATIONS_BATCH = API + "/products/{product_id}/variations/batch"
# https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks
WEBHOOKS = API + "/webhooks"
# https://woocommerce.github.io/woocommerce-rest-api-docs/#update-a-webhook
WEBHOOK = API + "/webhooks/{webhook_id}"
# https://woocommerce.com/document/shipment-tracking/shipment-tracking-rest-api-create-tracking-item/
SHIPMENT_TRACKINGS = "/wp-json/wc-shipment-tracking/v3/orders/{order_id}/shipment-trackings"

AUTH_QUERY_KEYS = ("consumer_key", "consumer_secret")


class WooCommerceClient:
    """HTTP only. `auth` is one of auth.AUTH_MODES (`query_auth=True` is `auth="query"`)."""

    def __init__(
        self,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        auth: str = "auto",
        query_auth: bool = False,
        timeout: float | None = None,
        transport: httpx.BaseTransport | None = None,
        max_attempts: int = 5,
        max_wait: float = 30.0,
        backoff_base: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        window: WindowBudget | None = None,
    ):
        if query_auth:
            auth = "query"
        self.auth_mode = auth
        self._query_auth = auth == "query"
        self._keys = {"consumer_key": consumer_key, "consumer_secret": consumer_secret}
        self._http = build_client(
            base_url.rstrip("/"),
            headers={"Accept": "application/json", "User-Agent": "dropbridge"},
            timeout=timeout,
            auth=client_auth(auth, base_url, consumer_key, consumer_secret),
            transport=transport,
        )
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.backoff_base = backoff_base
        self._sleep = sleep
        self.calls = 0  # requests sent, retries included
        # The host's limit, when the merchant stated it (config `rate_limit`): calls wait for their slot
        # instead of being refused and retried after Retry-After, which overshoots the window's end.
        self.window = window

    def close(self) -> None:
        self._http.close()

    def wait(self, seconds: float) -> None:
        """Sleep as this client does between attempts (a test's clock can stand in)."""
        self._sleep(seconds)

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
    ) -> httpx.Response:
        """A 2xx response, after waiting out throttling (any method: a 429 was not processed) and
        5xx on reads. Writes are not repeated after a 5xx: their outcome is unknown."""
        query = dict(params or {})
        if self._query_auth:
            query.update(self._keys)
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            self.calls += 1
            try:
                kwargs: dict[str, Any] = {"params": query}
                if json_body is not None:
                    kwargs["json"] = json_body
                return self._send(method, path, what, kwargs)
            except RetryableError as exc:
                if not isinstance(exc, RateLimited) and method != "GET":
                    raise
                delay = exc.retry_after
                if delay is None:
                    delay = self.backoff_base * 2 ** (attempt - 1)
                if attempt >= self.max_attempts or waited + delay > self.max_wait:
                    raise
                self._sleep(delay)
                waited += delay

    def _send(self, method: str, path: str, what: str, kwargs: dict[str, Any]) -> httpx.Response:
        """One request, in its slot of the host's window when it has one."""
        if self.window is None:
            return send(self._http, method, path, what=what, **kwargs)
        booking = self.window.acquire(max_wait=self.max_wait)
        counted = True
        try:
            return send(self._http, method, path, what=what, **kwargs)
        except RateLimited:
            counted = False  # the host refused it without counting it
            raise
        finally:
            self.window.done(booking, counted=counted)

    def get(self, path: str, *, what: str, params: dict[str, Any] | None = None) -> tuple[Any, httpx.Response]:
        response = self.request("GET", path, what=what, params=params)
        return parse(response), response

    def post(self, path: str, body: Any, *, what: str) -> Any:
        return parse(self.request("POST", path, what=what, json_body=body))

    def put(self, path: str, body: Any, *, what: str) -> Any:
        return parse(self.request("PUT", path, what=what, json_body=body))


def parse(response: httpx.Response) -> Any:
    """JSON with numbers kept exact: WooCommerce sends line-item prices as JSON numbers."""
    if not response.content:
        return None
    return json.loads(response.content, parse_float=Decimal)
