"""Emulator of the WooCommerce REST API v3 (`/wp-json/wc/v3`), per ../shared/contracts/storefronts.md §2.

What it reproduces (and the connector must cope with):

- Auth: HTTP Basic `ck_…:cs_…`, or `?consumer_key=&consumer_secret=` in the query string. Missing
  credentials: 401 `woocommerce_rest_cannot_view`; unknown key or wrong secret: 401
  `woocommerce_rest_authentication_error`; a `read` key writing: 403 `woocommerce_rest_cannot_create`.
- Errors: `{"code", "message", "data": {"status", ...}}`. Unknown routes: 404 `rest_no_route`.
- Pagination: `page`/`per_page` (1..100, else 400 `rest_invalid_param`), `offset`; `X-WP-Total`,
  `X-WP-TotalPages` and a `Link` header with first/prev/next/last.
- Products: simple and variable products, variations with attributes, `regular_price`/`sale_price`
  (strings; `price` is derived), `GET /products?sku=`, duplicate SKU 400 `product_invalid_sku`.
- Stock: `PUT products/{id}`, `PUT products/{id}/variations/{vid}`, `POST products/batch` and
  `POST products/{id}/variations/batch` (create + update + delete <= `batch_limit`, else 413
  `woocommerce_rest_request_entity_too_large`; item failures answer 200 with a per-item `error`).
  `stock_quantity` only applies with `manage_stock`; `stock_status` is derived.
- Orders: line `price` is a JSON number, totals are strings with 2 decimals; dates carry no offset.
  `PUT orders/{id}` (status, meta_data), `POST/GET orders/{id}/notes` (`customer_note: true` emails the
  customer), status `completed` sends the "Completed order" email. A paid shopper order reduces stock.
- Optional Shipment Tracking plugin (`shipment_tracking_plugin=True`):
  `POST/GET /wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings`, stored in order meta
  `_wc_shipment_tracking_items` (writing that meta through `PUT orders/{id}` works with or without it).
- Webhooks: `POST/GET/PUT/DELETE /webhooks`. A new active webhook is pinged with an unsigned form body
  `webhook_id=<id>`. Deliveries are asynchronous, coalesced per (webhook, resource) while pending, and
  their body is built when sent (the resource's current state). Headers `X-WC-Webhook-Source`,
  `-Topic`, `-Resource`, `-Event`, `-Signature` (base64 HMAC-SHA256(secret, body)), `-ID` and
  `-Delivery-ID`. No retries: a failure is lost; after more than `max_delivery_failures` consecutive
  failures the webhook becomes `disabled`.
- Throttling: core has none; a host/WAF limiter is emulated: `throttle_next(n)` or `rate_limit=(n, s)`
  answer a bare 429 with an empty body and, when `retry_after` is set, `Retry-After`. `fail_next(n)`
  answers 500.

Control endpoints (no auth) under `/_control`: `POST /orders` (a shopper checkout), `POST /throttle`,
`POST /fail`, `GET /stock/{id}`, `GET /fulfillments/{order_id}`, `GET /calls`, `GET /deliveries`,
`GET /emails`; and the same in-process.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import queue
import threading
import time
from collections import deque
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from dropbridge.connectors.kit.http import build_client
from dropbridge.sandbox.kit.controls import add_common_controls
from dropbridge.sandbox.kit.server import RunningServer, start_server

API_PREFIX = "/wp-json/wc/v3"
TRACKING_PREFIX = "/wp-json/wc-shipment-tracking/v3"
TRACKING_META = "_wc_shipment_tracking_items"
ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash")
TOPICS = {f"{r}.{e}" for r in ("order", "product") for e in ("created", "updated", "deleted", "restored")}
DELIVERY_TIMEOUT = 5.0


class _Deny(Exception):
    def __init__(self, response: Response):
        super().__init__("denied")
        self.response = response


class _WooError(Exception):
    def __init__(self, status: int, code: str, message: str, **data: Any):
        super().__init__(message)
        self.status = status
        self.code = code
        self.data = data


def _woo_json(obj: Any) -> Any:
    """Decimals become JSON numbers, as PHP floats do (shortest round-trip form)."""
    if isinstance(obj, Decimal):
        return float(obj)
    if isinstance(obj, dict):
        return {k: _woo_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_woo_json(v) for v in obj]
    return obj


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(_woo_json(obj), status, headers=headers)


def _error(status: int, code: str, message: str, **data: Any) -> Response:
    return JSONResponse({"code": code, "message": message, "data": {"status": status, **data}}, status)


def _now() -> datetime:
    return datetime.now(UTC)


def _wp_date(dt: datetime | None) -> str | None:
    return dt.strftime("%Y-%m-%dT%H:%M:%S") if dt else None


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def sign(secret: str, body: bytes) -> str:
    """X-WC-Webhook-Signature: base64 HMAC-SHA256 of the raw body, keyed by the webhook secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class WooCommerceEmulator:
    def __init__(
        self,
        consumer_key: str = "ck_test_0123456789",
        consumer_secret: str = "cs_test_0123456789",
        *,
        read_only_keys: dict[str, str] | None = None,
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
    ):
        self.keys: dict[str, tuple[str, str]] = {consumer_key: (consumer_secret, "read_write")}
        for ck, cs in (read_only_keys or {}).items():
            self.keys[ck] = (cs, "read")
        self.site_url = site_url
        self.currency = currency
        self.batch_limit = batch_limit
        self.max_delivery_failures = max_delivery_failures
        self.delivery_delay = delivery_delay
        self.send_ping = send_ping
        self.retry_after = retry_after
        self.rate_limit = rate_limit
        self.shipment_tracking_plugin = shipment_tracking_plugin
        self.reduce_stock_on_order = reduce_stock_on_order
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._queue: queue.Queue[tuple[str, int, str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._server: RunningServer | None = None
        self._http: httpx.Client | None = None
        self._reset_state()
        self.app = self._build_app()

    # ---- state -------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        with self._lock:
            self._seq = 100  # posts (products, variations, orders) share one id space, as in WordPress
            self._item_seq = 1000
            self._note_seq = 5000
            self._hook_seq = 0
            self.products: dict[int, dict[str, Any]] = {}  # products and variations (type "variation")
            self.orders: dict[int, dict[str, Any]] = {}
            self.notes: dict[int, list[dict[str, Any]]] = {}
            self.webhooks: dict[int, dict[str, Any]] = {}
            self._pending: set[tuple[int, int]] = set()
            self._outstanding = 0  # jobs queued or being delivered
            self.deliveries: list[dict[str, Any]] = []
            self.emails: list[dict[str, Any]] = []
            self.calls = 0
            self._faults: deque[int] = deque()  # statuses to answer instead of serving
            self._window: deque[float] = deque()

    def reset(self) -> None:
        self._reset_state()

    def _next_id(self) -> int:
        self._seq += 1
        return self._seq

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> str:
        self._stop.clear()
        self._http = build_client(timeout=DELIVERY_TIMEOUT)
        self._thread = threading.Thread(target=self._deliver_loop, name="woo-webhooks", daemon=True)
        self._thread.start()
        self._server = start_server(self.app)
        return self._server.url

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return self._server.url

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> WooCommerceEmulator:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- in-process accessors and faults -----------------------------------------------------

    def throttle_next(self, calls: int) -> None:
        with self._lock:
            self._faults.extend([429] * calls)

    def fail_next(self, calls: int, status: int = 500) -> None:
        with self._lock:
            self._faults.extend([status] * calls)

    def api_calls(self) -> int:
        with self._lock:
            return self.calls

    def stock_of(self, product_id: int | str) -> int | None:
        with self._lock:
            return self.products[int(product_id)]["stock_quantity"]

    def product(self, product_id: int | str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.products[int(product_id)])

    def order(self, order_id: int | str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.orders[int(order_id)])

    def tracking_items(self, order_id: int | str) -> list[dict[str, Any]]:
        with self._lock:
            order = self.orders[int(order_id)]
            for meta in order["meta_data"]:
                if meta["key"] == TRACKING_META and isinstance(meta["value"], list):
                    return copy.deepcopy(meta["value"])
            return []

    def fulfillments_of(self, order_id: int | str) -> list[dict[str, Any]]:
        """Tracking items of an order, each with whether an email to the customer carried it."""
        with self._lock:
            mails = [m for m in self.emails if m["order_id"] == int(order_id)]
            out = []
            for item in self.tracking_items(order_id):
                number = item.get("tracking_number", "")
                carrier = item.get("custom_tracking_provider") or item.get("tracking_provider", "")
                link = item.get("custom_tracking_link") or item.get("tracking_link") or None
                # The "Completed order" email lists the tracking items the order had at that moment.
                notified = any(number and number in m["body"] for m in mails)
                out.append(
                    {
                        "tracking_number": number,
                        "carrier": carrier,
                        "tracking_url": link.replace("%1$s", number) if link else None,
                        "notified": notified,
                    }
                )
            return out

    def order_notes(self, order_id: int | str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self.notes.get(int(order_id), []))

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self.deliveries)

    def wait_deliveries(self, timeout: float = 5.0) -> None:
        """Block until no delivery is queued or pending."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._outstanding:
                    return
            time.sleep(0.01)
        raise TimeoutError("webhook deliveries still pending")

    def add_product(self, body: dict[str, Any], parent_id: int | None = None) -> dict[str, Any]:
        """Create a product (or a variation of `parent_id`) as the merchant would in wp-admin."""
        with self._lock:
            parent = self.products[parent_id] if parent_id is not None else None
            return copy.deepcopy(self._product_view(self._new_product(body, parent)))

    # ---- catalog -----------------------------------------------------------------------------

    def _sku_taken(self, sku: str, except_id: int | None = None) -> bool:
        return bool(sku) and any(
            p["sku"].lower() == sku.lower() and p["id"] != except_id for p in self.products.values()
        )

    def _apply_product_fields(self, p: dict[str, Any], body: dict[str, Any]) -> None:
        for name in ("name", "description", "short_description", "status"):
            if name in body:
                p[name] = body[name]
        if "sku" in body:
            sku = str(body["sku"] or "")
            if self._sku_taken(sku, p["id"]):
                raise _WooError(
                    400, "product_invalid_sku", "Invalid or duplicated SKU.", resource_id=p["id"], unique_sku=sku
                )
            p["sku"] = sku
        for name in ("regular_price", "sale_price"):
            if name in body:
                value = body[name]
                if value not in ("", None):
                    try:
                        Decimal(str(value))
                    except ArithmeticError:
                        raise _WooError(400, "rest_invalid_param", f"Invalid parameter(s): {name}") from None
                p[name] = "" if value is None else str(value)
        if "manage_stock" in body:
            p["manage_stock"] = bool(body["manage_stock"])
        if "stock_quantity" in body and p["manage_stock"]:
            qty = body["stock_quantity"]
            if qty is not None and (not isinstance(qty, int) or isinstance(qty, bool)):
                raise _WooError(
                    400,
                    "rest_invalid_param",
                    "Invalid parameter(s): stock_quantity",
                    params={"stock_quantity": "stock_quantity is not of type integer."},
                )
            p["stock_quantity"] = qty
        if "images" in body:
            p["images"] = [
                {"id": i + 1, "src": img.get("src", ""), "name": img.get("name", ""), "alt": img.get("alt", "")}
                for i, img in enumerate(body["images"] or [])
            ]
        if "image" in body and p["type"] == "variation":
            p["image"] = {"id": 1, "src": (body["image"] or {}).get("src", "")}
        if "attributes" in body:
            p["attributes"] = copy.deepcopy(body["attributes"] or [])
        if "meta_data" in body:
            _merge_meta(p["meta_data"], body["meta_data"] or [])
        if p["manage_stock"] and p["stock_quantity"] is not None:
            p["stock_status"] = "instock" if p["stock_quantity"] > 0 else "outofstock"
        p["price"] = p["sale_price"] or p["regular_price"]
        p["on_sale"] = bool(p["sale_price"])
        p["date_modified_gmt"] = _wp_date(_now())
        p["date_modified"] = p["date_modified_gmt"]

    def _new_product(self, body: dict[str, Any], parent: dict[str, Any] | None = None) -> dict[str, Any]:
        kind = "variation" if parent else str(body.get("type") or "simple")
        if kind not in ("simple", "variable", "grouped", "external", "variation"):
            raise _WooError(400, "rest_invalid_param", "Invalid parameter(s): type", params={"type": "invalid"})
        now = _wp_date(_now())
        p: dict[str, Any] = {
            "id": self._next_id(),
            "name": body.get("name", "") if not parent else parent["name"],
            "type": kind,
            "status": "publish",
            "parent_id": parent["id"] if parent else 0,
            "sku": "",
            "price": "",
            "regular_price": "",
            "sale_price": "",
            "on_sale": False,
            "manage_stock": False,
            "stock_quantity": None,
            "stock_status": "instock",
            "description": "",
            "short_description": "",
            "images": [],
            "attributes": [],
            "variations": [],
            "meta_data": [],
            "date_created": now,
            "date_created_gmt": now,
        }
        if parent:
            p["image"] = None
        self._apply_product_fields(p, body)
        if parent:
            parent["variations"].append(p["id"])
        self.products[p["id"]] = p
        return p

    def _product_view(self, p: dict[str, Any]) -> dict[str, Any]:
        view = copy.deepcopy(p)
        if p["type"] == "variable":
            prices = [Decimal(self.products[v]["price"]) for v in p["variations"] if self.products[v]["price"]]
            view["price"] = str(min(prices)) if prices else ""
        if p["type"] == "variation":
            view.pop("variations")
            view.pop("name")
        return view

    def _batch(self, body: dict[str, Any], parent: dict[str, Any] | None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
        creates = body.get("create") or []
        updates = body.get("update") or []
        deletes = body.get("delete") or []
        if len(creates) + len(updates) + len(deletes) > self.batch_limit:
            raise _WooError(
                413,
                "woocommerce_rest_request_entity_too_large",
                f"Unable to accept more than {self.batch_limit} items for this request.",
            )
        invalid = "woocommerce_rest_product_variation_invalid_id" if parent else "woocommerce_rest_product_invalid_id"
        out: dict[str, list[Any]] = {}
        if "create" in body:
            out["create"] = []
            for item in creates:
                try:
                    p = self._new_product(item, parent)
                    out["create"].append(self._product_view(p))
                    if parent is None:
                        self._trigger("product", "created", p["id"])
                except _WooError as exc:
                    out["create"].append({"id": 0, "error": _err_body(exc)})
        if "update" in body:
            out["update"] = []
            for item in updates:
                pid = item.get("id") if isinstance(item, dict) else None
                p = self.products.get(pid) if isinstance(pid, int) else None
                if (
                    p is None
                    or (parent is None and p["type"] == "variation")
                    or (parent is not None and p["parent_id"] != parent["id"])
                ):
                    exc = _WooError(400 if parent is None else 404, invalid, "Invalid ID.")
                    out["update"].append({"id": pid, "error": _err_body(exc)})
                    continue
                try:
                    self._apply_product_fields(p, item)
                    out["update"].append(self._product_view(p))
                    self._trigger("product", "updated", p["parent_id"] or p["id"])
                except _WooError as exc:
                    out["update"].append({"id": pid, "error": _err_body(exc)})
        if "delete" in body:
            out["delete"] = []
            for pid in deletes:
                p = self.products.pop(pid, None) if isinstance(pid, int) else None
                if p is None:
                    out["delete"].append({"id": pid, "error": _err_body(_WooError(400, invalid, "Invalid ID."))})
                else:
                    out["delete"].append(self._product_view(p))
        return out

    # ---- orders ------------------------------------------------------------------------------

    def create_order(
        self,
        lines: list[dict[str, Any]],
        *,
        currency: str | None = None,
        status: str = "processing",
        email: str = "shopper@example.com",
        shipping: dict[str, str] | None = None,
        shipping_total: str = "0.00",
    ) -> dict[str, Any]:
        """A shopper checks out: lines are {"sku", "quantity", "price"?, "tax"?, "discount"?}."""
        with self._lock:
            now = _now()
            address = {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "company": "",
                "address_1": "12 St James's Square",
                "address_2": "",
                "city": "London",
                "state": "",
                "postcode": "SW1Y 4JH",
                "country": "GB",
                "phone": "",
            }
            address.update(shipping or {})
            items = []
            subtotal = total_tax = discount = Decimal(0)
            for line in lines:
                product = next((p for p in self.products.values() if p["sku"] == line["sku"]), None)
                if product is None:
                    raise _WooError(400, "woocommerce_rest_invalid_product", f"no product with SKU {line['sku']}")
                qty = int(line["quantity"])
                unit = Decimal(str(line.get("price") or product["price"]))
                line_sub = unit * qty
                line_disc = Decimal(str(line.get("discount", "0")))
                line_tax = Decimal(str(line.get("tax", "0")))
                line_total = line_sub - line_disc
                self._item_seq += 1
                is_var = product["type"] == "variation"
                items.append(
                    {
                        "id": self._item_seq,
                        "name": self.products[product["parent_id"]]["name"] if is_var else product["name"],
                        "product_id": product["parent_id"] if is_var else product["id"],
                        "variation_id": product["id"] if is_var else 0,
                        "quantity": qty,
                        "tax_class": "",
                        "subtotal": _money(line_sub),
                        "subtotal_tax": _money(line_tax),
                        "total": _money(line_total),
                        "total_tax": _money(line_tax),
                        "taxes": [],
                        "meta_data": [],
                        "sku": product["sku"],
                        "price": line_total / qty,
                    }
                )
                subtotal += line_sub
                discount += line_disc
                total_tax += line_tax
                if self.reduce_stock_on_order and status in ("processing", "completed") and product["manage_stock"]:
                    product["stock_quantity"] -= qty
                    product["stock_status"] = "instock" if product["stock_quantity"] > 0 else "outofstock"
            ship = Decimal(shipping_total)
            paid = status in ("processing", "completed")
            order = {
                "id": self._next_id(),
                "parent_id": 0,
                "status": status,
                "currency": currency or self.currency,
                "prices_include_tax": False,
                "date_created": _wp_date(now),
                "date_created_gmt": _wp_date(now),
                "date_modified": _wp_date(now),
                "date_modified_gmt": _wp_date(now),
                "date_paid": _wp_date(now) if paid else None,
                "date_paid_gmt": _wp_date(now) if paid else None,
                "date_completed": None,
                "date_completed_gmt": None,
                "discount_total": _money(discount),
                "discount_tax": "0.00",
                "shipping_total": _money(ship),
                "shipping_tax": "0.00",
                "cart_tax": _money(total_tax),
                "total": _money(subtotal - discount + ship + total_tax),
                "total_tax": _money(total_tax),
                "customer_id": 0,
                "customer_note": "",
                "billing": {**address, "email": email},
                "shipping": address,
                "payment_method": "bacs",
                "payment_method_title": "Direct bank transfer",
                "transaction_id": "",
                "line_items": items,
                "tax_lines": [],
                "shipping_lines": [
                    {
                        "id": self._item_seq + 1,
                        "method_title": "Flat rate",
                        "method_id": "flat_rate",
                        "total": _money(ship),
                        "total_tax": "0.00",
                    }
                ],
                "fee_lines": [],
                "coupon_lines": [],
                "refunds": [],
                "meta_data": [],
            }
            self._item_seq += 1
            order["number"] = str(order["id"])
            order["order_key"] = "wc_order_" + hashlib.sha1(str(order["id"]).encode()).hexdigest()[:13]
            self.orders[order["id"]] = order
            self.notes[order["id"]] = []
            self._trigger("order", "created", order["id"])
            return copy.deepcopy(order)

    def _set_order_status(self, order: dict[str, Any], status: str) -> None:
        if status not in ORDER_STATUSES:
            raise _WooError(400, "rest_invalid_param", "Invalid parameter(s): status", params={"status": status})
        if status == order["status"]:
            return
        order["status"] = status
        now = _wp_date(_now())
        if status in ("processing", "completed") and not order["date_paid_gmt"]:
            order["date_paid"] = order["date_paid_gmt"] = now
        if status == "completed":
            order["date_completed"] = order["date_completed_gmt"] = now
            tracking = ", ".join(i.get("tracking_number", "") for i in self.tracking_items(order["id"]))
            self._email(order["id"], "completed_order", f"Your order is complete. {tracking}".strip())

    def _email(self, order_id: int, kind: str, body: str) -> None:
        self.emails.append({"order_id": order_id, "kind": kind, "body": body, "at": time.monotonic()})

    def _add_tracking(self, order: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        for meta in order["meta_data"]:
            if meta["key"] == TRACKING_META:
                meta["value"].append(item)
                return item
        order["meta_data"].append({"id": self._next_meta_id(), "key": TRACKING_META, "value": [item]})
        return item

    def _next_meta_id(self) -> int:
        self._item_seq += 1
        return self._item_seq

    # ---- webhooks ----------------------------------------------------------------------------

    def _trigger(self, resource: str, event: str, resource_id: int) -> None:
        topic = f"{resource}.{event}"
        for hook in self.webhooks.values():
            if hook["status"] != "active" or hook["topic"] != topic:
                continue
            key = (hook["id"], resource_id)
            if key in self._pending:
                continue  # coalesced: the pending delivery will carry the current state
            self._pending.add(key)
            self._outstanding += 1
            self._queue.put(("deliver", hook["id"], str(resource_id)))

    def _deliver_loop(self) -> None:
        while not self._stop.is_set():
            job = self._queue.get()
            if job is None:
                return
            kind, hook_id, arg = job
            if self.delivery_delay:
                time.sleep(self.delivery_delay)
            try:
                if kind == "ping":
                    self._ping(hook_id)
                else:
                    self._deliver(hook_id, int(arg))
            except Exception:  # the emulator must keep delivering whatever one delivery did
                pass
            finally:
                with self._lock:
                    self._outstanding -= 1

    def _ping(self, hook_id: int) -> None:
        with self._lock:
            hook = self.webhooks.get(hook_id)
            if hook is None:
                return
            url = hook["delivery_url"]
        status = self._post(
            url, f"webhook_id={hook_id}".encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        )
        with self._lock:
            self.deliveries.append({"webhook_id": hook_id, "topic": "ping", "status": status, "resource_id": None})

    def _deliver(self, hook_id: int, resource_id: int) -> None:
        with self._lock:
            self._pending.discard((hook_id, resource_id))
            hook = self.webhooks.get(hook_id)
            if hook is None or hook["status"] != "active":
                return
            resource = hook["topic"].split(".")[0]
            event = hook["topic"].split(".")[1]
            if event == "deleted":
                payload: Any = {"id": resource_id}
            elif resource == "order":
                order = self.orders.get(resource_id)
                if order is None:
                    return
                payload = _woo_json(order)
            else:
                product = self.products.get(resource_id)
                if product is None:
                    return
                payload = _woo_json(self._product_view(product))
            body = json.dumps(payload, separators=(",", ":")).encode()
            delivery_id = hashlib.md5(f"{hook_id}{time.time_ns()}".encode()).hexdigest()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "WooCommerce/9.0.0 Hookshot (WordPress/6.5)",
                "X-WC-Webhook-Source": self.site_url,
                "X-WC-Webhook-Topic": hook["topic"],
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": sign(hook["secret"], body),
                "X-WC-Webhook-ID": str(hook_id),
                "X-WC-Webhook-Delivery-ID": delivery_id,
            }
            url = hook["delivery_url"]
        status = self._post(url, body, headers)
        with self._lock:
            ok = status is not None and 200 <= status <= 302
            self.deliveries.append(
                {
                    "webhook_id": hook_id,
                    "topic": hook["topic"],
                    "status": status,
                    "resource_id": resource_id,
                    "delivery_id": delivery_id,
                }
            )
            if ok:
                hook["failure_count"] = 0
            else:
                hook["failure_count"] += 1
                if hook["failure_count"] > self.max_delivery_failures:
                    hook["status"] = "disabled"

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int | None:
        assert self._http is not None
        try:
            return self._http.post(url, content=body, headers=headers).status_code
        except httpx.HTTPError:
            return None

    # ---- HTTP --------------------------------------------------------------------------------

    def _check_auth(self, request: Request) -> str:
        """Return the key's permissions, or raise the error WooCommerce answers."""
        ck = cs = None
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                ck, _, cs = base64.b64decode(header[6:].strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                ck = cs = None
        if not ck:
            ck = request.query_params.get("consumer_key")
            cs = request.query_params.get("consumer_secret")
        if not ck:
            raise _WooError(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        known = self.keys.get(ck)
        if known is None:
            raise _WooError(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
        if not hmac.compare_digest(known[0], cs or ""):
            raise _WooError(401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")
        return known[1]

    def _gate(self, request: Request) -> Response | None:
        """Count the call, apply host throttling and injected faults, then WooCommerce auth."""
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
            return _error(fault, "internal_server_error", "There has been a critical error on this website.")
        try:
            permissions = self._check_auth(request)
        except _WooError as exc:
            return _error(exc.status, exc.code, str(exc), **exc.data)
        if permissions == "read" and request.method not in ("GET", "HEAD"):
            return _error(403, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
        return None

    def _paginate(self, request: Request, items: list[Any], base_path: str) -> Response:
        params = request.query_params
        try:
            per_page = int(params.get("per_page", "10"))
            page = int(params.get("page", "1"))
            offset = int(params["offset"]) if "offset" in params else None
        except ValueError:
            raise _WooError(400, "rest_invalid_param", "Invalid parameter(s): page") from None
        if not 1 <= per_page <= 100:
            raise _WooError(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): per_page",
                params={"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"},
            )
        if page < 1:
            raise _WooError(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): page",
                params={"page": "page must be greater than or equal to 1"},
            )
        total = len(items)
        pages = -(-total // per_page) if total else 0
        if total and page > pages and offset is None:
            raise _WooError(
                400,
                "rest_post_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
            )
        start = offset if offset is not None else (page - 1) * per_page
        chunk = items[start : start + per_page]
        query = {k: v for k, v in params.items() if k not in ("consumer_key", "consumer_secret", "page")}
        base = f"{str(request.base_url).rstrip('/')}{API_PREFIX}{base_path}"

        def link(n: int, rel: str) -> str:
            return f'<{base}?{urlencode({**query, "page": n})}>; rel="{rel}"'

        links = []
        if pages:
            links.append(link(1, "first"))
        if page > 1 and pages:
            links.append(link(min(page - 1, pages), "prev"))
        if page < pages:
            links.append(link(page + 1, "next"))
        if pages:
            links.append(link(pages, "last"))
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        if links:
            headers["Link"] = ", ".join(links)
        return _json(chunk, 200, headers)

    def _build_app(self) -> FastAPI:
        emu = self

        # A global dependency, not an HTTP middleware: BaseHTTPMiddleware adds a delayed-ACK stall per call.
        async def gate(request: Request) -> None:
            path = request.url.path
            if not (path.startswith(API_PREFIX) or path.startswith(TRACKING_PREFIX)):
                return
            if path.startswith(TRACKING_PREFIX) and not emu.shipment_tracking_plugin:
                with emu._lock:
                    emu.calls += 1
                raise _Deny(_error(404, "rest_no_route", "No route was found matching the URL and request method"))
            denied = emu._gate(request)
            if denied is not None:
                raise _Deny(denied)

        app = FastAPI(
            title="WooCommerce emulator",
            docs_url=None,
            redoc_url=None,
            openapi_url=None,
            dependencies=[Depends(gate)],
        )

        @app.exception_handler(_Deny)
        async def deny(request: Request, exc: _Deny):
            return exc.response

        @app.exception_handler(_WooError)
        async def woo_error(request: Request, exc: _WooError):
            return _error(exc.status, exc.code, str(exc), **exc.data)

        async def body_of(request: Request) -> Any:
            raw = await request.body()
            if not raw:
                return {}
            try:
                return json.loads(raw)
            except ValueError:
                raise _WooError(400, "rest_invalid_json", "Invalid JSON body passed.") from None

        def product_or_404(pid: int, variation_of: int | None = None) -> dict[str, Any]:
            p = emu.products.get(pid)
            if variation_of is None:
                if p is None or p["type"] == "variation":
                    raise _WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
            elif p is None or p["parent_id"] != variation_of:
                raise _WooError(404, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
            return p

        def order_or_404(oid: int) -> dict[str, Any]:
            order = emu.orders.get(oid)
            if order is None:
                raise _WooError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            return order

        p = API_PREFIX

        # https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-products
        @app.get(p + "/products")
        async def list_products(request: Request):
            q = request.query_params
            with emu._lock:
                items = [x for x in emu.products.values() if x["type"] != "variation"]
                if q.get("sku"):
                    wanted = {s.strip().lower() for s in q["sku"].split(",")}
                    items = [x for x in emu.products.values() if x["sku"].lower() in wanted]
                if q.get("type"):
                    items = [x for x in items if x["type"] == q["type"]]
                items = sorted(items, key=lambda x: x["id"], reverse=q.get("order", "desc") == "desc")
                return emu._paginate(request, [emu._product_view(x) for x in items], "/products")

        # https://woocommerce.github.io/woocommerce-rest-api-docs/#create-a-product
        @app.post(p + "/products")
        async def create_product(request: Request):
            body = await body_of(request)
            with emu._lock:
                if not body.get("name"):
                    raise _WooError(400, "rest_missing_callback_param", "Missing parameter(s): name")
                product = emu._new_product(body)
                emu._trigger("product", "created", product["id"])
                return _json(emu._product_view(product), 201)

        # https://woocommerce.github.io/woocommerce-rest-api-docs/#batch-update-products
        @app.post(p + "/products/batch")
        async def batch_products(request: Request):
            body = await body_of(request)
            with emu._lock:
                return _json(emu._batch(body, None))

        @app.get(p + "/products/{pid}")
        async def get_product(pid: int):
            with emu._lock:
                x = emu.products.get(pid)  # variations are readable here too, as type "variation"
                if x is None:
                    raise _WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
                return _json(emu._product_view(x))

        # https://woocommerce.github.io/woocommerce-rest-api-docs/#update-a-product
        @app.put(p + "/products/{pid}")
        async def update_product(pid: int, request: Request):
            body = await body_of(request)
            with emu._lock:
                x = product_or_404(pid)
                emu._apply_product_fields(x, body)
                emu._trigger("product", "updated", pid)
                return _json(emu._product_view(x))

        @app.get(p + "/products/{pid}/variations")
        async def list_variations(pid: int, request: Request):
            with emu._lock:
                parent = product_or_404(pid)
                items = [emu._product_view(emu.products[v]) for v in parent["variations"] if v in emu.products]
                return emu._paginate(request, items, f"/products/{pid}/variations")

        # https://woocommerce.github.io/woocommerce-rest-api-docs/#create-a-product-variation
        @app.post(p + "/products/{pid}/variations")
        async def create_variation(pid: int, request: Request):
            body = await body_of(request)
            with emu._lock:
                parent = product_or_404(pid)
                return _json(emu._product_view(emu._new_product(body, parent)), 201)

        # https://woocommerce.github.io/woocommerce-rest-api-docs/#batch-update-product-variations
        @app.post(p + "/products/{pid}/variations/batch")
        async def batch_variations(pid: int, request: Request):
            body = await body_of(request)
            with emu._lock:
                parent = product_or_404(pid)
                return _json(emu._batch(body, parent))

        @app.get(p + "/products/{pid}/variations/{vid}")
        async def get_variation(pid: int, vid: int):
            with emu._lock:
                return _json(emu._product_view(product_or_404(vid, variation_of=pid)))

        # https://woocommerce.github.io/woocommerce-rest-api-docs/#update-a-product-variation
        @app.put(p + "/products/{pid}/variations/{vid}")
        async def update_variation(pid: int, vid: int, request: Request):
            body = await body_of(request)
            with emu._lock:
                v = product_or_404(vid, variation_of=pid)
                emu._apply_product_fields(v, body)
                emu._trigger("product", "updated", pid)
                return _json(emu._product_view(v))

        # https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-orders
        @app.get(p + "/orders")
        async def list_orders(request: Request):
            q = request.query_params
            with emu._lock:
                items = list(emu.orders.values())
                if q.get("status") and q["status"] != "any":
                    wanted = set(q["status"].split(","))
                    items = [o for o in items if o["status"] in wanted]
                for name, field in (("modified_after", "date_modified_gmt"), ("after", "date_created_gmt")):
                    if q.get(name):
                        bound = q[name][:19]
                        items = [o for o in items if o[field] > bound]
                orderby = q.get("orderby", "date")
                keyname = {"id": "id", "date": "date_created_gmt", "modified": "date_modified_gmt"}.get(orderby)
                if keyname is None:
                    raise _WooError(400, "rest_invalid_param", "Invalid parameter(s): orderby")
                items.sort(key=lambda o: (o[keyname], o["id"]), reverse=q.get("order", "desc") == "desc")
                return emu._paginate(request, items, "/orders")

        @app.get(p + "/orders/{oid}")
        async def get_order(oid: int):
            with emu._lock:
                return _json(order_or_404(oid))

        # https://woocommerce.github.io/woocommerce-rest-api-docs/#update-an-order
        @app.put(p + "/orders/{oid}")
        async def update_order(oid: int, request: Request):
            body = await body_of(request)
            with emu._lock:
                order = order_or_404(oid)
                if "meta_data" in body:
                    _merge_meta(order["meta_data"], body["meta_data"] or [], emu._next_meta_id)
                if "status" in body:
                    emu._set_order_status(order, body["status"])
                if "customer_note" in body:
                    order["customer_note"] = body["customer_note"]
                now = _wp_date(_now())
                order["date_modified"] = order["date_modified_gmt"] = now
                emu._trigger("order", "updated", oid)
                return _json(order)

        # https://woocommerce.github.io/woocommerce-rest-api-docs/#create-an-order-note
        @app.post(p + "/orders/{oid}/notes")
        async def create_note(oid: int, request: Request):
            body = await body_of(request)
            with emu._lock:
                order_or_404(oid)
                if not body.get("note"):
                    raise _WooError(400, "woocommerce_rest_missing_note", "Missing note.")
                emu._note_seq += 1
                note = {
                    "id": emu._note_seq,
                    "author": "WooCommerce",
                    "date_created": _wp_date(_now()),
                    "date_created_gmt": _wp_date(_now()),
                    "note": str(body["note"]),
                    "customer_note": bool(body.get("customer_note", False)),
                }
                emu.notes[oid].append(note)
                if note["customer_note"]:
                    emu._email(oid, "customer_note", note["note"])
                return _json(note, 201)

        # https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-order-notes
        @app.get(p + "/orders/{oid}/notes")
        async def list_notes(oid: int, request: Request):
            with emu._lock:
                order_or_404(oid)
                kind = request.query_params.get("type", "any")
                notes = emu.notes[oid]
                if kind == "customer":
                    notes = [n for n in notes if n["customer_note"]]
                elif kind == "internal":
                    notes = [n for n in notes if not n["customer_note"]]
                return _json(list(reversed(notes)))

        # https://woocommerce.com/document/shipment-tracking/shipment-tracking-rest-api-create-tracking-item/
        @app.post(TRACKING_PREFIX + "/orders/{oid}/shipment-trackings")
        async def create_tracking(oid: int, request: Request):
            body = await body_of(request)
            with emu._lock:
                order = order_or_404(oid)
                if not body.get("tracking_number"):
                    raise _WooError(400, "woocommerce_rest_missing_tracking_number", "Missing tracking number.")
                provider = body.get("tracking_provider", "")
                item = {
                    "tracking_provider": provider if not body.get("custom_tracking_provider") else "",
                    "custom_tracking_provider": body.get("custom_tracking_provider", ""),
                    "custom_tracking_link": body.get("custom_tracking_link", ""),
                    "tracking_number": str(body["tracking_number"]),
                    "date_shipped": body.get("date_shipped", _now().strftime("%Y-%m-%d")),
                    "tracking_id": hashlib.md5(f"{oid}{time.time_ns()}".encode()).hexdigest(),
                }
                emu._add_tracking(order, item)
                link = item["custom_tracking_link"] or (
                    f"https://tracking.example/{provider.lower()}/%1$s" if provider else ""
                )
                out = dict(item)
                out["tracking_link"] = link.replace("%1$s", item["tracking_number"]) if link else ""
                return _json(out, 201)

        @app.get(TRACKING_PREFIX + "/orders/{oid}/shipment-trackings")
        async def list_trackings(oid: int):
            with emu._lock:
                order_or_404(oid)
                return _json(emu.tracking_items(oid))

        # https://woocommerce.github.io/woocommerce-rest-api-docs/#create-a-webhook
        @app.post(p + "/webhooks")
        async def create_webhook(request: Request):
            body = await body_of(request)
            with emu._lock:
                topic = body.get("topic")
                if topic not in TOPICS and not str(topic or "").startswith("action."):
                    raise _WooError(
                        400,
                        "rest_invalid_param",
                        "Invalid parameter(s): topic",
                        params={"topic": "Webhook topic unknown."},
                    )
                if not body.get("delivery_url"):
                    raise _WooError(400, "rest_missing_callback_param", "Missing parameter(s): delivery_url")
                emu._hook_seq += 1
                now = _wp_date(_now())
                hook = {
                    "id": emu._hook_seq,
                    "name": body.get("name") or f"Webhook created on {now}",
                    "status": body.get("status", "active"),
                    "topic": topic,
                    "resource": topic.split(".")[0],
                    "event": topic.split(".")[1],
                    "hooks": [],
                    "delivery_url": body["delivery_url"],
                    "secret": body.get("secret") or hashlib.sha256(b"user-1").hexdigest(),
                    "failure_count": 0,
                    "date_created": now,
                    "date_created_gmt": now,
                    "date_modified": now,
                    "date_modified_gmt": now,
                }
                emu.webhooks[hook["id"]] = hook
                if emu.send_ping and hook["status"] == "active":
                    emu._outstanding += 1
                    emu._queue.put(("ping", hook["id"], ""))
                return _json(_hook_view(hook), 201)

        # https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-webhooks
        @app.get(p + "/webhooks")
        async def list_webhooks(request: Request):
            with emu._lock:
                hooks = [_hook_view(h) for h in sorted(emu.webhooks.values(), key=lambda h: h["id"])]
                wanted = request.query_params.get("status", "all")
                if wanted != "all":
                    hooks = [h for h in hooks if h["status"] == wanted]
                return emu._paginate(request, hooks, "/webhooks")

        @app.get(p + "/webhooks/{hid}")
        async def get_webhook(hid: int):
            with emu._lock:
                hook = emu.webhooks.get(hid)
                if hook is None:
                    raise _WooError(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
                return _json(_hook_view(hook))

        # https://woocommerce.github.io/woocommerce-rest-api-docs/#update-a-webhook
        @app.put(p + "/webhooks/{hid}")
        async def update_webhook(hid: int, request: Request):
            body = await body_of(request)
            with emu._lock:
                hook = emu.webhooks.get(hid)
                if hook is None:
                    raise _WooError(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
                for name in ("name", "delivery_url", "secret"):
                    if body.get(name):
                        hook[name] = body[name]
                if "status" in body:
                    hook["status"] = body["status"]
                    if body["status"] == "active":
                        hook["failure_count"] = 0
                return _json(_hook_view(hook))

        @app.delete(p + "/webhooks/{hid}")
        async def delete_webhook(hid: int):
            with emu._lock:
                hook = emu.webhooks.pop(hid, None)
                if hook is None:
                    raise _WooError(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
                return _json(_hook_view(hook))

        @app.api_route(p + "/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
        async def no_route(rest: str):
            return _error(404, "rest_no_route", "No route was found matching the URL and request method")

        # ---- control (tests, demo): no auth, not counted ----------------------------------

        @app.post("/_control/orders")
        async def control_order(request: Request):
            body = await request.json()
            try:
                order = emu.create_order(
                    body["lines"],
                    currency=body.get("currency"),
                    status=body.get("status", "processing"),
                    email=body.get("email", "shopper@example.com"),
                    shipping=body.get("shipping"),
                    shipping_total=body.get("shipping_total", "0.00"),
                )
            except _WooError as exc:
                return _error(exc.status, exc.code, str(exc))
            return _json(order, 201)

        add_common_controls(app, emu)

        @app.get("/_control/stock/{pid}")
        async def control_stock(pid: int):
            return {"stock_quantity": emu.stock_of(pid)}

        @app.get("/_control/fulfillments/{oid}")
        async def control_fulfillments(oid: int):
            return emu.fulfillments_of(oid)

        @app.get("/_control/emails")
        async def control_emails():
            with emu._lock:
                return copy.deepcopy(emu.emails)

        return app


def _err_body(exc: _WooError) -> dict[str, Any]:
    return {"code": exc.code, "message": str(exc), "data": {"status": exc.status, **exc.data}}


def _hook_view(hook: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in hook.items() if k not in ("secret", "failure_count")}


def _merge_meta(meta: list[dict[str, Any]], updates: list[dict[str, Any]], next_id=None) -> None:
    """WooCommerce's update_meta_data: replace by id or key, else add."""
    for update in updates:
        if not isinstance(update, dict) or "key" not in update:
            continue
        target = None
        if update.get("id"):
            target = next((m for m in meta if m["id"] == update["id"]), None)
        if target is None:
            target = next((m for m in meta if m["key"] == update["key"]), None)
        if target is None:
            meta.append(
                {
                    "id": next_id() if next_id else len(meta) + 1,
                    "key": update["key"],
                    "value": copy.deepcopy(update.get("value")),
                }
            )
        else:
            target["value"] = copy.deepcopy(update.get("value"))
