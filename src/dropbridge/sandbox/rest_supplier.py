"""Emulator of a generic REST dropship supplier: the API dropbridge's `rest` supplier connector speaks.

This is OUR definition of a "generic REST supplier", for wholesalers that offer a plain JSON API.
All bodies are JSON; every endpoint except `/_control/*` needs `Authorization: Bearer <api_key>`.
Errors use one envelope: `{"error": {"code": ..., "message": ..., ...}}`.

- `POST /orders` with `{"reference": str (1..64 chars), "ship_to": {"name", "address1", "address2",
  "city", "province_code", "postal_code", "country_code", "phone", "company"}, "items":
  [{"supplier_sku": str, "quantity": int > 0}], "email": str?}` -> 201 with the order. Bad body: 422
  `invalid` with `field` (e.g. `items[0].quantity`). With a stock table, an unknown SKU or a quantity
  above stock: 409 `out_of_stock` with `sku`; accepting an order decrements stock.
  References are NOT de-duplicated by default (a second POST makes a second order): dropbridge must
  prove its own exactly-once. `dedupe_references=True` answers 200 with the existing order instead.
- `GET /orders?reference=R` -> 200 `{"orders": [...]}`, oldest first (all orders without `reference`).
- `GET /orders/{order_id}` -> 200 order; 404 `not_found`.
- `POST /orders/{order_id}/cancel` -> 200 order (status `cancelled`, stock restored); 409
  `already_shipped` once shipped.
- An order: `{"order_id": "SO-<n>", "reference", "status": "accepted" | "shipped" | "cancelled",
  "ship_to", "items", "email", "created_at", "shipments": [{"carrier", "tracking_number",
  "tracking_url", "shipped_at", "items": [{"supplier_sku", "quantity"}]}], "total"?}`; `total` is
  `{"amount": "25.00", "currency": "USD"}` when the emulator has a price table.
- Shipping: accepted orders ship `ship_after_seconds` after acceptance (None: only when told to, via
  `/_control/ship/{id}` or `ship()`), by "UPS" with a unique, valid UPS 1Z tracking number.
- Webhook on shipping, when `webhook_url` is set: POST `{"event_id": uuid, "type": "order.shipped",
  "created_at": iso, "order": <order>}` with headers `X-Event-Id`, `X-Timestamp` (unix seconds) and
  `X-Signature: sha256=<hex HMAC-SHA256(webhook_secret, f"{timestamp}.".encode() + raw_body)>`.
  A failed delivery (transport error or non-2xx) is retried a few times with short backoff.

Fault injection, no auth: `POST /_control/faults {"mode", "count": 1, "seconds": 30, "retry_after": 1}`
queues faults that the next `count` `POST /orders` calls consume, in order:
`hang_after_accept` records the order, then sleeps `seconds` before answering (the client times out
although the order exists); `timeout_before_accept` sleeps, then answers 504 without recording;
`error_500` answers 500 without recording; `reject` answers 409 `out_of_stock`; `rate_limit` answers
429 with `Retry-After`. Also `GET /_control/orders`, `POST /_control/ship/{order_id}`,
`POST /_control/reset`, and the same operations in-process (`inject`, `orders`, `ship`, `reset`).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from dropbridge.domain.tracking import make_ups_number
from dropbridge.sandbox.kit import Emulator, hold
from dropbridge.sandbox.kit.controls import add_fault_controls

FAULT_MODES = ("none", "hang_after_accept", "timeout_before_accept", "error_500", "reject", "rate_limit")
SHIP_ADDRESS_FIELDS = (
    "name",
    "address1",
    "address2",
    "city",
    "province_code",
    "postal_code",
    "country_code",
    "phone",
    "company",
)
REQUIRED_ADDRESS_FIELDS = ("name", "address1", "city", "country_code")
MAX_REFERENCE = 64
WEBHOOK_BACKOFF = (0.2, 0.5, 1.0)  # seconds before retries 1..3: bounded, four attempts in all


class _Invalid(Exception):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any):
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status, headers=headers)


def sign_body(secret: str, timestamp: int, raw_body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _validate_order(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _Invalid("body must be a JSON object", "")
    reference = body.get("reference")
    if not isinstance(reference, str) or not reference:
        raise _Invalid("reference is required", "reference")
    if len(reference) > MAX_REFERENCE:
        raise _Invalid(f"reference is longer than {MAX_REFERENCE} characters", "reference")
    ship_to = body.get("ship_to")
    if not isinstance(ship_to, dict):
        raise _Invalid("ship_to is required", "ship_to")
    address: dict[str, str] = {}
    for name in SHIP_ADDRESS_FIELDS:
        value = ship_to.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise _Invalid(f"ship_to.{name} must be a string", f"ship_to.{name}")
        if name in REQUIRED_ADDRESS_FIELDS and not value.strip():
            raise _Invalid(f"ship_to.{name} is required", f"ship_to.{name}")
        address[name] = value
    if len(address["country_code"]) != 2:
        raise _Invalid("ship_to.country_code must be ISO 3166-1 alpha-2", "ship_to.country_code")
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise _Invalid("items must be a non-empty list", "items")
    clean_items = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _Invalid("item must be an object", f"items[{i}]")
        sku = item.get("supplier_sku")
        if not isinstance(sku, str) or not sku:
            raise _Invalid("supplier_sku is required", f"items[{i}].supplier_sku")
        qty = item.get("quantity")
        if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0:
            raise _Invalid("quantity must be a positive integer", f"items[{i}].quantity")
        clean_items.append({"supplier_sku": sku, "quantity": qty})
    email = body.get("email")
    if email is not None and not isinstance(email, str):
        raise _Invalid("email must be a string", "email")
    return {"reference": reference, "ship_to": address, "items": clean_items, "email": email}


class RestSupplierEmulator(Emulator):
    fault_modes = FAULT_MODES

    def __init__(
        self,
        api_key: str,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        ship_after_seconds: float | None = 2.0,
        stock: dict[str, int] | None = None,
        dedupe_references: bool = False,
        name: str = "rest",
        prices: dict[str, str] | None = None,
        currency: str = "USD",
    ):
        if webhook_url and not webhook_secret:
            raise ValueError("webhook_url needs a webhook_secret to sign with")
        self.name = name
        super().__init__(webhook_retry_delays=WEBHOOK_BACKOFF)
        self.api_key = api_key
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.ship_after_seconds = ship_after_seconds
        self.dedupe_references = dedupe_references
        self.prices = {k: Decimal(v) for k, v in (prices or {}).items()}
        self.currency = currency
        self._initial_stock = dict(stock) if stock is not None else None
        # Tracking numbers are valid UPS 1Z numbers (check digit included), deterministic per emulator name
        # (the shipper account part), so two emulators in the demo differ.
        self._shipper = hashlib.sha1(name.encode()).hexdigest()[:6].upper()
        self._lock = self.lock
        self._reset_state()
        self.app = self._build_app()
        self.every(0.05, self._ship_due)

    # ---- state -------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        with self._lock:
            self._orders: dict[str, dict[str, Any]] = {}
            self._accepted_at: dict[str, float] = {}
            self._stock = dict(self._initial_stock) if self._initial_stock is not None else None
            self._seq = 0
            # Tracking numbers stay unique for the emulator's life, even across resets.
            self._tracking_seq = getattr(self, "_tracking_seq", 0)
            self.requests = 0  # POST /orders calls served, faults included

    def inject(self, mode: str, count: int = 1, seconds: float = 30.0, retry_after: float = 1.0) -> None:
        """Queue `count` faults of `mode` for the next `POST /orders` calls."""
        self.faults.inject(mode, count, seconds=seconds, retry_after=retry_after)

    def orders(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(o) for o in self._orders.values()]

    def orders_with_reference(self, reference: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(o) for o in self._orders.values() if o["reference"] == reference]

    def order(self, order_id: str) -> dict[str, Any] | None:
        with self._lock:
            order = self._orders.get(order_id)
            return copy.deepcopy(order) if order else None

    def stock(self) -> dict[str, int] | None:
        with self._lock:
            return dict(self._stock) if self._stock is not None else None

    def webhooks(self) -> list[dict[str, Any]]:
        """Every webhook delivery: {"event_id", "order_id", "attempts", "status", "delivered"}."""
        out = []
        for d in self.sender.records():
            last = d["attempts"][-1]["outcome"] if d["attempts"] else None
            out.append({"event_id": d["event_id"], "order_id": d["order_id"], "attempts": len(d["attempts"]),
                        "status": last if isinstance(last, int) else None, "delivered": d["done"]})
        return out

    def reset(self) -> None:
        self.faults.clear()
        self._reset_state()

    def ship(self, order_id: str, tracking_number: str | None = None) -> dict[str, Any]:
        """Ship an accepted order now; returns the order. KeyError if unknown, ValueError if cancelled.
        `tracking_number` replaces the generated one (a test can send a mistyped number)."""
        with self._lock:
            order = self._orders[order_id]
            if order["status"] == "cancelled":
                raise ValueError(f"{order_id} is cancelled")
            if order["status"] == "shipped":
                return copy.deepcopy(order)
            self._tracking_seq += 1
            number = tracking_number or make_ups_number(self._shipper, "03", self._tracking_seq)
            order["status"] = "shipped"
            order["shipments"].append(
                {
                    "carrier": "UPS",
                    "tracking_number": number,
                    "tracking_url": f"https://www.ups.com/track?tracknum={number}",
                    "shipped_at": _now_iso(),
                    "items": [dict(i) for i in order["items"]],
                }
            )
            self._accepted_at.pop(order_id, None)
            snapshot = copy.deepcopy(order)
        if self.webhook_url:
            event = {
                "event_id": str(uuid.uuid4()),
                "type": "order.shipped",
                "created_at": _now_iso(),
                "order": snapshot,
            }
            raw = json.dumps(event, separators=(",", ":")).encode()
            self.sender.send(self.webhook_url, raw, self._signed_headers(event["event_id"]),
                             event_id=event["event_id"], order_id=order_id)
        return snapshot

    def _signed_headers(self, event_id: str):
        def headers(raw: bytes, attempt: int) -> dict[str, str]:
            timestamp = int(time.time())
            return {"Content-Type": "application/json", "X-Event-Id": event_id, "X-Timestamp": str(timestamp),
                    "X-Signature": sign_body(self.webhook_secret or "", timestamp, raw)}
        return headers

    def _accept(self, data: dict[str, Any]) -> tuple[Any, Any, bool]:
        """Record an order: (order, None, created) or (None, out-of-stock details, False)."""
        with self._lock:
            if self.dedupe_references:
                for existing in self._orders.values():
                    if existing["reference"] == data["reference"]:
                        return copy.deepcopy(existing), None, False
            if self._stock is not None:
                wanted: dict[str, int] = {}
                for item in data["items"]:
                    wanted[item["supplier_sku"]] = wanted.get(item["supplier_sku"], 0) + item["quantity"]
                for sku, qty in wanted.items():
                    have = self._stock.get(sku)
                    if have is None:
                        return None, {"sku": sku, "message": f"unknown sku {sku}"}, False
                    if qty > have:
                        msg = f"only {have} of {sku} in stock, {qty} asked"
                        return None, {"sku": sku, "message": msg}, False
                for sku, qty in wanted.items():
                    self._stock[sku] -= qty
            self._seq += 1
            order_id = f"SO-{self._seq}"
            order = {
                "order_id": order_id,
                "reference": data["reference"],
                "status": "accepted",
                "ship_to": data["ship_to"],
                "items": data["items"],
                "email": data["email"],
                "created_at": _now_iso(),
                "shipments": [],
            }
            if self.prices:
                amount = sum(
                    (self.prices.get(i["supplier_sku"], Decimal(0)) * i["quantity"] for i in data["items"]),
                    Decimal(0),
                )
                order["total"] = {"amount": f"{amount:.2f}", "currency": self.currency}
            self._orders[order_id] = order
            self._accepted_at[order_id] = time.monotonic()
            return copy.deepcopy(order), None, True

    def _cancel(self, order_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                return 404, {}
            if order["status"] == "shipped":
                return 409, order
            if order["status"] != "cancelled":
                order["status"] = "cancelled"
                self._accepted_at.pop(order_id, None)
                if self._stock is not None:
                    for item in order["items"]:
                        sku = item["supplier_sku"]
                        self._stock[sku] = self._stock.get(sku, 0) + item["quantity"]
            return 200, copy.deepcopy(order)

    # ---- HTTP --------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), self.api_key)

    def _build_app(self) -> FastAPI:
        app = FastAPI(title=f"REST supplier emulator ({self.name})", docs_url=None, redoc_url=None)
        unauthorized = "missing or wrong bearer token"

        # Async endpoints: a hanging fault sleeps on the event loop without blocking other requests.
        @app.post("/orders")
        async def create_order(request: Request):
            if not self._authorized(request):
                return _error(401, "unauthorized", unauthorized)
            with self._lock:
                self.requests += 1
            try:
                body = json.loads(await request.body())
            except ValueError:
                return _error(422, "invalid", "body is not JSON", field="")
            try:
                data = _validate_order(body)
            except _Invalid as exc:
                return _error(422, "invalid", str(exc), field=exc.field)
            fault = self.faults.take("orders.create")
            if fault is not None:
                if fault.mode == "error_500":
                    return _error(500, "internal", "injected server error")
                if fault.mode == "rate_limit":
                    retry = f"{fault.retry_after:g}"
                    return _error(429, "rate_limited", "slow down", headers={"Retry-After": retry})
                if fault.mode == "reject":
                    sku = data["items"][0]["supplier_sku"]
                    return _error(409, "out_of_stock", f"{sku} is out of stock", sku=sku)
                if fault.mode == "timeout_before_accept":
                    await hold(fault.seconds, self.stopping)
                    return _error(504, "timeout", "upstream timed out before accepting")
            order, problem, created = self._accept(data)
            if problem is not None:
                return _error(409, "out_of_stock", problem["message"], sku=problem["sku"])
            if fault is not None and fault.mode == "hang_after_accept":
                await hold(fault.seconds, self.stopping)
            return JSONResponse(order, 201 if created else 200)

        @app.get("/orders")
        async def list_orders(request: Request, reference: str | None = None):
            if not self._authorized(request):
                return _error(401, "unauthorized", unauthorized)
            found = self.orders() if reference is None else self.orders_with_reference(reference)
            return {"orders": found}

        @app.get("/orders/{order_id}")
        async def get_order(request: Request, order_id: str):
            if not self._authorized(request):
                return _error(401, "unauthorized", unauthorized)
            order = self.order(order_id)
            if order is None:
                return _error(404, "not_found", f"no order {order_id}")
            return order

        @app.post("/orders/{order_id}/cancel")
        async def cancel_order(request: Request, order_id: str):
            if not self._authorized(request):
                return _error(401, "unauthorized", unauthorized)
            status, order = self._cancel(order_id)
            if status == 404:
                return _error(404, "not_found", f"no order {order_id}")
            if status == 409:
                return _error(409, "already_shipped", f"{order_id} has shipped")
            return order

        add_fault_controls(app, self, lambda status, message: _error(status, "invalid", message, field="mode"))

        @app.get("/_control/orders")
        async def control_orders():
            return {"orders": self.orders()}

        @app.post("/_control/ship/{order_id}")
        async def control_ship(order_id: str):
            try:
                return self.ship(order_id)
            except KeyError:
                return _error(404, "not_found", f"no order {order_id}")
            except ValueError as exc:
                return _error(409, "cancelled", str(exc))

        @app.post("/_control/reset")
        async def control_reset():
            self.reset()
            return {"reset": True}

        return app

    # ---- lifecycle ---------------------------------------------------------------------------

    def connection(self) -> dict[str, Any]:
        return {"name": self.name, "base_url": self.url,
                "credentials": {"api_key": self.api_key, **({"webhook_secret": self.webhook_secret}
                                                           if self.webhook_secret else {})},
                "config": {"currency": self.currency}}

    def _ship_due(self) -> None:
        if self.ship_after_seconds is None:
            return
        now = time.monotonic()
        with self._lock:
            due = [oid for oid, at in self._accepted_at.items() if now - at >= self.ship_after_seconds]
        for order_id in due:
            with contextlib.suppress(KeyError, ValueError):  # reset or cancelled meanwhile
                self.ship(order_id)
