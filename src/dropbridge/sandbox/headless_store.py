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
- `product.published` a product draft `{"sku", "title", "description_html", "images", "vendor",
  "variants": [{"sku", "price", "currency", "compare_at_price", "options", "barcode", "quantity"}]}`
  -> 200 `{"product_id": <sku>, "variant_ids": {sku: sku}}`.
Errors: `{"error": {"code", "message", "field"?}}`; 400 for a malformed envelope, 422 for a bad body.

Orders the other way: the store may offer an order list at `GET /orders?cursor=` -> `{"orders":
[...], "next_cursor": str | null}` (bearer `orders_token` when set), fed in-process by `add_order`
or `POST /_control/orders`; and `send_event` POSTs a signed event (e.g. `order.created`) to dropbridge.

Fault injection: `POST /_control/faults {"mode": "error_500" | "rate_limit", "count": n,
"retry_after": s}` or in-process `inject()`; consumed by the next `count` event deliveries, which
record nothing. Also `GET /_control/fulfillments`, `GET /_control/deliveries`, `POST /_control/reset`.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import deque
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from dropbridge.connectors.kit.http import build_client
from dropbridge.sandbox.kit.server import RunningServer, start_server

MAX_STOCK_BATCH = 500
TOLERANCE_SECONDS = 300
FAULT_MODES = ("error_500", "rate_limit")


class _Invalid(Exception):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any):
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status, headers=headers)


def _signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()


def _str(body: dict, key: str, path: str, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise _Invalid(f"{path} must be a non-empty string", path)
    return value


def _int(body: dict, key: str, path: str, minimum: int) -> int:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _Invalid(f"{path} must be an integer >= {minimum}", path)
    return value


def _list(body: dict, key: str, path: str) -> list:
    value = body.get(key)
    if not isinstance(value, list):
        raise _Invalid(f"{path} must be a list", path)
    return value


class HeadlessStoreEmulator:
    def __init__(self, secret: str, orders_token: str | None = None, page_size: int = 50):
        self.secret = secret
        self.orders_token = orders_token
        self.page_size = page_size
        self._lock = threading.RLock()
        self._server: RunningServer | None = None
        self.reset()
        self.app = self._build_app()

    # ---- state -------------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._results: dict[str, tuple[int, Any]] = {}  # delivery key -> first answer
            self._fulfillments: list[dict[str, Any]] = []
            self._stock_updates: list[dict[str, Any]] = []
            self._stock: dict[str, int] = {}
            self._products: dict[str, dict[str, Any]] = {}
            self._deliveries: list[dict[str, Any]] = []
            self._faults: deque[tuple[str, float]] = deque()
            self._orders: list[dict[str, Any]] = []

    def inject(self, mode: str, count: int = 1, retry_after: float = 1.0) -> None:
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; one of {FAULT_MODES}")
        with self._lock:
            self._faults.extend([(mode, float(retry_after))] * count)

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

    def products(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._products.values()))

    def deliveries(self) -> list[dict[str, Any]]:
        """Every event request: {"delivery_id", "event", "status", "duplicate"}."""
        with self._lock:
            return copy.deepcopy(self._deliveries)

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
            "X-Dropbridge-Signature": _signature(self.secret, timestamp, raw),
        }
        with build_client(timeout=5.0) as client:
            return client.post(url, content=raw, headers=headers).status_code

    # ---- event handling ----------------------------------------------------------------------

    def _fulfillment(self, body: dict[str, Any]) -> tuple[int, Any]:
        order_id = _str(body, "order_external_id", "order_external_id")
        carrier = _str(body, "carrier", "carrier", required=False) or ""
        number = _str(body, "tracking_number", "tracking_number")
        url = _str(body, "tracking_url", "tracking_url", required=False)
        lines = []
        for i, line in enumerate(_list(body, "lines", "lines")):
            if not isinstance(line, dict):
                raise _Invalid("line must be an object", f"lines[{i}]")
            lines.append(
                {
                    "external_line_id": _str(line, "external_line_id", f"lines[{i}].external_line_id"),
                    "quantity": _int(line, "quantity", f"lines[{i}].quantity", 1),
                }
            )
        notify = body.get("notify_customer", True)
        if not isinstance(notify, bool):
            raise _Invalid("notify_customer must be a boolean", "notify_customer")
        with self._lock:
            fulfillment_id = f"F-{len(self._fulfillments) + 1}"
            self._fulfillments.append(
                {
                    "fulfillment_id": fulfillment_id,
                    "order_external_id": order_id,
                    "carrier": carrier,
                    "tracking_number": number,
                    "tracking_url": url,
                    "lines": lines,
                    "notify_customer": notify,
                }
            )
        return 201, {"fulfillment_id": fulfillment_id}

    def _stock_update(self, body: dict[str, Any]) -> tuple[int, Any]:
        updates = _list(body, "updates", "updates")
        if len(updates) > MAX_STOCK_BATCH:
            raise _TooLarge(f"{len(updates)} updates; at most {MAX_STOCK_BATCH} per call")
        clean = []
        for i, update in enumerate(updates):
            if not isinstance(update, dict):
                raise _Invalid("update must be an object", f"updates[{i}]")
            clean.append(
                {
                    "sku": _str(update, "sku", f"updates[{i}].sku"),
                    "external_variant_id": _str(update, "external_variant_id", f"updates[{i}].external_variant_id"),
                    "quantity": _int(update, "quantity", f"updates[{i}].quantity", 0),
                }
            )
        with self._lock:
            for update in clean:
                self._stock[update["external_variant_id"]] = update["quantity"]
            self._stock_updates.extend(clean)
        return 200, {"applied": len(clean)}

    def _product(self, body: dict[str, Any]) -> tuple[int, Any]:
        sku = _str(body, "sku", "sku")
        _str(body, "title", "title")
        variant_ids: dict[str, str] = {}
        for i, variant in enumerate(_list(body, "variants", "variants")):
            if not isinstance(variant, dict):
                raise _Invalid("variant must be an object", f"variants[{i}]")
            vsku = _str(variant, "sku", f"variants[{i}].sku")
            _str(variant, "price", f"variants[{i}].price")
            variant_ids[vsku] = vsku
        with self._lock:
            self._products[sku] = copy.deepcopy(body)
        return 200, {"product_id": sku, "variant_ids": variant_ids}

    def _handle(self, event: str, body: Any) -> tuple[int, Any]:
        handlers = {
            "fulfillment.created": self._fulfillment,
            "stock.updated": self._stock_update,
            "product.published": self._product,
        }
        handler = handlers.get(event)
        if handler is None:
            return 400, {"error": {"code": "unknown_event", "message": f"unknown event type {event!r}"}}
        if not isinstance(body, dict):
            return 422, {"error": {"code": "invalid", "message": "body must be an object", "field": ""}}
        try:
            return handler(body)
        except _TooLarge as exc:
            return 413, {"error": {"code": "too_large", "message": str(exc)}}
        except _Invalid as exc:
            return 422, {"error": {"code": "invalid", "message": str(exc), "field": exc.field}}

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="Headless store emulator", docs_url=None, redoc_url=None)

        @app.post("/dropbridge/events")
        async def events(request: Request):
            raw = await request.body()
            h = request.headers
            event = h.get("x-dropbridge-event", "")
            delivery = h.get("x-dropbridge-delivery", "")

            def log(status: int, duplicate: bool = False) -> None:
                with self._lock:
                    self._deliveries.append(
                        {"delivery_id": delivery, "event": event, "status": status, "duplicate": duplicate}
                    )

            with self._lock:
                fault = self._faults.popleft() if self._faults else None
            if fault is not None:
                mode, retry_after = fault
                if mode == "rate_limit":
                    log(429)
                    return _error(429, "rate_limited", "slow down", {"Retry-After": f"{retry_after:g}"})
                log(500)
                return _error(500, "internal", "injected server error")

            timestamp = h.get("x-dropbridge-timestamp", "")
            signature = h.get("x-dropbridge-signature", "")
            try:
                fresh = abs(time.time() - int(timestamp)) <= TOLERANCE_SECONDS
            except ValueError:
                fresh = False
            if not fresh:
                log(401)
                return _error(401, "stale", "missing or stale X-Dropbridge-Timestamp")
            expected = _signature(self.secret, timestamp, raw)
            if not hmac.compare_digest(signature.encode(), expected.encode()):
                log(401)
                return _error(401, "bad_signature", "X-Dropbridge-Signature does not match")
            if not delivery or not event:
                log(400)
                return _error(400, "invalid", "X-Dropbridge-Delivery and X-Dropbridge-Event are required")

            # The lock spans look-up and record, so two racing repeats still record once.
            with self._lock:
                if delivery in self._results:
                    status, result = self._results[delivery]
                    log(200, duplicate=True)
                    return JSONResponse(result, 200)
                try:
                    body = json.loads(raw)
                except ValueError:
                    log(400)
                    return _error(400, "invalid", "body is not JSON")
                status, result = self._handle(event, body)
                if 200 <= status < 300:
                    self._results[delivery] = (status, result)
                log(status)
            return JSONResponse(result, status)

        @app.get("/orders")
        async def list_orders(request: Request, cursor: str | None = None):
            if self.orders_token is not None:
                scheme, _, token = request.headers.get("authorization", "").partition(" ")
                if scheme.lower() != "bearer" or not hmac.compare_digest(token, self.orders_token):
                    return _error(401, "unauthorized", "missing or wrong bearer token")
            try:
                start = int(cursor) if cursor else 0
            except ValueError:
                return _error(400, "invalid", "bad cursor", field="cursor")
            with self._lock:
                page = copy.deepcopy(self._orders[start : start + self.page_size])
                more = start + self.page_size < len(self._orders)
            return {"orders": page, "next_cursor": str(start + self.page_size) if more else None}

        @app.post("/_control/orders")
        async def control_add_order(request: Request):
            self.add_order(json.loads(await request.body()))
            return {"added": True}

        @app.post("/_control/faults")
        async def control_faults(request: Request):
            try:
                body = json.loads(await request.body())
                self.inject(body["mode"], int(body.get("count", 1)), float(body.get("retry_after", 1.0)))
            except (ValueError, KeyError, TypeError) as exc:
                return _error(422, "invalid", str(exc), field="mode")
            with self._lock:
                return {"queued": [mode for mode, _ in self._faults]}

        @app.get("/_control/fulfillments")
        async def control_fulfillments():
            return {"fulfillments": self.fulfillments()}

        @app.get("/_control/deliveries")
        async def control_deliveries():
            return {"deliveries": self.deliveries()}

        @app.post("/_control/reset")
        async def control_reset():
            self.reset()
            return {"reset": True}

        return app

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("emulator not started")
        return self._server.url

    @property
    def events_url(self) -> str:
        return f"{self.url}/dropbridge/events"

    def start(self, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
        if self._server is None:
            self._server = start_server(self.app, host, port)
        return self._server

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> HeadlessStoreEmulator:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class _TooLarge(Exception):
    pass
