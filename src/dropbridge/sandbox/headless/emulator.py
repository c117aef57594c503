"""Emulator of a merchant's headless storefront backend: it RECEIVES dropbridge's signed events.

A headless store has no platform API of its own that we could call, so dropbridge's `headless`
connector pushes events to one URL of the merchant's backend, and this emulator plays that backend.

`POST /dropbridge/events`, JSON body, with headers
- `X-Dropbridge-Event`: the event type (below);
- `X-Dropbridge-Delivery`: the idempotency key. A repeat answers 200 with the original result and
  records nothing new;
- `X-Dropbridge-Timestamp`: unix seconds, rejected with 401 when more than 300 s from now;
- `X-Dropbridge-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.".encode() + raw_body)>`,
  401 when wrong.

Event types:
- `fulfillment.created` `{"order_external_id", "carrier", "tracking_number", "tracking_url",
  "lines": [{"external_line_id", "quantity"}], "notify_customer"}` -> 201 `{"fulfillment_id": "F-<n>"}`;
- `stock.updated` `{"updates": [{"sku", "external_variant_id", "quantity"}]}`, at most 500 per call
  (413 beyond) -> 200 `{"applied": n}`;
- `prices.updated` `{"updates": [{"sku", "external_variant_id", "price", "currency", "compare_at_price"}]}`,
  amounts as decimal strings (compare_at_price null: none), at most 500 per call (413 beyond) -> 200
  `{"applied": n}`;
- `product.published` a product draft `{"sku", "title", "description_html", "images", "vendor",
  "variants": [{"sku", "price", "currency", "compare_at_price", "options", "barcode", "quantity"}]}`
  -> 200 `{"product_id": <sku>, "variant_ids": {sku: sku}}`.
Errors: `{"error": {"code", "message", "field"?}}`; 400 for a malformed envelope, 422 for a bad body.

An order (headless order JSON, what the `headless` connector reads): `{"external_id", "currency", "email"?,
"number"?, "created_at"?, "ship_to": {...}, "shipping_price"?, "total_tax"?, "total_discounts"?, "total_price"?,
"lines": [{"external_id"?, "sku", "variant_id"?, "quantity", "unit_price", "tax"?, "discount"?, "title"?}]}`,
amounts as decimal strings.

Orders the other way: the store may offer an order list at `GET /orders?cursor=&since=` -> `{"orders":
[...], "next_cursor": str | null}` (bearer `orders_token` when set), fed in-process by `add_order`
or `POST /_control/orders`; and `send_event` POSTs a signed event (e.g. `order.created`) to dropbridge.

Fault injection (the kit's FaultQueue, operation `events`): `POST /_control/faults {"mode": "error_500" |
"rate_limit", "count": n, "retry_after": s}` or in-process `inject()`; consumed by the next `count` event
deliveries, which record nothing. Also `GET /_control/fulfillments`, `GET /_control/deliveries`, `POST /_control/reset`.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from typing import Any

import httpx

from dropbridge.sandbox.kit import Emulator

from . import events
from .app import build_app
from .signing import signature

FAULT_MODES = ("error_500", "rate_limit")


class HeadlessStoreEmulator(Emulator):
    name = "headless"
    fault_modes = FAULT_MODES

    def __init__(self, secret: str, orders_token: str | None = None, page_size: int = 50, name: str | None = None):
        if name:
            self.name = name
        super().__init__()
        self.secret = secret
        self.orders_token = orders_token
        self.page_size = page_size
        self._lock = self.lock
        self.reset()
        self.app = build_app(self)

    # ---- state -------------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._results: dict[str, tuple[int, Any]] = {}  # delivery key -> first answer
            self._fulfillments: list[dict[str, Any]] = []
            self._stock_updates: list[dict[str, Any]] = []
            self._stock: dict[str, int] = {}
            self._prices: dict[str, dict[str, Any]] = {}  # external variant id -> price, currency, compare-at
            self._price_updates: list[dict[str, Any]] = []
            self._products: dict[str, dict[str, Any]] = {}
            self._deliveries: list[dict[str, Any]] = []
            self._orders: list[dict[str, Any]] = []
            self.faults.clear()

    def inject(self, mode: str, count: int = 1, retry_after: float = 1.0) -> None:
        """Queue `count` faults for the next event deliveries."""
        self.faults.inject(mode, count, operation="events", retry_after=retry_after)

    def fulfillments(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._fulfillments)

    def stock_updates(self) -> list[dict[str, Any]]:
        """Every stock update applied, in order, across all calls."""
        with self._lock:
            return copy.deepcopy(self._stock_updates)

    def stock(self) -> dict[str, int]:
        """Current quantity per external variant id."""
        with self._lock:
            return dict(self._stock)

    def prices(self) -> dict[str, dict[str, Any]]:
        """Current price per external variant id: {"price", "currency", "compare_at_price"}."""
        with self._lock:
            return copy.deepcopy(self._prices)

    def price_updates(self) -> list[dict[str, Any]]:
        """Every price update applied, in order, across all calls."""
        with self._lock:
            return copy.deepcopy(self._price_updates)

    def products(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._products.values()))

    def deliveries(self) -> list[dict[str, Any]]:
        """Every event request: {"delivery_id", "event", "status", "duplicate"}."""
        with self._lock:
            return copy.deepcopy(self._deliveries)

    def seed_product(self, sku: str, quantity: int, price: str) -> str:
        """A product already in the store (as if published earlier); returns its variant id (the SKU)."""
        with self._lock:
            self._products[sku] = {"sku": sku, "title": f"Product {sku}", "variants": [
                {"sku": sku, "price": price, "quantity": quantity, "options": {}}]}
            self._stock[sku] = quantity
        return sku

    def add_order(self, order: dict[str, Any]) -> None:
        """Make an order (headless order JSON) appear in `GET /orders`."""
        with self._lock:
            self._orders.append(copy.deepcopy(order))

    def send_event(self, url: str, event_type: str, payload: Any, delivery_id: str | None = None) -> int:
        """POST a signed event to dropbridge, as the merchant's backend would; return the status."""
        raw = json.dumps(payload, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Dropbridge-Event": event_type,
            "X-Dropbridge-Delivery": delivery_id or str(uuid.uuid4()),
            "X-Dropbridge-Timestamp": timestamp,
            "X-Dropbridge-Signature": signature(self.secret, timestamp, raw),
        }
        with httpx.Client(timeout=httpx.Timeout(5.0), follow_redirects=False) as client:
            return client.post(url, content=raw, headers=headers).status_code

    # ---- event handling ----------------------------------------------------------------------

    def _handle(self, event: str, body: Any) -> tuple[int, Any]:
        if event not in ("fulfillment.created", "stock.updated", "prices.updated", "product.published"):
            return 400, {"error": {"code": "unknown_event", "message": f"unknown event type {event!r}"}}
        if not isinstance(body, dict):
            return 422, {"error": {"code": "invalid", "message": "body must be an object", "field": ""}}
        try:
            if event == "fulfillment.created":
                record = events.fulfillment(body)
                fulfillment_id = f"F-{len(self._fulfillments) + 1}"
                self._fulfillments.append({"fulfillment_id": fulfillment_id, **record})
                return 201, {"fulfillment_id": fulfillment_id}
            if event == "stock.updated":
                clean = events.stock_updates(body)
                for update in clean:
                    self._stock[update["external_variant_id"]] = update["quantity"]
                self._stock_updates.extend(clean)
                return 200, {"applied": len(clean)}
            if event == "prices.updated":
                clean = events.price_updates(body)
                for update in clean:
                    self._prices[update["external_variant_id"]] = {
                        k: update[k] for k in ("price", "currency", "compare_at_price")}
                self._price_updates.extend(clean)
                return 200, {"applied": len(clean)}
            sku, variant_ids = events.product(body)
            self._products[sku] = copy.deepcopy(body)
            for variant in body["variants"]:  # a product published with stock holds that stock
                if isinstance(variant.get("quantity"), int):
                    self._stock.setdefault(variant_ids[variant["sku"]], variant["quantity"])
                self._prices[variant_ids[variant["sku"]]] = {
                    "price": variant["price"], "currency": variant.get("currency"),
                    "compare_at_price": variant.get("compare_at_price")}
            return 200, {"product_id": sku, "variant_ids": variant_ids}
        except events.TooLarge as exc:
            return 413, {"error": {"code": "too_large", "message": str(exc)}}
        except events.Invalid as exc:
            return 422, {"error": {"code": "invalid", "message": str(exc), "field": exc.field}}

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def events_url(self) -> str:
        return f"{self.url}/dropbridge/events"

    def connection(self) -> dict[str, Any]:
        """What `dropbridge store add NAME --platform headless` takes (connectors/stores/headless
        from_config): the events URL as base_url, the shared secret, and the order list when offered."""
        credentials: dict[str, Any] = {"webhook_secret": self.secret}
        config: dict[str, Any] = {}
        if self.orders_token is not None:
            credentials["api_token"] = self.orders_token
        config["orders_url"] = f"{self.url}/orders"
        return {"name": self.name, "base_url": self.events_url, "credentials": credentials, "config": config}
