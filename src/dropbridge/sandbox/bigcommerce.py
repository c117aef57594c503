"""Emulator of the BigCommerce REST API (v2 Orders, v3 Catalog/Inventory/Webhooks), per
../shared/contracts/storefronts.md §3.

What it reproduces (and the connector must cope with):

- Auth: `X-Auth-Token` on `/stores/{store_hash}/v2|v3/...`. Missing or wrong token: 401; unknown store
  hash: 404.
- Errors: v3 `{"status", "title", "type", "errors"}`; v2 a bare array `[{"status", "message"}]`.
- Rate limit: a quota of `quota` requests per `window_ms`, shared by every call; each response carries
  `X-Rate-Limit-Time-Window-Ms`, `X-Rate-Limit-Time-Reset-Ms`, `X-Rate-Limit-Requests-Quota` and
  `X-Rate-Limit-Requests-Left`; over quota (or `throttle_next(n)`): 429 with those headers.
- Pagination: v3 `page`/`limit` with `meta.pagination`; v2 `page`/`limit`, bare arrays, 204 when empty.
- Catalog: `POST /v3/catalog/products` (one product, inline variants whose `option_values`
  `{option_display_name, label}` create options implicitly, inline images), `GET ...?sku=`,
  `include=variants`; `PUT /v3/catalog/variants` (<= 50, else 413) and `PUT /v3/catalog/products`
  (<= 10, else 413). SKUs are unique case-insensitively (409).
- Inventory: `PUT /v3/inventory/adjustments/absolute` (<= `inventory_batch_limit` items, else 413)
  answers `{"transaction_id"}` at once and applies `inventory_delay` seconds later; an item is named by
  exactly one of `variant_id`, `sku`, `product_id`; a variant of a product tracked by product answers
  422. Read back with `GET /v3/inventory/items` or `/v3/inventory/locations/{id}/items`.
- Orders (v2): `GET /v2/orders` (excludes incomplete orders unless `status_id=0`), `GET/PUT
  /v2/orders/{id}`, `GET .../products`, `GET .../shipping_addresses`, `GET/POST .../shipments` (GET
  answers 204 when there are none). Money is a string with 4 decimals; dates are RFC 2822.
  A shipment emails the customer (`notify_on_shipment`) and, [U], moves the order to Shipped (2) or
  Partially Shipped (3) (`auto_status_on_shipment`).
- Webhooks: `POST/GET/PUT/DELETE /v3/hooks`. Thin payloads `{scope, store_id, data: {type, id}, hash,
  created_at, producer}`; Standard Webhooks headers `webhook-id` (stable across retries),
  `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256(client_secret,
  "{id}.{timestamp}.{body}")>`, plus the hook's custom `headers`. A non-2xx answer is retried after
  each of `retry_intervals` seconds; after the last the hook becomes `is_active: false`.
  `duplicate_deliveries=True` sends each event twice (different `webhook-id`, same `hash`).
  `store/order/created` also fires for incomplete (status 0) orders.

Control endpoints (no auth, not counted) under `/_control`: `POST /orders`, `POST /throttle`,
`POST /fail`, `GET /stock/{variant_id}`, `GET /shipments/{order_id}`, `GET /calls`, `GET /deliveries`;
and the same in-process.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import heapq
import hmac
import json
import re
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from dropbridge.connectors.kit.http import build_client
from dropbridge.sandbox.kit.controls import add_common_controls
from dropbridge.sandbox.kit.server import RunningServer, start_server

API_PATH = re.compile(r"^/stores/([^/]+)/(v2|v3)(/.*)?$")
ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
STATUSES = {
    0: "Incomplete",
    1: "Pending",
    2: "Shipped",
    3: "Partially Shipped",
    4: "Refunded",
    5: "Cancelled",
    6: "Declined",
    7: "Awaiting Payment",
    8: "Awaiting Pickup",
    9: "Awaiting Shipment",
    10: "Completed",
    11: "Awaiting Fulfillment",
    12: "Manual Verification Required",
    13: "Disputed",
    14: "Partially Refunded",
}
SHIPPING_PROVIDERS = {
    "",
    "auspost",
    "canadapost",
    "endicia",
    "usps",
    "fedex",
    "royalmail",
    "ups",
    "upsready",
    "shipperhq",
}
PROVIDER_NAMES = {
    "ups": "UPS",
    "upsready": "UPS",
    "usps": "USPS",
    "fedex": "FedEx",
    "royalmail": "Royal Mail",
    "canadapost": "Canada Post",
    "auspost": "Australia Post",
    "endicia": "Endicia",
}
REAL_RETRY_INTERVALS = (60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400)
DELIVERY_TIMEOUT = 5.0


class _BcError(Exception):
    def __init__(self, status: int, title: str, errors: dict[str, Any] | None = None):
        super().__init__(title)
        self.status = status
        self.title = title
        self.errors = errors or {}


def _v3_error(status: int, title: str, errors: dict[str, Any] | None = None, headers=None) -> Response:
    body = {"status": status, "title": title, "type": ERROR_TYPE, "errors": errors or {}}
    return JSONResponse(body, status, headers=headers, media_type="application/problem+json")


def _v2_error(status: int, message: str, headers=None) -> Response:
    return JSONResponse([{"status": status, "message": message}], status, headers=headers)


def _money(value: Decimal) -> str:
    return f"{value:.4f}"


def _rfc2822(dt: datetime) -> str:
    return format_datetime(dt.astimezone(UTC)).replace("-0000", "+0000")


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def sign(client_secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks v1 signature, keyed by the raw client-secret bytes."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(client_secret.encode(), signed, hashlib.sha256).digest()).decode()


class BigCommerceEmulator:
    def __init__(
        self,
        store_hash: str = "abc123",
        access_token: str = "bc-token-0123456789",
        client_secret: str = "bc-client-secret",
        *,
        client_id: str = "bc-client-id",
        store_id: str = "1025646",
        currency: str = "USD",
        quota: int = 150,
        window_ms: int = 30_000,
        throttle_reset_ms: int = 1_000,
        inventory_delay: float = 0.5,
        inventory_batch_limit: int = 2000,
        retry_intervals: tuple[float, ...] = REAL_RETRY_INTERVALS,
        duplicate_deliveries: bool = False,
        notify_on_shipment: bool = True,
        auto_status_on_shipment: bool = True,
        reduce_stock_on_order: bool = True,
    ):
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
        self.reduce_stock_on_order = reduce_stock_on_order
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: RunningServer | None = None
        self._http: httpx.Client | None = None
        self._reset_state()
        self.app = self._build_app()

    # ---- state -------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        with self._lock:
            self._seq = 0
            self.products: dict[int, dict[str, Any]] = {}
            self.variants: dict[int, dict[str, Any]] = {}
            self.options: dict[int, dict[str, Any]] = {}
            self.orders: dict[int, dict[str, Any]] = {}
            self.hooks: dict[int, dict[str, Any]] = {}
            self.pending_adjustments: list[tuple[float, str, list[dict[str, Any]]]] = []
            self.transactions: list[dict[str, Any]] = []
            self.deliveries: list[dict[str, Any]] = []
            self.emails: list[dict[str, Any]] = []
            self._schedule: list[tuple[float, int, dict[str, Any]]] = []  # (due, seq, attempt)
            self._event_seq = 0
            self._inflight = 0
            self.calls = 0
            self.rate_limited = 0  # 429s answered
            self._window_start = time.monotonic()
            self._used = 0
            self._throttled = 0
            self._faults: deque[int] = deque()

    def reset(self) -> None:
        self._reset_state()

    def _next_id(self) -> int:
        self._seq += 1
        return self._seq

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> str:
        self._stop.clear()
        self._http = build_client(timeout=DELIVERY_TIMEOUT)
        self._thread = threading.Thread(target=self._deliver_loop, name="bc-webhooks", daemon=True)
        self._thread.start()
        self._server = start_server(self.app)
        return self._server.url

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return self._server.url

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> BigCommerceEmulator:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- in-process accessors and faults -----------------------------------------------------

    def throttle_next(self, calls: int) -> None:
        with self._lock:
            self._throttled += calls

    def fail_next(self, calls: int, status: int = 500) -> None:
        with self._lock:
            self._faults.extend([status] * calls)

    def api_calls(self) -> int:
        with self._lock:
            return self.calls

    def stock_of(self, variant_id: int | str) -> int:
        """What the store shows now (asynchronous adjustments not yet applied are not visible)."""
        with self._lock:
            self._settle()
            variant = self.variants[int(variant_id)]
            product = self.products[variant["product_id"]]
            if product["inventory_tracking"] == "product":
                return product["inventory_level"]
            return variant["inventory_level"]

    def wait_inventory(self, timeout: float = 10.0) -> None:
        """Block until every accepted inventory adjustment has been applied."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                self._settle()
                if not self.pending_adjustments:
                    return
                wait = min(t for t, _, _ in self.pending_adjustments) - time.monotonic()
            time.sleep(max(0.005, min(wait, 0.05)))
        raise TimeoutError("inventory adjustments still pending")

    def product(self, product_id: int | str) -> dict[str, Any]:
        with self._lock:
            return self._product_view(self.products[int(product_id)], include_variants=True)

    def order(self, order_id: int | str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.orders[int(order_id)])

    def shipments_of(self, order_id: int | str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self.orders[int(order_id)]["shipments"])

    def fulfillments_of(self, order_id: int | str) -> list[dict[str, Any]]:
        with self._lock:
            out = []
            for s in self.orders[int(order_id)]["shipments"]:
                notified = any(m["shipment_id"] == s["id"] for m in self.emails)
                out.append(
                    {
                        "tracking_number": s["tracking_number"],
                        "carrier": PROVIDER_NAMES.get(s["shipping_provider"], s["shipping_provider"])
                        or s["tracking_carrier"],
                        "tracking_url": s["tracking_link"] or s["generated_tracking_link"] or None,
                        "notified": notified,
                    }
                )
            return out

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self.deliveries)

    def wait_deliveries(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._schedule and not self._inflight:
                    return
            time.sleep(0.01)
        raise TimeoutError("webhook deliveries still scheduled")

    # ---- catalog -----------------------------------------------------------------------------

    def _sku_owner(self, sku: str) -> int | None:
        if not sku:
            return None
        low = sku.lower()
        for p in self.products.values():
            if p["sku"].lower() == low:
                return p["id"]
        for v in self.variants.values():
            if v["sku"].lower() == low:
                return v["id"]
        return None

    def _option_value(self, product: dict[str, Any], display: str, label: str) -> dict[str, Any]:
        option = next((o for o in product["_options"] if o["display_name"] == display), None)
        if option is None:
            option = {
                "id": self._next_id(),
                "product_id": product["id"],
                "display_name": display,
                "type": "dropdown",
                "option_values": [],
            }
            product["_options"].append(option)
        value = next((v for v in option["option_values"] if v["label"] == label), None)
        if value is None:
            value = {"id": self._next_id(), "label": label, "sort_order": len(option["option_values"])}
            option["option_values"].append(value)
        return {"id": value["id"], "label": label, "option_id": option["id"], "option_display_name": display}

    def add_product(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a product as `POST /v3/catalog/products` would; raises _BcError on bad input."""
        with self._lock:
            missing = [f for f in ("name", "type", "weight", "price") if body.get(f) in (None, "")]
            if missing:
                raise _BcError(422, "JSON data is missing or invalid", {f: f"{f} is required" for f in missing})
            if any(p["name"] == body["name"] for p in self.products.values()):
                raise _BcError(409, f"The product name is a duplicate: {body['name']}")
            skus = [body.get("sku") or ""] + [v.get("sku") or "" for v in body.get("variants") or []]
            seen: set[str] = set()
            for sku in skus:
                if sku and (sku.lower() in seen or self._sku_owner(sku) is not None):
                    raise _BcError(409, f"Sku {sku} is not unique")
                if sku:
                    seen.add(sku.lower())
            tracking = body.get("inventory_tracking", "none")
            if tracking not in ("none", "product", "variant"):
                raise _BcError(422, "JSON data is missing or invalid", {"inventory_tracking": "invalid"})
            pid = self._next_id()
            product = {
                "id": pid,
                "name": body["name"],
                "type": body["type"],
                "sku": body.get("sku") or "",
                "description": body.get("description", ""),
                "weight": Decimal(str(body["weight"])),
                "price": Decimal(str(body["price"])),
                "sale_price": Decimal(str(body.get("sale_price") or 0)),
                "retail_price": Decimal(str(body.get("retail_price") or 0)),
                "categories": list(body.get("categories") or []),
                "inventory_tracking": tracking,
                "inventory_level": int(body.get("inventory_level") or 0),
                "is_visible": bool(body.get("is_visible", True)),
                "images": [
                    {
                        "id": self._next_id(),
                        "product_id": pid,
                        "image_url": i.get("image_url", ""),
                        "is_thumbnail": bool(i.get("is_thumbnail")),
                        "sort_order": i.get("sort_order", n),
                        "description": i.get("description", ""),
                    }
                    for n, i in enumerate(body.get("images") or [])
                ],
                "variants": [],
                "_options": [],
                "date_created": datetime.now(UTC).isoformat(),
            }
            self.products[pid] = product
            drafts = body.get("variants") or []
            if not drafts:  # the base variant every product has
                drafts = [{"sku": product["sku"], "price": None, "option_values": []}]
            for draft in drafts:
                vid = self._next_id()
                values = [
                    self._option_value(product, ov["option_display_name"], ov["label"])
                    for ov in draft.get("option_values") or []
                ]
                self.variants[vid] = {
                    "id": vid,
                    "product_id": pid,
                    "sku": draft.get("sku") or "",
                    "price": None if draft.get("price") is None else Decimal(str(draft["price"])),
                    "sale_price": None if draft.get("sale_price") is None else Decimal(str(draft["sale_price"])),
                    "retail_price": None if draft.get("retail_price") is None else Decimal(str(draft["retail_price"])),
                    "inventory_level": int(draft.get("inventory_level") or 0),
                    "option_values": values,
                }
                product["variants"].append(vid)
            product["base_variant_id"] = product["variants"][0]
            return self._product_view(product, include_variants=True)

    def _variant_view(self, v: dict[str, Any]) -> dict[str, Any]:
        product = self.products[v["product_id"]]
        return {
            "id": v["id"],
            "product_id": v["product_id"],
            "sku": v["sku"],
            "price": _num(v["price"]),
            "calculated_price": _num(v["price"] if v["price"] is not None else product["price"]),
            "sale_price": _num(v["sale_price"]),
            "retail_price": _num(v["retail_price"]),
            "inventory_level": v["inventory_level"],
            "option_values": copy.deepcopy(v["option_values"]),
        }

    def _product_view(self, p: dict[str, Any], include_variants: bool = False) -> dict[str, Any]:
        view = {k: copy.deepcopy(v) for k, v in p.items() if not k.startswith("_") and k != "variants"}
        for name in ("weight", "price", "sale_price", "retail_price"):
            view[name] = float(p[name])
        if p["inventory_tracking"] == "variant":
            view["inventory_level"] = sum(self.variants[v]["inventory_level"] for v in p["variants"])
        if include_variants:
            view["variants"] = [self._variant_view(self.variants[v]) for v in p["variants"]]
        return view

    # ---- inventory ---------------------------------------------------------------------------

    def _resolve_item(self, item: dict[str, Any], index: int) -> tuple[str, int]:
        keys = [k for k in ("variant_id", "sku", "product_id") if item.get(k) not in (None, "")]
        if len(keys) != 1:
            raise _BcError(422, f"items.{index}: exactly one of variant_id, sku, product_id is required")
        key = keys[0]
        if key == "product_id":
            product = self.products.get(item["product_id"])
            if product is None:
                raise _BcError(422, f"[Product with id {item['product_id']} not found]")
            if product["inventory_tracking"] == "variant":
                raise _BcError(
                    422, f"[Product with id {product['id']} is tracked by variant, please update stock by variant id]"
                )
            return "product", product["id"]
        if key == "sku":
            owner = self._sku_owner(item["sku"])
            if owner is None:
                raise _BcError(422, f"[Item with sku {item['sku']} not found]")
            if owner in self.products:
                return "product", owner
            vid = owner
        else:
            vid = item["variant_id"]
        variant = self.variants.get(vid)
        if variant is None:
            raise _BcError(422, f"[Item with variant_id {vid} not found]")
        if self.products[variant["product_id"]]["inventory_tracking"] == "product":
            raise _BcError(
                422, f"[Item with variant_id {vid} is tracked by product, please update stock by product id]"
            )
        return "variant", vid

    def _settle(self) -> None:
        now = time.monotonic()
        due = [a for a in self.pending_adjustments if a[0] <= now]
        if not due:
            return
        self.pending_adjustments = [a for a in self.pending_adjustments if a[0] > now]
        for _, _, items in sorted(due, key=lambda a: a[0]):
            for kind, ident, qty in items:
                target = self.products[ident] if kind == "product" else self.variants[ident]
                target["inventory_level"] = qty

    # ---- orders ------------------------------------------------------------------------------

    def create_order(
        self,
        lines: list[dict[str, Any]],
        *,
        currency: str | None = None,
        status_id: int = 11,
        email: str = "shopper@example.com",
        shipping_cost: str = "0.00",
        address: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A shopper checks out: lines are {"sku", "quantity", "price"?, "tax"?, "discount"?}."""
        with self._lock:
            self._settle()
            now = datetime.now(UTC)
            oid = 100 + self._next_id()
            addr = {
                "first_name": "Grace",
                "last_name": "Hopper",
                "company": "",
                "street_1": "1 Navy Way",
                "street_2": "",
                "city": "Arlington",
                "state": "Virginia",
                "zip": "22202",
                "country": "United States",
                "country_iso2": "US",
                "phone": "555-0100",
                "email": email,
            }
            addr.update(address or {})
            address_id = self._next_id()
            products = []
            subtotal = tax_total = discount_total = Decimal(0)
            items_total = 0
            for line in lines:
                owner = self._sku_owner(line["sku"])
                if owner is None:
                    raise _BcError(400, f"no product with SKU {line['sku']}")
                if owner in self.products:
                    product = self.products[owner]
                    variant = self.variants[product["base_variant_id"]]
                else:
                    variant = self.variants[owner]
                    product = self.products[variant["product_id"]]
                qty = int(line["quantity"])
                default = variant["price"] if variant["price"] is not None else product["price"]
                unit = Decimal(str(line.get("price") or default))
                tax = Decimal(str(line.get("tax", "0")))
                discount = Decimal(str(line.get("discount", "0")))
                total_ex = unit * qty - discount
                products.append(
                    {
                        "id": self._next_id(),
                        "order_id": oid,
                        "product_id": product["id"],
                        "variant_id": variant["id"],
                        "order_address_id": address_id,
                        "name": product["name"],
                        "sku": variant["sku"] or product["sku"],
                        "type": "physical",
                        "base_price": _money(unit),
                        "price_ex_tax": _money(unit),
                        "price_inc_tax": _money(unit + tax / qty),
                        "price_tax": _money(tax / qty),
                        "base_total": _money(unit * qty),
                        "total_ex_tax": _money(total_ex),
                        "total_inc_tax": _money(total_ex + tax),
                        "total_tax": _money(tax),
                        "quantity": qty,
                        "quantity_shipped": 0,
                        "applied_discounts": [
                            {"id": "coupon", "amount": _money(discount), "name": "", "code": None, "target": "order"}
                        ]
                        if discount
                        else [],
                        "product_options": [
                            {
                                "display_name": ov["option_display_name"],
                                "display_value": ov["label"],
                                "option_id": ov["option_id"],
                                "value": str(ov["id"]),
                            }
                            for ov in variant["option_values"]
                        ],
                    }
                )
                subtotal += unit * qty
                tax_total += tax
                discount_total += discount
                items_total += qty
                if self.reduce_stock_on_order and status_id not in (0,):
                    target = product if product["inventory_tracking"] == "product" else variant
                    if product["inventory_tracking"] != "none":
                        target["inventory_level"] -= qty
            ship = Decimal(shipping_cost)
            base = f"{self.url if self._server else ''}/stores/{self.store_hash}/v2/orders/{oid}"
            order = {
                "id": oid,
                "customer_id": 0,
                "date_created": _rfc2822(now),
                "date_modified": _rfc2822(now),
                "date_shipped": "",
                "status_id": status_id,
                "status": STATUSES[status_id],
                "currency_code": currency or self.currency,
                "default_currency_code": self.currency,
                "subtotal_ex_tax": _money(subtotal),
                "subtotal_inc_tax": _money(subtotal + tax_total),
                "subtotal_tax": _money(tax_total),
                "shipping_cost_ex_tax": _money(ship),
                "shipping_cost_inc_tax": _money(ship),
                "discount_amount": _money(discount_total),
                "coupon_discount": "0.0000",
                "total_ex_tax": _money(subtotal - discount_total + ship),
                "total_inc_tax": _money(subtotal - discount_total + ship + tax_total),
                "total_tax": _money(tax_total),
                "items_total": items_total,
                "items_shipped": 0,
                "payment_status": "captured" if status_id in (11, 9, 10, 2, 3) else "",
                "billing_address": {k: v for k, v in addr.items()},
                "products": {"url": base + "/products", "resource": f"/orders/{oid}/products"},
                "shipping_addresses": {
                    "url": base + "/shipping_addresses",
                    "resource": f"/orders/{oid}/shipping_addresses",
                },
                "_products": products,
                "_addresses": [
                    {
                        "id": address_id,
                        "order_id": oid,
                        **{k: v for k, v in addr.items()},
                        "shipping_method": "Flat Rate",
                        "items_total": items_total,
                        "items_shipped": 0,
                    }
                ],
                "shipments": [],
                "_modified": now,
            }
            self.orders[oid] = order
            self._fire("store/order/created", {"type": "order", "id": oid})
            return self._order_view(order)

    def _order_view(self, order: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in order.items() if not k.startswith("_") and k != "shipments"}

    def _set_status(self, order: dict[str, Any], status_id: int) -> None:
        if status_id not in STATUSES:
            raise _BcError(400, f"The field 'status_id' is invalid: {status_id}")
        previous = order["status_id"]
        if previous == status_id:
            return
        order["status_id"] = status_id
        order["status"] = STATUSES[status_id]
        self._touch(order)
        self._fire(
            "store/order/statusUpdated",
            {
                "type": "order",
                "id": order["id"],
                "status": {"previous_status_id": previous, "new_status_id": status_id},
            },
        )

    def _touch(self, order: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        order["_modified"] = now
        order["date_modified"] = _rfc2822(now)
        self._fire("store/order/updated", {"type": "order", "id": order["id"]})

    def _create_shipment(self, order: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _BcError(400, "The request body is not valid JSON.")
        address = next((a for a in order["_addresses"] if a["id"] == body.get("order_address_id")), None)
        if address is None:
            raise _BcError(400, "The field 'order_address_id' is invalid or missing.")
        items = body.get("items")
        if not isinstance(items, list) or not items:
            raise _BcError(400, "The field 'items' is invalid or missing.")
        number = str(body.get("tracking_number") or "")
        if len(number) > 50:
            raise _BcError(400, "The field 'tracking_number' cannot be longer than 50 characters.")
        provider = body.get("shipping_provider", "") or ""
        if provider not in SHIPPING_PROVIDERS and not str(provider).startswith("carrier_"):
            raise _BcError(400, f"The field 'shipping_provider' is invalid: {provider}")
        lines = {p["id"]: p for p in order["_products"]}
        for item in items:
            line = lines.get(item.get("order_product_id"))
            qty = item.get("quantity")
            if line is None:
                raise _BcError(400, f"The order product {item.get('order_product_id')} does not exist.")
            if not isinstance(qty, int) or qty < 1 or line["quantity_shipped"] + qty > line["quantity"]:
                raise _BcError(400, f"The quantity for order product {line['id']} is invalid.")
        for item in items:
            lines[item["order_product_id"]]["quantity_shipped"] += item["quantity"]
        shipped = sum(p["quantity_shipped"] for p in order["_products"])
        order["items_shipped"] = shipped
        address["items_shipped"] = shipped
        generated = f"https://track.example/{provider}/{number}" if provider and number else ""
        shipment = {
            "id": self._next_id(),
            "order_id": order["id"],
            "customer_id": order["customer_id"],
            "order_address_id": address["id"],
            "date_created": _rfc2822(datetime.now(UTC)),
            "tracking_number": number,
            "shipping_method": body.get("shipping_method", ""),
            "shipping_provider": provider,
            "tracking_carrier": body.get("tracking_carrier", "") or "",
            "tracking_link": body.get("tracking_link", "") or "",
            "generated_tracking_link": generated,
            "comments": body.get("comments", "") or "",
            "merchant_shipping_cost": body.get("merchant_shipping_cost", "0.0000"),
            "billing_address": copy.deepcopy(order["billing_address"]),
            "shipping_address": {k: v for k, v in address.items() if k not in ("items_total", "items_shipped")},
            "items": [
                {
                    "order_product_id": i["order_product_id"],
                    "product_id": lines[i["order_product_id"]]["product_id"],
                    "quantity": i["quantity"],
                }
                for i in items
            ],
        }
        order["shipments"].append(shipment)
        if self.notify_on_shipment:
            self.emails.append({"order_id": order["id"], "shipment_id": shipment["id"], "to": address["email"]})
        self._fire("store/shipment/created", {"type": "shipment", "id": shipment["id"], "orderId": order["id"]})
        if self.auto_status_on_shipment:
            self._set_status(order, 2 if shipped >= order["items_total"] else 3)
        else:
            self._touch(order)
        return shipment

    # ---- webhooks ----------------------------------------------------------------------------

    def _fire(self, scope: str, data: dict[str, Any]) -> None:
        self._event_seq += 1
        created_at = int(time.time())
        digest = hashlib.sha1(f"{self.store_hash}|{self._event_seq}|{scope}|{json.dumps(data)}".encode()).hexdigest()
        payload = {
            "scope": scope,
            "store_id": self.store_id,
            "data": data,
            "hash": digest,
            "created_at": created_at,
            "producer": f"stores/{self.store_hash}",
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        for hook in self.hooks.values():
            if not hook["is_active"] or not _scope_matches(hook["scope"], scope):
                continue
            for _ in range(2 if self.duplicate_deliveries else 1):
                attempt = {
                    "hook_id": hook["id"],
                    "webhook_id": f"msg_{uuid.uuid4().hex}",
                    "body": body,
                    "scope": scope,
                    "hash": digest,
                    "attempt": 0,
                }
                self._enqueue(time.monotonic(), attempt)

    def _enqueue(self, due: float, attempt: dict[str, Any]) -> None:
        with self._wake:
            self._event_seq += 1
            heapq.heappush(self._schedule, (due, self._event_seq, attempt))
            self._wake.notify_all()

    def _deliver_loop(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                if not self._schedule:
                    self._wake.wait(0.5)
                    continue
                due, _, attempt = self._schedule[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._wake.wait(min(wait, 0.5))
                    continue
                heapq.heappop(self._schedule)
                hook = self.hooks.get(attempt["hook_id"])
                if hook is None or not hook["is_active"]:
                    continue
                self._inflight += 1
                headers = dict(hook["headers"] or {})
            try:
                self._deliver(hook, attempt, headers)
            except Exception:  # keep delivering whatever one delivery did
                pass
            finally:
                with self._lock:
                    self._inflight -= 1

    def _deliver(self, hook: dict[str, Any], attempt: dict[str, Any], headers: dict[str, str]) -> None:
        assert self._http is not None
        timestamp = int(time.time())
        headers.update(
            {
                "Content-Type": "application/json",
                "webhook-id": attempt["webhook_id"],
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(self.client_secret, attempt["webhook_id"], timestamp, attempt["body"]),
            }
        )
        try:
            status: int | None = self._http.post(
                hook["destination"], content=attempt["body"], headers=headers
            ).status_code
        except httpx.HTTPError:
            status = None
        ok = status is not None and 200 <= status < 300
        with self._lock:
            self.deliveries.append(
                {
                    "hook_id": hook["id"],
                    "scope": attempt["scope"],
                    "webhook_id": attempt["webhook_id"],
                    "hash": attempt["hash"],
                    "attempt": attempt["attempt"],
                    "status": status,
                }
            )
            if ok:
                return
            n = attempt["attempt"]
            if n < len(self.retry_intervals):
                retry = dict(attempt, attempt=n + 1)
                self._enqueue(time.monotonic() + self.retry_intervals[n], retry)
            else:
                hook["is_active"] = False  # deactivated after the last retry; the app owner gets an email

    # ---- HTTP --------------------------------------------------------------------------------

    def _rate_headers(self, now: float) -> dict[str, str]:
        reset = max(0, int(self.window_ms - (now - self._window_start) * 1000))
        return {
            "X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
            "X-Rate-Limit-Time-Reset-Ms": str(reset),
            "X-Rate-Limit-Requests-Quota": str(self.quota),
            "X-Rate-Limit-Requests-Left": str(max(0, self.quota - self._used)),
        }

    def _gate(self, request_headers: dict[str, str], store_hash: str, version: str) -> tuple[Response | None, dict]:
        error = _v3_error if version == "v3" else _v2_error
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

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="BigCommerce emulator", docs_url=None, redoc_url=None, openapi_url=None)
        emu = self

        @app.exception_handler(_BcError)
        async def bc_error(request: Request, exc: _BcError):
            if "/v2/" in request.url.path:
                return _v2_error(exc.status, exc.title)
            return _v3_error(exc.status, exc.title, exc.errors)

        async def body_of(request: Request) -> Any:
            raw = await request.body()
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                raise _BcError(400, "The request body is not valid JSON.") from None

        def page_args(request: Request, default: int, maximum: int) -> tuple[int, int]:
            q = request.query_params
            try:
                page = max(1, int(q.get("page", "1")))
                limit = int(q.get("limit", str(default)))
            except ValueError:
                raise _BcError(400, "The field 'page' or 'limit' is invalid.") from None
            if not 1 <= limit <= maximum:
                raise _BcError(400 if "/v2/" in request.url.path else 422, f"limit must be between 1 and {maximum}")
            return page, limit

        def v3_page(request: Request, items: list[Any]) -> dict[str, Any]:
            page, limit = page_args(request, 50, 250)
            total = len(items)
            pages = -(-total // limit) if total else 0
            chunk = items[(page - 1) * limit : page * limit]
            links = {"current": f"?limit={limit}&page={page}"}
            if page > 1:
                links["previous"] = f"?limit={limit}&page={page - 1}"
            if page < pages:
                links["next"] = f"?limit={limit}&page={page + 1}"
            pagination = {
                "total": total,
                "count": len(chunk),
                "per_page": limit,
                "current_page": page,
                "total_pages": pages,
                "links": links,
            }
            return {"data": chunk, "meta": {"pagination": pagination}}

        def order_or_404(oid: int) -> dict[str, Any]:
            order = emu.orders.get(oid)
            if order is None:
                raise _BcError(404, "The requested resource was not found.")
            return order

        p = "/stores/{store_hash}"

        # https://developer.bigcommerce.com/docs/rest-catalog/products#get-all-products
        @app.get(p + "/v3/catalog/products")
        async def list_products(request: Request):
            q = request.query_params
            with emu._lock:
                items = sorted(emu.products.values(), key=lambda x: x["id"])
                if q.get("sku"):
                    items = [x for x in items if x["sku"].lower() == q["sku"].lower()]
                if q.get("sku:in"):
                    wanted = {s.lower() for s in q["sku:in"].split(",")}
                    items = [x for x in items if x["sku"].lower() in wanted]
                with_variants = "variants" in (q.get("include") or "").split(",")
                return v3_page(request, [emu._product_view(x, with_variants) for x in items])

        # https://developer.bigcommerce.com/docs/rest-catalog/products#create-a-product
        @app.post(p + "/v3/catalog/products")
        async def create_product(request: Request):
            body = await body_of(request)
            if not isinstance(body, dict):
                raise _BcError(422, "JSON data is missing or invalid")
            return JSONResponse({"data": emu.add_product(body), "meta": {}})

        # https://developer.bigcommerce.com/docs/rest-catalog/products#update-products-batch
        @app.put(p + "/v3/catalog/products")
        async def batch_products(request: Request):
            body = await body_of(request)
            if not isinstance(body, list):
                raise _BcError(422, "JSON data is missing or invalid")
            if len(body) > 10:
                raise _BcError(413, "The request payload is too large. The maximum items allowed in the array is 10")
            with emu._lock:
                out = []
                for item in body:
                    product = emu.products.get(item.get("id"))
                    if product is None:
                        raise _BcError(404, f"Product {item.get('id')} not found")
                    for name in ("price", "sale_price", "retail_price"):
                        if name in item:
                            product[name] = Decimal(str(item[name]))
                    if "inventory_level" in item and product["inventory_tracking"] == "product":
                        product["inventory_level"] = int(item["inventory_level"])
                    out.append(emu._product_view(product))
                return {"data": out, "meta": {}}

        @app.get(p + "/v3/catalog/products/{pid}")
        async def get_product(pid: int, request: Request):
            with emu._lock:
                product = emu.products.get(pid)
                if product is None:
                    raise _BcError(404, "The requested product was not found.")
                with_variants = "variants" in (request.query_params.get("include") or "").split(",")
                return {"data": emu._product_view(product, with_variants), "meta": {}}

        # https://developer.bigcommerce.com/docs/rest-catalog/product-variants#get-all-product-variants
        @app.get(p + "/v3/catalog/products/{pid}/variants")
        async def list_variants(pid: int, request: Request):
            with emu._lock:
                product = emu.products.get(pid)
                if product is None:
                    raise _BcError(404, "The requested product was not found.")
                return v3_page(request, [emu._variant_view(emu.variants[v]) for v in product["variants"]])

        # https://developer.bigcommerce.com/docs/rest-catalog/product-variants#update-variants-batch
        @app.put(p + "/v3/catalog/variants")
        async def batch_variants(request: Request):
            body = await body_of(request)
            if not isinstance(body, list):
                raise _BcError(422, "JSON data is missing or invalid")
            if len(body) > 50:
                raise _BcError(413, "The request payload is too large. The maximum items allowed in the array is 50")
            with emu._lock:
                out = []
                for item in body:
                    variant = emu.variants.get(item.get("id"))
                    if variant is None:
                        raise _BcError(404, f"Variant {item.get('id')} not found")
                    for name in ("price", "sale_price", "retail_price"):
                        if name in item:
                            variant[name] = None if item[name] is None else Decimal(str(item[name]))
                    if "inventory_level" in item:
                        variant["inventory_level"] = int(item["inventory_level"])
                    out.append(emu._variant_view(variant))
                return {"data": out, "meta": {}}

        # https://developer.bigcommerce.com/docs/rest-management/inventory/adjustments#absolute-adjustment
        @app.put(p + "/v3/inventory/adjustments/absolute")
        async def absolute_adjustment(request: Request):
            body = await body_of(request)
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list) or not items:
                raise _BcError(422, "JSON data is missing or invalid", {"items": "items is required"})
            if len(items) > emu.inventory_batch_limit:
                raise _BcError(
                    413,
                    f"The request payload is too large. The maximum items allowed is {emu.inventory_batch_limit}",
                )
            with emu._lock:
                resolved = []
                for i, item in enumerate(items):
                    if item.get("location_id") != 1:
                        raise _BcError(422, f"[Location with id {item.get('location_id')} not found]")
                    qty = item.get("quantity")
                    if not isinstance(qty, int) or isinstance(qty, bool) or not 0 <= qty <= 2_147_483_647:
                        raise _BcError(422, f"items.{i}.quantity is invalid")
                    kind, ident = emu._resolve_item(item, i)
                    resolved.append((kind, ident, qty))
                transaction_id = str(uuid.uuid4())
                emu.pending_adjustments.append((time.monotonic() + emu.inventory_delay, transaction_id, resolved))
                emu.transactions.append(
                    {"transaction_id": transaction_id, "reason": body.get("reason"), "items": len(resolved)}
                )
                return {"transaction_id": transaction_id}

        # https://developer.bigcommerce.com/docs/rest-management/inventory/items#get-inventory-at-locations
        @app.get(p + "/v3/inventory/items")
        @app.get(p + "/v3/inventory/locations/{location_id}/items")
        async def inventory_items(request: Request, location_id: int = 1):
            q = request.query_params
            with emu._lock:
                emu._settle()
                rows = []
                wanted = {int(v) for v in q["variant_id:in"].split(",")} if q.get("variant_id:in") else None
                for v in sorted(emu.variants.values(), key=lambda x: x["id"]):
                    if wanted is not None and v["id"] not in wanted:
                        continue
                    product = emu.products[v["product_id"]]
                    level = (
                        product["inventory_level"]
                        if product["inventory_tracking"] == "product"
                        else v["inventory_level"]
                    )
                    rows.append(
                        {
                            "identity": {"sku": v["sku"], "variant_id": v["id"], "product_id": product["id"]},
                            "locations": [
                                {
                                    "location_id": location_id,
                                    "available_to_sell": level,
                                    "total_inventory_onhand": level,
                                }
                            ],
                            "available_to_sell": level,
                            "total_inventory_onhand": level,
                            "settings": {"safety_stock": 0, "is_in_stock": level > 0, "warning_level": 0},
                        }
                    )
                return v3_page(request, rows)

        # https://developer.bigcommerce.com/docs/integrations/webhooks#create-a-webhook
        @app.post(p + "/v3/hooks")
        async def create_hook(request: Request):
            body = await body_of(request)
            if not isinstance(body, dict) or not body.get("scope") or not body.get("destination"):
                raise _BcError(422, "JSON data is missing or invalid", {"scope": "required", "destination": "required"})
            with emu._lock:
                now = int(time.time())
                same = [h for h in emu.hooks.values() if h["scope"] == body["scope"]]
                if any(h["destination"] == body["destination"] for h in same):
                    raise _BcError(409, "A hook with this scope and destination already exists")
                if len(same) >= 10:
                    raise _BcError(422, "Maximum of 10 hooks per scope reached")
                hook = {
                    "id": emu._next_id(),
                    "client_id": emu.client_id,
                    "store_hash": emu.store_hash,
                    "scope": body["scope"],
                    "destination": body["destination"],
                    "is_active": bool(body.get("is_active", True)),
                    "headers": body.get("headers") or {},
                    "created_at": now,
                    "updated_at": now,
                }
                emu.hooks[hook["id"]] = hook
                return {"data": copy.deepcopy(hook), "meta": {}}

        # https://developer.bigcommerce.com/docs/integrations/webhooks#get-webhooks
        @app.get(p + "/v3/hooks")
        async def list_hooks(request: Request):
            with emu._lock:
                return v3_page(request, [copy.deepcopy(h) for h in sorted(emu.hooks.values(), key=lambda h: h["id"])])

        # https://developer.bigcommerce.com/docs/integrations/webhooks#update-a-webhook
        @app.put(p + "/v3/hooks/{hid}")
        async def update_hook(hid: int, request: Request):
            body = await body_of(request) or {}
            with emu._lock:
                hook = emu.hooks.get(hid)
                if hook is None:
                    raise _BcError(404, "Hook not found")
                for name in ("scope", "destination", "is_active", "headers"):
                    if name in body:
                        hook[name] = body[name]
                hook["updated_at"] = int(time.time())
                return {"data": copy.deepcopy(hook), "meta": {}}

        @app.delete(p + "/v3/hooks/{hid}")
        async def delete_hook(hid: int):
            with emu._lock:
                hook = emu.hooks.pop(hid, None)
                if hook is None:
                    raise _BcError(404, "Hook not found")
                return {"data": hook, "meta": {}}

        # https://developer.bigcommerce.com/docs/rest-management/orders#get-all-orders
        @app.get(p + "/v2/orders")
        async def list_orders(request: Request):
            q = request.query_params
            page, limit = page_args(request, 50, 250)
            with emu._lock:
                items = list(emu.orders.values())
                if q.get("status_id") is not None:
                    items = [o for o in items if str(o["status_id"]) == q["status_id"]]
                else:
                    items = [o for o in items if o["status_id"] != 0]
                if q.get("min_date_modified"):
                    bound = _parse_date(q["min_date_modified"])
                    items = [o for o in items if o["_modified"] >= bound]
                field, _, direction = (q.get("sort") or "id:asc").partition(":")
                keys = {"id": "id", "date_created": "id", "date_modified": "_modified", "status_id": "status_id"}
                if field not in keys:
                    raise _BcError(400, f"The field 'sort' is invalid: {field}")
                items.sort(key=lambda o: (o[keys[field]], o["id"]), reverse=direction == "desc")
                chunk = items[(page - 1) * limit : page * limit]
                if not chunk:
                    return Response(status_code=204)
                return JSONResponse([emu._order_view(o) for o in chunk])

        # https://developer.bigcommerce.com/docs/rest-management/orders#get-an-order
        @app.get(p + "/v2/orders/{oid}")
        async def get_order(oid: int):
            with emu._lock:
                return emu._order_view(order_or_404(oid))

        # https://developer.bigcommerce.com/docs/rest-management/orders#update-an-order
        @app.put(p + "/v2/orders/{oid}")
        async def update_order(oid: int, request: Request):
            body = await body_of(request) or {}
            with emu._lock:
                order = order_or_404(oid)
                if "status_id" in body:
                    emu._set_status(order, int(body["status_id"]))
                return emu._order_view(order)

        # https://developer.bigcommerce.com/docs/rest-management/orders/order-products#list-order-products
        @app.get(p + "/v2/orders/{oid}/products")
        async def order_products(oid: int):
            with emu._lock:
                return copy.deepcopy(order_or_404(oid)["_products"])

        # https://developer.bigcommerce.com/docs/rest-management/orders/order-shipping-addresses
        @app.get(p + "/v2/orders/{oid}/shipping_addresses")
        async def order_addresses(oid: int):
            with emu._lock:
                return copy.deepcopy(order_or_404(oid)["_addresses"])

        # https://developer.bigcommerce.com/docs/rest-management/orders/order-shipments#get-order-shipments
        @app.get(p + "/v2/orders/{oid}/shipments")
        async def list_shipments(oid: int):
            with emu._lock:
                shipments = order_or_404(oid)["shipments"]
                if not shipments:
                    return Response(status_code=204)
                return JSONResponse(copy.deepcopy(shipments))

        # https://developer.bigcommerce.com/docs/rest-management/orders/order-shipments#create-order-shipment
        @app.post(p + "/v2/orders/{oid}/shipments")
        async def create_shipment(oid: int, request: Request):
            body = await body_of(request)
            with emu._lock:
                shipment = emu._create_shipment(order_or_404(oid), body)
                return JSONResponse(copy.deepcopy(shipment), 201)

        @app.api_route(p + "/{version}/{rest:path}", methods=["GET", "POST", "PUT", "DELETE"])
        async def no_route(version: str, rest: str):
            raise _BcError(404, "The requested resource was not found.")

        # ---- control: no auth, not counted --------------------------------------------------

        @app.post("/_control/orders")
        async def control_order(request: Request):
            body = await request.json()
            order = emu.create_order(
                body["lines"],
                currency=body.get("currency"),
                status_id=int(body.get("status_id", 11)),
                email=body.get("email", "shopper@example.com"),
            )
            return JSONResponse(order, 201)

        add_common_controls(app, emu)

        @app.get("/_control/stock/{variant_id}")
        async def control_stock(variant_id: int):
            return {"inventory_level": emu.stock_of(variant_id)}

        @app.get("/_control/shipments/{oid}")
        async def control_shipments(oid: int):
            return emu.shipments_of(oid)

        app.add_middleware(_Gate, emulator=emu)
        return app


class _Gate:
    """Pure ASGI wrapper: counts calls, enforces the quota and auth, and stamps the rate-limit headers
    on every API response (BaseHTTPMiddleware would add a delayed-ACK stall per call)."""

    def __init__(self, app: Any, emulator: BigCommerceEmulator):
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope, receive, send):
        match = API_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            return await self.app(scope, receive, send)
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        denied, extra = self.emulator._gate(headers, match.group(1), match.group(2))
        if denied is not None:
            return await denied(scope, receive, send)

        async def stamped(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [
                    (k.lower().encode(), v.encode()) for k, v in extra.items()
                ]
            await send(message)

        return await self.app(scope, receive, stamped)


def _scope_matches(pattern: str, scope: str) -> bool:
    if pattern.endswith("/*"):
        return scope.startswith(pattern[:-1])
    return pattern == scope


def _parse_date(value: str) -> datetime:
    from email.utils import parsedate_to_datetime

    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return parsedate_to_datetime(value).astimezone(UTC)
