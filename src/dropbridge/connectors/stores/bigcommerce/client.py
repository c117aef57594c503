"""BigCommerce REST (v2 and v3) over HTTP: auth, the per-store request quota, bounded retries.

Every response carries `X-Rate-Limit-Requests-Left` and `X-Rate-Limit-Time-Reset-Ms`. When the quota is
spent we pause until the window resets instead of collecting a 429; a 429 itself is waited out (the
reset header, else Retry-After / X-Retry-After, else exponential backoff) within a bounded budget.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from dropbridge.connectors.kit.http import build_client, retry_after_seconds, send
from dropbridge.domain.errors import RateLimited, RetryableError

DEFAULT_BASE_URL = "https://api.bigcommerce.com"
# https://developer.bigcommerce.com/docs/rest-management/orders#get-all-orders
ORDERS = "/v2/orders"
# https://developer.bigcommerce.com/docs/rest-management/orders#get-an-order
ORDER = "/v2/orders/{order_id}"
# https://developer.bigcommerce.com/docs/rest-management/orders/order-products#list-order-products
ORDER_PRODUCTS = "/v2/orders/{order_id}/products"
# https://developer.bigcommerce.com/docs/rest-management/orders/order-refunds
ORDER_REFUNDS = "/v3/orders/{order_id}/payment_actions/refunds"
# https://developer.bigcommerce.com/docs/rest-management/orders/order-shipping-addresses#list-order-shipping-addresses
ORDER_ADDRESSES = "/v2/orders/{order_id}/shipping_addresses"
# https://developer.bigcommerce.com/docs/rest-management/orders/order-shipments#create-order-shipment
ORDER_SHIPMENTS = "/v2/orders/{order_id}/shipments"
# https://developer.bigcommerce.com/docs/rest-catalog/products#create-a-product
PRODUCTS = "/v3/catalog/products"
# https://developer.bigcommerce.com/docs/rest-catalog/product-variants#get-all-product-variants
PRODUCT_VARIANTS = "/v3/catalog/products/{product_id}/variants"
# https://developer.bigcommerce.com/docs/rest-catalog/product-variants#update-variants-batch
VARIANTS_BATCH = "/v3/catalog/variants"
# https://developer.bigcommerce.com/docs/rest-catalog/product-variants/metafields (storefronts.md §3.9)
VARIANT_METAFIELDS = "/v3/catalog/products/{product_id}/variants/{variant_id}/metafields"
VARIANT_METAFIELD = "/v3/catalog/products/{product_id}/variants/{variant_id}/metafields/{metafield_id}"
# https://developer.bigcommerce.com/docs/rest-catalog/product-variants/batch-metafields (§3.9)
VARIANTS_METAFIELDS = "/v3/catalog/variants/metafields"
# https://developer.bigcommerce.com/docs/rest-catalog/products/images#create-a-product-image
PRODUCT_IMAGES = "/v3/catalog/products/{product_id}/images"
# https://developer.bigcommerce.com/docs/rest-catalog/products#update-a-product
PRODUCT = "/v3/catalog/products/{product_id}"
# https://developer.bigcommerce.com/docs/rest-catalog/product-variants/product-variant-options
PRODUCT_OPTIONS = "/v3/catalog/products/{product_id}/options"
OPTION_VALUES = "/v3/catalog/products/{product_id}/options/{option_id}/values"
OPTION_VALUE = "/v3/catalog/products/{product_id}/options/{option_id}/values/{value_id}"
# https://developer.bigcommerce.com/docs/rest-catalog/categories
CATEGORIES = "/v3/catalog/categories"
# https://developer.bigcommerce.com/docs/rest-management/inventory/adjustments#absolute-adjustment
INVENTORY_ABSOLUTE = "/v3/inventory/adjustments/absolute"
# https://developer.bigcommerce.com/docs/integrations/webhooks#create-a-webhook
HOOKS = "/v3/hooks"
# https://developer.bigcommerce.com/docs/integrations/webhooks#update-a-webhook
HOOK = "/v3/hooks/{hook_id}"


class BigCommerceClient:
    def __init__(
        self,
        store_hash: str,
        access_token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | None = None,
        transport: httpx.BaseTransport | None = None,
        max_attempts: int = 5,
        max_wait: float = 60.0,
        backoff_base: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._http = build_client(
            f"{base_url.rstrip('/')}/stores/{store_hash}",
            headers={"X-Auth-Token": access_token, "Accept": "application/json", "User-Agent": "dropbridge"},
            timeout=timeout,
            transport=transport,
        )
        # Read the quota headers of every response, errors included, before send() classifies it.
        self._http.event_hooks["response"].append(self._observe)
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.backoff_base = backoff_base
        self._sleep = sleep
        self._monotonic = monotonic
        self._pause_until = 0.0
        self._last_reset: float | None = None
        self.calls = 0  # requests sent, retries included
        self.paused = 0.0  # seconds spent waiting for the quota, for tests and metrics

    def close(self) -> None:
        self._http.close()

    def _observe(self, response: httpx.Response) -> None:
        left = response.headers.get("X-Rate-Limit-Requests-Left")
        reset_ms = response.headers.get("X-Rate-Limit-Time-Reset-Ms")
        self._last_reset = None
        if reset_ms is not None:
            try:
                self._last_reset = max(0.0, float(reset_ms) / 1000)
            except ValueError:
                self._last_reset = None
        if self._last_reset is None and response.status_code == 429:
            self._last_reset = retry_after_seconds(response.headers.get("X-Retry-After"))
        if left is not None and self._last_reset is not None:
            try:
                exhausted = int(left) <= 0
            except ValueError:
                exhausted = False
            if exhausted:
                self._pause_until = max(self._pause_until, self._monotonic() + self._last_reset)

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)
            self.paused += seconds

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        accept: tuple[int, ...] = (),
    ) -> httpx.Response:
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            self._wait(self._pause_until - self._monotonic())
            self.calls += 1
            try:
                kwargs: dict[str, Any] = {"params": params or {}}
                if json_body is not None:
                    kwargs["content"] = dumps(json_body)
                    kwargs["headers"] = {"Content-Type": "application/json"}
                elif files is not None:
                    kwargs["files"] = files
                return send(self._http, method, path, what=what, accept=accept, **kwargs)
            except RetryableError as exc:
                if not isinstance(exc, RateLimited) and method != "GET":
                    raise  # a write that failed with 5xx or a timeout has an unknown outcome
                if isinstance(exc, RateLimited) and self._last_reset is not None:
                    delay = self._last_reset
                else:
                    delay = exc.retry_after if exc.retry_after is not None else self.backoff_base * 2 ** (attempt - 1)
                if attempt >= self.max_attempts or waited + delay > self.max_wait:
                    if isinstance(exc, RateLimited) and exc.retry_after is None:
                        exc.retry_after = delay
                    raise
                self._pause_until = max(self._pause_until, self._monotonic() + delay)
                waited += delay

    def get(self, path: str, *, what: str, params: dict[str, Any] | None = None) -> Any:
        return parse(self.request("GET", path, what=what, params=params))

    def post(self, path: str, body: Any, *, what: str) -> Any:
        return parse(self.request("POST", path, what=what, json_body=body))

    def put(self, path: str, body: Any, *, what: str) -> Any:
        return parse(self.request("PUT", path, what=what, json_body=body))

    def upload(self, path: str, field: str, name: str, data: bytes, content_type: str, *, what: str) -> Any:
        """A multipart/form-data POST of one file."""
        return parse(self.request("POST", path, what=what, files={field: (name, data, content_type)}))


def dumps(body: Any) -> bytes:
    """v3 takes prices as JSON numbers: a Decimal is written in its shortest round-trip form."""
    return json.dumps(body, default=_number, separators=(",", ":")).encode()


def _number(value: Any) -> float:
    if isinstance(value, Decimal):
        number = float(value)
        if Decimal(repr(number)) != value:
            raise ValueError(f"{value} does not survive as a JSON number")
        return number
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def parse(response: httpx.Response) -> Any:
    """JSON with numbers kept exact; None for 204 (v2 answers 204 for empty collections)."""
    if response.status_code == 204 or not response.content:
        return None
    return json.loads(response.content, parse_float=Decimal)
