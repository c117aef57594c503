"""The WooCommerce emulator: one WordPress site with WooCommerce, its state in memory.

Settings are what sites differ in, or what `../shared/contracts/storefronts.md` §2 leaves open:
- `ssl`: whether WordPress sees TLS (`is_ssl()`): False for a site on plain http (then only OAuth 1.0a
  signatures authenticate, §2.1), True for one on https or behind a proxy that tells it so (then Basic and
  query-string keys too).
- `batch_limit` (the `woocommerce_rest_batch_items_limit` filter, §2.3), `max_delivery_failures` (§2.2),
  `delivery_delay` (Action Scheduler's lag), `send_ping`, a host limiter (`rate_limit`, `retry_after`;
  §2.6), `shipment_tracking_plugin` (§2.5), `reduce_stock_on_order`.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from fastapi.responses import Response

from dropbridge.sandbox.kit import Emulator

from .app import build_app
from .auth import ApiKey, Authenticator
from .catalog import UNCATEGORIZED, CatalogMixin
from .errors import error
from .orders import OrdersMixin
from .webhooks import WebhooksMixin


class WooCommerceEmulator(CatalogMixin, OrdersMixin, WebhooksMixin, Emulator):
    name = "woocommerce"

    def __init__(
        self,
        consumer_key: str = "ck_test_0123456789",
        consumer_secret: str = "cs_test_0123456789",
        *,
        read_only_keys: dict[str, str] | None = None,
        ssl: bool = False,
        site_url: str = "https://shop.example/",
        currency: str = "USD",
        batch_limit: int = 100,
        max_delivery_failures: int = 5,
        delivery_delay: float = 0.0,
        send_ping: bool = True,
        retry_after: str | None = "1",
        rate_limit: tuple[int, float] | None = None,
        shipment_tracking_plugin: bool = False,
        reduce_stock_on_order: bool = True,
        wc_version: str = "9.0.0",
        name: str | None = None,
    ):
        if name:
            self.name = name
        # §2.2: no retries; 200-302 counts as delivered.
        super().__init__(webhook_retry_delays=(), webhook_success=range(200, 303))
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.keys: dict[str, ApiKey] = {consumer_key: ApiKey(consumer_key, consumer_secret, "read_write")}
        for ck, cs in (read_only_keys or {}).items():
            self.keys[ck] = ApiKey(ck, cs, "read")
        self.ssl = ssl
        self.auth = Authenticator(self.keys, ssl=lambda: self.ssl)
        self.site_url = site_url
        self.currency = currency
        self.currency_symbol = {"USD": "&#36;", "EUR": "&euro;", "GBP": "&pound;"}.get(currency, currency)
        self.batch_limit = batch_limit
        self.max_delivery_failures = max_delivery_failures
        self.delivery_delay = delivery_delay
        self.send_ping = send_ping
        self.retry_after = retry_after
        self.rate_limit = rate_limit
        self.shipment_tracking_plugin = shipment_tracking_plugin
        self.reduce_stock_on_order = reduce_stock_on_order
        self.wc_version = wc_version
        self._lock = self.lock
        self._reset_state()
        self.app = build_app(self)

    # ---- state -------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        with self._lock:
            self._seq = 100  # posts (products, variations, orders, media) share one id space, as in WordPress
            self._item_seq = 1000
            self._note_seq = 5000
            self._hook_seq = 0
            self.products: dict[int, dict[str, Any]] = {}  # products and variations (type "variation")
            self.categories: dict[int, dict[str, Any]] = {UNCATEGORIZED["id"]: dict(UNCATEGORIZED)}
            self.media: dict[int, dict[str, Any]] = {}
            self.orders: dict[int, dict[str, Any]] = {}
            self.notes: dict[int, list[dict[str, Any]]] = {}
            self.refunds: dict[int, list[dict[str, Any]]] = {}  # order id -> its refunds, newest first
            self.webhooks: dict[int, dict[str, Any]] = {}
            self._pending: set[tuple[int, int]] = set()
            self.emails: list[dict[str, Any]] = []
            self.calls = 0
            self._faults: deque[int] = deque()  # statuses to answer instead of serving
            self._window: deque[float] = deque()
            self.sender.clear()
            for key in self.keys.values():
                key.nonces.clear()

    def reset(self) -> None:
        self._reset_state()

    def _next_id(self) -> int:
        self._seq += 1
        return self._seq

    def _next_item_id(self) -> int:
        self._item_seq += 1
        return self._item_seq

    def _next_meta_id(self) -> int:
        return self._next_item_id()

    # ---- faults and the host's limiter (§2.6) -----------------------------------------------------

    def throttle_next(self, calls: int) -> None:
        with self._lock:
            self._faults.extend([429] * calls)

    def fail_next(self, calls: int, status: int = 500) -> None:
        with self._lock:
            self._faults.extend([status] * calls)

    def api_calls(self) -> int:
        with self._lock:
            return self.calls

    def _host_limit(self) -> Response | None:
        """Count the call; answer as the host would when throttled or failing, else None."""
        with self._lock:
            self.calls += 1
            fault = self._faults.popleft() if self._faults else None
            if fault is None and self.rate_limit is not None:
                limit, window = self.rate_limit
                now = time.monotonic()
                while self._window and self._window[0] <= now - window:
                    self._window.popleft()
                if len(self._window) >= limit:
                    fault = 429
                else:
                    self._window.append(now)
        if fault == 429:
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            return Response(b"", 429, headers=headers)  # a host/WAF limiter: bare, no WooCommerce envelope
        if fault is not None:
            return error(fault, "internal_server_error", "There has been a critical error on this website.")
        return None

    # ---- what dropbridge needs -------------------------------------------------------------------

    def connection(self) -> dict[str, Any]:
        """What `dropbridge store add NAME --platform woocommerce` takes (connectors/stores/woocommerce
        from_config): the REST API keys and a webhook secret; `auth` says how to sign for this site."""
        config: dict[str, Any] = {"auth": "basic" if self.ssl else "oauth1"}
        if self.rate_limit is not None:  # the host's limiter, as its merchant would state it
            config["rate_limit"] = f"{self.rate_limit[0]}/{self.rate_limit[1]:g}"
        return {"name": self.name, "base_url": self.url,
                "credentials": {"consumer_key": self.consumer_key, "consumer_secret": self.consumer_secret,
                                "webhook_secret": f"whsec-{self.consumer_secret[-8:]}"},
                "config": config}


