"""The BigCommerce emulator: one store, its state in memory.

Settings are what stores differ in (plan quota, locations), or what `../shared/contracts/storefronts.md` §3
leaves open ([U]): `empty_orders_204`, `auto_status_on_shipment`; and test speed-ups (`inventory_delay`,
`retry_intervals`, `throttle_reset_ms`).
"""

from __future__ import annotations

import hmac
import time
from collections import deque
from typing import Any

from fastapi.responses import Response

from dropbridge.sandbox.kit import Emulator

from .app import build_app
from .catalog import CatalogMixin
from .errors import v2_error, v3_error
from .inventory import InventoryMixin
from .metafields import MetafieldsMixin
from .orders import OrdersMixin
from .webhooks import REAL_RETRY_INTERVALS, WebhooksMixin


class BigCommerceEmulator(CatalogMixin, MetafieldsMixin, InventoryMixin, OrdersMixin, WebhooksMixin, Emulator):
    name = "bigcommerce"

    def __init__(
        self,
        store_hash: str = "abc123",
        access_token: str = "bc-token-0123456789",
        client_secret: str = "bc-client-secret",
        *,
        client_id: str = "bc-client-id",
        store_id: str = "1025646",
        currency: str = "USD",
        quota: int = 150,  # §3.6: Standard and Plus, per 30 s
        window_ms: int = 30_000,
        throttle_reset_ms: int = 1_000,
        inventory_delay: float = 0.5,
        inventory_batch_limit: int = 2000,  # §3.3
        retry_intervals: tuple[float, ...] = REAL_RETRY_INTERVALS,
        duplicate_deliveries: bool = False,
        notify_on_shipment: bool = True,
        auto_status_on_shipment: bool = True,  # §3.5 [U]
        empty_orders_204: bool = True,  # §3.7 [U]: 204 for an empty /v2/orders page (else 200 [])
        reduce_stock_on_order: bool = True,
        api_host: str = "https://api.bigcommerce.com",
        name: str | None = None,
    ):
        if name:
            self.name = name
        super().__init__(webhook_retry_delays=tuple(retry_intervals))
        self.store_hash = store_hash
        self.access_token = access_token
        self.client_secret = client_secret
        self.client_id = client_id
        self.store_id = store_id
        self.currency = currency
        self.quota = quota
        self.window_ms = window_ms
        self.throttle_reset_ms = throttle_reset_ms
        self.inventory_delay = inventory_delay
        self.inventory_batch_limit = inventory_batch_limit
        self.retry_intervals = tuple(retry_intervals)
        self.duplicate_deliveries = duplicate_deliveries
        self.notify_on_shipment = notify_on_shipment
        self.auto_status_on_shipment = auto_status_on_shipment
        self.empty_orders_204 = empty_orders_204
        self.reduce_stock_on_order = reduce_stock_on_order
        self.api_host = api_host
        self.default_location = 1
        self._lock = self.lock
        self._reset_state()
        self.app = build_app(self)

    def _reset_state(self) -> None:
        with self._lock:
            self._seq = 0
            self.products: dict[int, dict[str, Any]] = {}
            self.variants: dict[int, dict[str, Any]] = {}
            self.categories: dict[int, dict[str, Any]] = {}
            self.metafields: dict[int, dict[str, Any]] = {}
            self.uploads: dict[int, dict[str, Any]] = {}  # image id -> an uploaded image_file
            self.locations: dict[int, dict[str, Any]] = {}
            self._new_location(self.default_location, "Default location", "BC-LOCATION-1")
            self.orders: dict[int, dict[str, Any]] = {}
            self.hooks: dict[int, dict[str, Any]] = {}
            self.pending_adjustments: list[tuple[float, str, list[tuple]]] = []
            self.absolute_done: set[tuple[str, int, int]] = set()
            self.transactions: list[dict[str, Any]] = []
            self.emails: list[dict[str, Any]] = []
            self._event_seq = 0
            self.calls = 0
            self.rate_limited = 0  # 429s answered
            self._window_start = time.monotonic()
            self._used = 0
            self._throttled = 0
            self._faults: deque[int] = deque()
            self.sender.clear()

    def reset(self) -> None:
        self._reset_state()

    def _next_id(self) -> int:
        self._seq += 1
        return self._seq

    # ---- faults ------------------------------------------------------------------------------

    def throttle_next(self, calls: int) -> None:
        with self._lock:
            self._throttled += calls

    def fail_next(self, calls: int, status: int = 500) -> None:
        with self._lock:
            self._faults.extend([status] * calls)

    def api_calls(self) -> int:
        with self._lock:
            return self.calls

    # ---- the gate (gate.py) ------------------------------------------------------------------

    def _rate_headers(self, now: float) -> dict[str, str]:
        reset = max(0, int(self.window_ms - (now - self._window_start) * 1000))
        return {
            "X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
            "X-Rate-Limit-Time-Reset-Ms": str(reset),
            "X-Rate-Limit-Requests-Quota": str(self.quota),
            "X-Rate-Limit-Requests-Left": str(max(0, self.quota - self._used)),
        }

    def _gate(self, request_headers: dict[str, str], store_hash: str, version: str) -> tuple[Response | None, dict]:
        error = v3_error if version == "v3" else v2_error
        with self._lock:
            self.calls += 1
            now = time.monotonic()
            if (now - self._window_start) * 1000 >= self.window_ms:
                self._window_start = now
                self._used = 0
            if self._throttled > 0:
                self._throttled -= 1
                self.rate_limited += 1
                headers = self._rate_headers(now)
                headers.update(
                    {"X-Rate-Limit-Requests-Left": "0", "X-Rate-Limit-Time-Reset-Ms": str(self.throttle_reset_ms)}
                )
                return error(429, "Too many requests", headers=headers), {}
            if self._used >= self.quota:
                self.rate_limited += 1
                headers = self._rate_headers(now)
                return error(429, "Too many requests", headers=headers), {}
            self._used += 1
            headers = self._rate_headers(now)
            fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            return error(fault, "Internal Server Error", headers=headers), {}
        if store_hash != self.store_hash:
            return error(404, "Store not found", headers=headers), {}
        token = request_headers.get("x-auth-token", "")
        if not token or not hmac.compare_digest(token, self.access_token):
            return error(401, "Unauthorized: X-Auth-Token is missing or invalid", headers=headers), {}
        return None, headers


    # ---- what dropbridge needs -------------------------------------------------------------------

    def connection(self) -> dict[str, Any]:
        """What `dropbridge store add NAME --platform bigcommerce` takes (connectors/stores/bigcommerce
        from_config): the API token, the app's client secret (it signs webhooks) and the store hash."""
        return {"name": self.name, "base_url": self.url,
                "credentials": {"access_token": self.access_token, "client_secret": self.client_secret},
                "config": {"store_hash": self.store_hash, "location_id": self.default_location}}
