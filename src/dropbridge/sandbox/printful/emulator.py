"""The Printful emulator: v1 and v2 of Printful's API over real HTTP, as `../shared/contracts/suppliers.md`
section 1 (and 7) describe it and the OpenAPI documents define it. Each behaviour names its contract point."""

from __future__ import annotations

import base64
import contextlib
import copy
import hmac
import json
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dropbridge.domain.tracking import make_usps_number
from dropbridge.sandbox.kit import COMMON_MODES, Emulator, hold
from dropbridge.sandbox.kit.controls import add_fault_controls

from . import catalog as cat
from . import http, orders, shipping
from .orders import Invalid, Line, Order, Shipment
from .webhooks import EVENTS, PUBLIC_KEY_HEADER, SIGNATURE_HEADER, PrintfulSender, WebhookConfig, event_body, new_keys
from .webhooks import sign as sign_body

STORE_ID = 12
BULK_SHIPPING_ITEMS = 100  # 1.3: above this summed quantity, shipping rates drop to 5 per 60 s
EXPIRED = "The access token provided is expired"


def _int(value: str | None, name: str, default: int, low: int = 0, high: int | None = None) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise Invalid(f"{name} must be an integer") from None
    if number < low or (high is not None and number > high):
        raise Invalid(f"{name} must be between {low} and {high}" if high is not None else f"{name} must be >= {low}")
    return number


def operation(method: str, path: str) -> str:
    """The fault and call-count name of a request."""
    if path.startswith("/v2/catalog-"):
        return "catalog"
    if path.startswith("/store/"):
        return "store"
    if path in ("/shipping/rates", "/v2/shipping-rates"):
        return "shipping"
    if path.startswith("/v2/webhooks"):
        return "webhooks"
    if path in ("/orders", "/v2/orders"):
        return "orders.create" if method == "POST" else "orders.read"
    if path.startswith(("/orders/", "/v2/orders/")):
        if path.endswith(("/confirm", "/confirmation")):
            return "orders.confirm"
        return "orders.cancel" if method == "DELETE" else "orders.read"
    return "other"


class PrintfulEmulator(Emulator):
    fault_modes = COMMON_MODES

    def __init__(self, *, api_token: str, name: str = "printful", webhook_url: str | None = None,
                 featured: bool = True, catalog_products: int = 0, variants_per_product: int = 10,
                 store_products: bool = True, ship_after_seconds: float | None = 2.0,
                 cost_delay_seconds: float = 0.3, rate_limit_per_minute: int | None = 120,
                 signing_key: str = "hex", v2_shipment_tracking_number: bool = False,
                 refuse_out_of_stock: bool = True, webhook_retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0),
                 store_id: int = STORE_ID, currency: str = "USD", image_base: str = cat.CDN):
        self.name = name
        super().__init__(webhook_retry_delays=webhook_retry_delays)
        self.sender = PrintfulSender(name, retry_delays=webhook_retry_delays)
        self.api_token = api_token
        self.store_id = store_id
        self.currency = currency
        self.ship_after_seconds = ship_after_seconds
        self.cost_delay_seconds = cost_delay_seconds
        self.rate_limit_per_minute = rate_limit_per_minute
        self.signing_key = signing_key  # contract 1.9 [C]: "hex" (hex-decoded secret) or "text"
        self.v2_shipment_tracking_number = v2_shipment_tracking_number  # contract 1.8 [U]
        self.refuse_out_of_stock = refuse_out_of_stock  # unverified: Printful refusing an out-of-stock variant
        self.catalog: dict[int, cat.CatalogProduct] = {}
        # image_base: where catalog images point (Printful's CDN; a bench points them at an address never fetched)
        generated = cat.generated(catalog_products, variants_per_product, cdn=image_base)
        for product in (cat.featured(image_base) if featured else []) + generated:
            self.catalog[product.id] = product
        self.variants = {v.id: (v, p) for p in self.catalog.values() for v in p.variants}
        self.sync_products = {p.id: p for p in (cat.store_products(self.catalog, image_base) if store_products else [])}
        self.sync_variants = {v.id: v for p in self.sync_products.values() for v in p.variants}
        self.sync_by_external = {v.external_id: v for v in self.sync_variants.values()}
        self.webhook_config: WebhookConfig | None = None
        if webhook_url:
            public, secret = new_keys()
            watched = [{"id": pid} for pid in sorted(self.catalog)[:100]]
            self.webhook_config = WebhookConfig(webhook_url, public, secret, {
                e: ({"params": [{"name": "products", "value": watched}]} if e == "catalog_stock_updated" else {})
                for e in ("shipment_sent", "order_created", "order_updated", "order_failed", "order_canceled",
                          "order_put_hold", "catalog_stock_updated")})
        self._reset_state()
        self.app = self._build_app()
        self.every(0.05, self._tick)

    # ---- state -------------------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        with self.lock:
            self.orders: dict[int, Order] = {}
            self.by_external: dict[str, int] = {}
            self._order_seq = 13000
            self._line_seq = 0
            self._shipment_seq = getattr(self, "_shipment_seq", 0)  # tracking numbers stay unique across resets
            self.calls: Counter[str] = Counter()
            limit = self.rate_limit_per_minute
            self._bucket = http.Bucket(limit) if limit else None
            self._catalog_lockout = http.Bucket(limit, lockout=60.0) if limit else None
            self._bulk_shipping = http.Bucket(5, lockout=60.0) if limit else None

    def reset(self) -> None:
        self.faults.clear()
        self._reset_state()

    def add_store_variant(self, external_id: str, variant_id: int = 4012, retail_price: str = "24.00",
                          files: list[dict] | None = None) -> None:
        """A store product of one variant, as a merchant makes one in Printful (its external id their SKU)."""
        variant, _ = self.variants[variant_id]
        with self.lock:
            pid = max(self.sync_products, default=400) + 1
            sync = cat.SyncVariant(pid * 10, external_id, pid, f"{external_id} - {variant.name}", variant_id,
                                   Decimal(retail_price), external_id,
                                   files or [{"type": "front", "url": "https://example.com/designs/front.png"}])
            self.sync_products[pid] = cat.SyncProduct(pid, external_id.lower(), external_id, variant.image, [sync])
            self.sync_variants[sync.id] = sync
            self.sync_by_external[external_id] = sync

    def find(self, ref: str | int) -> Order | None:
        """An order by Printful id or `@external_id` (1.7)."""
        with self.lock:
            text = str(ref)
            if text.startswith("@"):
                oid = self.by_external.get(text[1:])
                return self.orders.get(oid) if oid is not None else None
            return self.orders.get(int(text)) if text.isdigit() else None

    def order_list(self) -> list[dict[str, Any]]:
        with self.lock:
            return [orders.v1_order(o) for o in self.orders.values()]

    def connection(self) -> dict[str, Any]:
        creds = {"api_token": self.api_token}
        config: dict[str, Any] = {"currency": self.currency, "catalog_products": sorted(self.catalog)[:20]}
        if self.webhook_config is not None:
            creds["webhook_secret"] = self.webhook_config.secret_key
            config["webhook_public_key"] = self.webhook_config.public_key
        if self.signing_key != "hex":
            config["webhook_key_encoding"] = self.signing_key
        return {"name": self.name, "base_url": self.url, "credentials": creds, "config": config}

    # ---- what happens by itself ----------------------------------------------------------------------------

    def _tick(self) -> None:
        now = time.monotonic()
        with self.lock:
            costed = [o for o in self.orders.values() if o.costs is None and o.costs_due and o.costs_due <= now]
            due = [o.id for o in self.orders.values()
                   if o.ship_due is not None and o.ship_due <= now and o.status == "pending"]
            for order in costed:
                order.costs = self._costs(order)
                order.updated = datetime.now(UTC)
        for order in costed:  # 1.7: costs computed asynchronously, then the order is updated
            self._event("order_updated", {"order": self._order_event(order)})
        for order_id in due:
            with contextlib.suppress(KeyError, ValueError):
                self.ship(order_id)

    def _costs(self, order: Order) -> dict[str, str]:
        subtotal = sum((ln.unit_price * ln.quantity for ln in order.lines), Decimal(0))
        items = sum(ln.quantity for ln in order.lines)
        method = next((m for m in shipping.methods(order.recipient["country_code"]) if m.id == order.shipping), None)
        ship = shipping.rate(method, items) if method else Decimal(0)
        zero = "0.00"
        return {"currency": order.currency, "subtotal": orders.money(subtotal), "discount": zero,
                "shipping": orders.money(ship), "digitization": zero, "additional_fee": zero,
                "fulfillment_fee": zero, "retail_delivery_fee": zero, "tax": zero, "vat": zero,
                "total": orders.money(subtotal + ship)}

    def ship(self, ref: str | int) -> dict[str, Any]:
        """Ship every line of a submitted order now (KeyError: unknown; ValueError: not shippable)."""
        order = self.find(ref)
        if order is None:
            raise KeyError(ref)
        with self.lock:
            if order.status not in ("pending", "inprocess", "onhold", "partial"):
                raise ValueError(f"order {order.id} is {order.status}")
            self._shipment_seq += 1
            number = make_usps_number(self.store_id * 10**7 + self._shipment_seq)  # a valid check digit
            now = datetime.now(UTC)
            shipment = Shipment(id=self._shipment_seq, carrier="USPS", service="USPS First Class Mail",
                                tracking_number=number,
                                tracking_url=f"https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
                                shipped_at=now, items=[(ln.id, ln.quantity) for ln in order.lines])
            order.shipments.append(shipment)
            order.status = "fulfilled"
            order.ship_due = None
            order.updated = now
            snapshot = orders.v1_order(order)
        # 1.9: shipment_sent data {shipment{id,status,tracking_number,ship_date,shipped_at,reshipment}, order{...}}
        self._event("shipment_sent", {
            "shipment": {"id": shipment.id, "status": "shipped", "store_id": self.store_id,
                         "tracking_number": number, "created_at": orders.iso(now),
                         "ship_date": now.date().isoformat(), "shipped_at": orders.iso(now), "reshipment": False},
            "order": self._order_event(order)})
        return snapshot

    def set_status(self, ref: str | int, status: str, reason: str = "") -> dict[str, Any]:
        """Move an order as Printful's staff or systems would (failed, onhold, inprocess, canceled) and send
        the event that goes with it."""
        order = self.find(ref)
        if order is None:
            raise KeyError(ref)
        if status not in ("failed", "onhold", "inprocess", "canceled", "pending", "partial"):
            raise ValueError(f"cannot set status {status!r}")
        with self.lock:
            order.status = status
            order.ship_due = None if status != "pending" else order.ship_due
            order.updated = datetime.now(UTC)
            snapshot = orders.v1_order(order)
        event = {"failed": "order_failed", "onhold": "order_put_hold", "canceled": "order_canceled"}.get(
            status, "order_updated")
        data: dict[str, Any] = {"order": self._order_event(order)}
        if event != "order_updated":
            data["reason"] = reason or f"order {status}"
        self._event(event, data)
        return snapshot

    def set_availability(self, variant_id: int, availability: str, region: str | None = None) -> None:
        """A catalog variant goes in or out of stock (1.5); catalog_stock_updated tells watchers (1.9)."""
        variant, product = self.variants[variant_id]
        if availability not in cat.STATUSES:
            raise ValueError(f"availability must be one of {', '.join(cat.STATUSES)}")
        with self.lock:
            if region:
                variant.availability[region] = availability
            else:
                variant.availability = {"worldwide": availability}
        config = self.webhook_config
        if config is not None and product.id in (config.products_watched() or set()):
            self._event("catalog_stock_updated", [{
                "catalog_product_id": product.id, "catalog_variant_id": variant.id,
                "techniques": [t.key for t in product.techniques], "availability": availability}])

    # ---- webhooks ------------------------------------------------------------------------------------------

    def _order_event(self, order: Order) -> dict[str, Any]:
        data = {"id": order.id, "status": order.status, "store_id": self.store_id,
                "dashboard_url": f"https://www.printful.com/dashboard?order_id={order.id}",
                "created_at": orders.iso(order.created), "updated_at": orders.iso(order.updated)}
        if order.external_id is not None:
            data["external_id"] = order.external_id
        return data

    def _event(self, event: str, data: Any) -> None:
        config = self.webhook_config
        url = config.url_for(event) if config is not None else None
        if url is None:
            return
        build = event_body(event, self.store_id, data, datetime.now(UTC))
        secret, public, encoding = config.secret_key, config.public_key, self.signing_key

        def headers(raw: bytes, attempt: int) -> dict[str, str]:
            return {"Content-Type": "application/json", SIGNATURE_HEADER: sign_body(secret, raw, encoding),
                    PUBLIC_KEY_HEADER: public}
        self.sender.send(url, build(0), headers, event_id=f"{event}:{time.time_ns()}", rebuild=build, type=event)

    def webhooks(self) -> list[dict[str, Any]]:
        return self.sender.records()

    # ---- HTTP ----------------------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.api_token.encode())

    def _gate(self, request: Request, op: str) -> tuple[Response | None, dict[str, str]]:
        """Auth, store, rate limit (1.1, 1.3); the answer to send instead, and the rate headers."""
        if not self._authorized(request):
            message = "Malformed Authorization header." if not request.headers.get("authorization") \
                else "The access token provided is invalid"
            return http.error(401, message), {}
        store = request.headers.get("x-pf-store-id")
        if store is not None and store != str(self.store_id):
            return http.error(404, f"Store {store} not found"), {}
        headers: dict[str, str] = {}
        # 1.3: catalog calls have their own 120/60 s with a lockout; everything else the account's bucket
        buckets = [b for b in ((self._catalog_lockout if op == "catalog" else self._bucket),) if b is not None]
        for bucket in buckets:
            allowed, headers, wait = bucket.take()
            if not allowed:
                retry = f"{max(1, round(wait)):d}"
                return http.error(429, "Too Many Requests", headers={**headers, "Retry-After": retry}), headers
        return None, headers

    def _fault(self, path: str, op: str) -> tuple[Any, Response | None]:
        """The queued fault of an operation, and the answer it makes before any work (None: do the work)."""
        fault = self.faults.take(op)
        if fault is None or fault.mode in ("none", "hang_after_accept"):
            return fault, None
        if fault.mode == "error_500":
            return fault, http.server_error(path, 500, "injected server error")
        if fault.mode == "rate_limit":
            return fault, http.error(429, "Too Many Requests", headers={"Retry-After": f"{fault.retry_after:g}"})
        if fault.mode == "token_expired":
            return fault, http.error(401, EXPIRED)
        if fault.mode == "reject" and op != "orders.create":
            return fault, http.error(400, "Request rejected")
        return fault, None  # timeout_before_accept and reject: the route decides

    def _build_app(self) -> FastAPI:
        app = FastAPI(title=f"Printful emulator ({self.name})", docs_url=None, redoc_url=None, openapi_url=None)
        emu = self

        @app.exception_handler(StarletteHTTPException)
        async def http_problem(request: Request, exc: StarletteHTTPException):
            return http.error(exc.status_code if exc.status_code in http.REASONS else 404, str(exc.detail))

        @app.exception_handler(RequestValidationError)
        async def invalid_request(request: Request, exc: RequestValidationError):
            return http.error(400, "Invalid request")

        @app.middleware("http")
        async def printful_gate(request: Request, call_next):
            path = request.url.path
            if path.startswith("/_control"):
                return await call_next(request)
            op = operation(request.method, path)
            with emu.lock:
                emu.calls[op] += 1
            refused, headers = emu._gate(request, op)
            if refused is not None:
                return refused
            if op != "orders.create":  # order creation takes its faults after validating (see the route)
                fault, answer = emu._fault(path, op)
                if fault is not None and fault.mode == "timeout_before_accept":
                    await hold(fault.seconds, emu.stopping)
                    answer = http.server_error(path, 504, "upstream timed out")
                if answer is not None:
                    return answer
                response = await call_next(request)
                if fault is not None and fault.mode == "hang_after_accept":
                    await hold(fault.seconds, emu.stopping)
            else:
                response = await call_next(request)
            response.headers.update(headers)
            return response

        async def body_of(request: Request) -> Any:
            raw = await request.body()
            try:
                return json.loads(raw)
            except ValueError:
                raise Invalid("body is not valid JSON") from None

        def base(request: Request) -> str:
            return str(request.base_url).rstrip("/")

        # ---- catalog v2 (1.4, 1.5) --------------------------------------------------------------------------

        @app.get("/v2/catalog-products")
        async def catalog_products(request: Request):
            q = request.query_params
            try:
                limit = _int(q.get("limit"), "limit", 20, 1, 100)
                offset = _int(q.get("offset"), "offset", 0)
            except Invalid as exc:
                return http.error(400, str(exc))
            region = q.get("selling_region_name", "worldwide")
            if region not in cat.REGIONS:
                return http.error(400, f"selling_region_name must be one of {', '.join(cat.REGIONS)}")
            wanted = {int(c) for c in q.get("category_ids", "").split(",") if c.strip().isdigit()}
            products = [p for p in sorted(emu.catalog.values(), key=lambda p: p.id)
                        if (not wanted or p.main_category_id in wanted)
                        and any(v.status(region) != "not fulfillable" for v in p.variants)]
            page = products[offset:offset + limit]
            extra = f"&selling_region_name={region}" if "selling_region_name" in q else ""
            return http.v2([emu._product(base(request), p) for p in page],
                           paging=http.paging(len(products), offset, limit),
                           links=http.page_links(base(request), "/v2/catalog-products", len(products), offset, limit,
                                                 extra, previous=False))

        @app.get("/v2/catalog-products/{product_id}")
        async def catalog_product(request: Request, product_id: str):
            product = emu._catalog_product(product_id)
            if product is None:
                return http.error(404, f"Product {product_id} not found")
            return http.v2(emu._product(base(request), product))

        @app.get("/v2/catalog-products/{product_id}/catalog-variants")
        async def catalog_variants(request: Request, product_id: str):
            product = emu._catalog_product(product_id)
            if product is None:
                return http.error(404, f"Product {product_id} not found")
            root = f"{base(request)}/v2"
            data = [{"id": v.id, "catalog_product_id": product.id, "name": v.name, "size": v.size, "color": v.color,
                     "color_code": v.color_code, "color_code2": None, "image": v.image,
                     "_links": {"self": {"href": f"{root}/catalog-variants/{v.id}"}}} for v in product.variants]
            total = len(data)
            return http.v2(data, paging=http.paging(total, 0, total),
                           links={"self": {"href": f"{root}/catalog-products/{product.id}/catalog-variants"},
                                  "product_details": {"href": f"{root}/catalog-products/{product.id}"}})

        @app.get("/v2/catalog-products/{product_id}/prices")
        async def catalog_prices(request: Request, product_id: str):
            product = emu._catalog_product(product_id)
            if product is None:
                return http.error(404, f"Product {product_id} not found")
            currency = request.query_params.get("currency") or emu.currency
            if currency not in shipping.FX:
                return http.error(400, f"currency {currency!r} is not supported")
            fx = shipping.FX[currency]

            def price(value: Decimal) -> str:
                return orders.money(value * fx)
            root = f"{base(request)}/v2/catalog-products/{product.id}"
            data = {"currency": currency,
                    "product": {"id": product.id, "placements": [
                        {"id": p, "title": p.replace("_", " ").title(), "type": product.techniques[0].display_name,
                         "technique_key": product.default_technique.upper(), "price": price(product.placement_price),
                         "discounted_price": price(product.placement_price), "placement_options": [], "layers": []}
                        for p in product.placements]},
                    "variants": [{"id": v.id, "techniques": [
                        {"technique_key": t.key.upper(), "technique_display_name": t.display_name,
                         "price": price(v.price), "discounted_price": price(v.price)} for t in product.techniques]}
                        for v in product.variants]}
            return http.v2(data, links={"self": {"href": f"{root}/prices"}, "product_details": {"href": root}})

        @app.get("/v2/catalog-products/{product_id}/availability")
        async def catalog_availability(request: Request, product_id: str):
            product = emu._catalog_product(product_id)
            if product is None:
                return http.error(404, f"Product {product_id} not found")
            q = request.query_params
            try:
                limit = _int(q.get("limit"), "limit", 20, 1, 100)
                offset = _int(q.get("offset"), "offset", 0)
            except Invalid as exc:
                return http.error(400, str(exc))
            region = q.get("selling_region_name", "worldwide")
            if region not in cat.REGIONS:
                return http.error(400, f"selling_region_name must be one of {', '.join(cat.REGIONS)}")
            known = [t.key for t in product.techniques]
            techniques = [t for t in q.get("techniques", "").split(",") if t] or known
            root = f"{base(request)}/v2"
            page = product.variants[offset:offset + limit]
            data = [{"catalog_variant_id": v.id,
                     "techniques": [{"technique": t, "selling_regions": [
                         {"name": region, "availability": v.status(region), "placement_option_availability": []}]}
                         for t in techniques if t in known],
                     "_links": {"variant": {"href": f"{root}/catalog-variants/{v.id}"}}} for v in page]
            total = len(product.variants)
            filters = [{"name": "selling_region_name", "value": region}, {"name": "techniques",
                                                                        "value": ",".join(techniques)}]
            return http.v2(data, paging=http.paging(total, offset, limit), extra={"filter_settings": filters},
                           links={**http.page_links(base(request), f"/v2/catalog-products/{product.id}/availability",
                                                    total, offset, limit),
                                  "product": {"href": f"{root}/catalog-products/{product.id}"}})

        # ---- store products v1 (1.7 (A)) ----------------------------------------------------------------------

        @app.get("/store/products")
        async def store_products(request: Request):
            q = request.query_params
            try:
                limit = _int(q.get("limit"), "limit", 20, 1, 100)
                offset = _int(q.get("offset"), "offset", 0)
            except Invalid as exc:
                return http.error(400, str(exc))
            status = q.get("status", "all")
            products = [p for p in sorted(emu.sync_products.values(), key=lambda p: p.id)
                        if status == "all" or (status == "ignored") == p.is_ignored]
            page = products[offset:offset + limit]
            return http.v1([emu._sync_product(p) for p in page], paging=http.paging(len(products), offset, limit))

        @app.get("/store/products/{product_id}")
        async def store_product(product_id: str):
            product = None
            if product_id.startswith("@"):
                product = next((p for p in emu.sync_products.values() if p.external_id == product_id[1:]), None)
            elif product_id.isdigit():
                product = emu.sync_products.get(int(product_id))
            if product is None:
                return http.error(404, "Not Found")
            return http.v1({"sync_product": emu._sync_product(product),
                            "sync_variants": [emu._sync_variant(v) for v in product.variants]})

        # ---- orders (1.7, 1.8) ----------------------------------------------------------------------------------

        @app.post("/orders")
        async def create_order_v1(request: Request):
            q = request.query_params
            try:
                body = await body_of(request)
                confirm = q.get("confirm", "false").lower() in ("1", "true")
                update = q.get("update_existing", "false").lower() in ("1", "true")
                draft = emu._read_v1(body)
            except Invalid as exc:
                return http.error(400, str(exc))
            return await emu._create(request, draft, confirm=confirm, update_existing=update, version="v1")

        @app.post("/v2/orders")
        async def create_order_v2(request: Request):
            try:
                draft = emu._read_v2(await body_of(request))
            except Invalid as exc:
                return http.error(400, str(exc))
            return await emu._create(request, draft, confirm=False, update_existing=False, version="v2")

        @app.get("/orders")
        async def list_orders_v1(request: Request):
            q = request.query_params
            try:
                limit = _int(q.get("limit"), "limit", 20, 1, 100)
                offset = _int(q.get("offset"), "offset", 0)
            except Invalid as exc:
                return http.error(400, str(exc))
            with emu.lock:
                found = [o for o in emu.orders.values() if not q.get("status") or o.status == q.get("status")]
                page = [orders.v1_order(o) for o in found[offset:offset + limit]]
            return http.v1(page, paging=http.paging(len(found), offset, limit))

        @app.get("/v2/orders")
        async def list_orders_v2(request: Request):
            q = request.query_params
            try:
                limit = _int(q.get("limit"), "limit", 20, 1, 100)
                offset = _int(q.get("offset"), "offset", 0)
            except Invalid as exc:
                return http.error(400, str(exc))
            with emu.lock:
                found = list(emu.orders.values())
                page = []
                for o in found[offset:offset + limit]:
                    summary = orders.v2_order(base(request), o)
                    summary.pop("customization", None)  # OrderSummary has no customization, fewer links
                    summary["_links"] = {k: summary["_links"][k] for k in ("self", "order_items", "shipments")}
                    page.append(summary)
            return http.v2(page, paging=http.paging(len(found), offset, limit),
                           links=http.page_links(base(request), "/v2/orders", len(found), offset, limit))

        @app.get("/orders/{ref}")
        async def get_order_v1(ref: str):
            order = emu.find(ref)
            if order is None:
                return http.error(404, "Not Found")
            with emu.lock:
                return http.v1(orders.v1_order(order))

        @app.get("/v2/orders/{ref}")
        async def get_order_v2(request: Request, ref: str):
            order = emu.find(ref)
            if order is None:
                return http.error(404, "Not found")
            with emu.lock:
                return http.v2(orders.v2_order(base(request), order))

        @app.post("/orders/{ref}/confirm")
        async def confirm_v1(ref: str):
            order, problem = emu._confirm(ref)
            if problem is not None:
                return problem
            with emu.lock:
                return http.v1(orders.v1_order(order))

        @app.post("/v2/orders/{ref}/confirmation")
        async def confirm_v2(request: Request, ref: str):
            order, problem = emu._confirm(ref)
            if problem is not None:
                return problem
            href = f"{base(request)}/v2/orders/{order.id}"
            with emu.lock:
                return http.v2(orders.v2_order(base(request), order),
                               links={"self": {"href": f"{href}/confirmation"}, "order": {"href": href},
                                      "order_items": {"href": f"{href}/order-items"},
                                      "shipments": {"href": f"{href}/shipments"}})

        @app.delete("/orders/{ref}")
        async def cancel_v1(ref: str):
            """v1 DELETE cancels a draft or a pending order (1.7); an order in production can no longer be."""
            order = emu.find(ref)
            if order is None:
                return http.error(404, "Not Found")
            with emu.lock:
                if order.status not in (*orders.CANCELLABLE, "canceled"):
                    return http.error(400, f"Order {order.id} is {order.status} and can no longer be canceled")
                changed = order.status != "canceled"
                order.status, order.ship_due, order.updated = "canceled", None, datetime.now(UTC)
                body = orders.v1_order(order)
            if changed:
                emu._event("order_canceled", {"reason": "Canceled through the API", "order": emu._order_event(order)})
            return http.v1(body)

        @app.delete("/v2/orders/{ref}")
        async def delete_v2(ref: str):
            """v2 DELETE deletes (not cancels) a draft, failed or canceled order that was never charged."""
            order = emu.find(ref)
            if order is None:
                return http.error(404, "Not found")
            with emu.lock:
                if order.status not in ("draft", "failed", "canceled"):
                    return http.error(409, f"Order {order.id} is {order.status} and cannot be deleted")
                del emu.orders[order.id]
                if order.external_id:
                    emu.by_external.pop(order.external_id, None)
            return Response(status_code=204)

        @app.get("/v2/orders/{ref}/shipments")
        async def shipments_v2(request: Request, ref: str):
            order = emu.find(ref)
            if order is None:
                return http.error(404, "Not found")
            q = request.query_params
            try:
                limit = _int(q.get("limit"), "limit", 20, 1, 100)
                offset = _int(q.get("offset"), "offset", 0)
            except Invalid as exc:
                return http.error(400, str(exc))
            with emu.lock:
                data = [orders.v2_shipment(base(request), order, s, emu.v2_shipment_tracking_number)
                        for s in order.shipments[offset:offset + limit]]
                total = len(order.shipments)
            return http.v2(data, paging=http.paging(total, offset, limit),
                           links=http.page_links(base(request), f"/v2/orders/{order.id}/shipments", total, offset,
                                                 limit))

        @app.get("/v2/orders/{ref}/invoices")
        async def invoice_v2(request: Request, ref: str):
            order = emu.find(ref)
            if order is None or order.status in ("draft", "canceled") or order.costs is None:
                return http.error(404, "Invoice not found")
            href = f"{base(request)}/v2/orders/{order.id}"
            document = f"%PDF-1.4\n% Printful invoice for order {order.id}: {order.costs['total']} " \
                       f"{order.costs['currency']}\n".encode()
            return http.v2({"media_type": "application/pdf", "content": base64.b64encode(document).decode(),
                            "_links": {"self": {"href": f"{href}/invoices"}, "order": {"href": href}}})

        # ---- shipping rates (1.6) ----------------------------------------------------------------------------

        @app.post("/v2/shipping-rates")
        async def rates_v2(request: Request):
            try:
                body = await body_of(request)
                if not isinstance(body, dict):
                    raise Invalid("body must be an object")
                address = orders.recipient(body.get("recipient"), state_required=True)
                items = body.get("order_items")
                if not isinstance(items, list) or not items:
                    raise Invalid("order_items is required")
                count = 0
                for i, item in enumerate(items):
                    if not isinstance(item, dict) or item.get("source") != "catalog":
                        raise Invalid(f"order_items[{i}].source must be catalog")
                    if item.get("catalog_variant_id") not in emu.variants:
                        raise Invalid(f"order_items[{i}].catalog_variant_id: variant not found")
                    count += orders.quantity(item.get("quantity"), f"order_items[{i}]")
                currency = body.get("currency") or emu.currency
                if currency not in shipping.FX:
                    raise Invalid(f"currency {currency!r} is not supported")
            except Invalid as exc:  # this route's 400 carries the message in "data" (BadRequest-2)
                return JSONResponse({"code": 400, "data": str(exc),
                                     "error": {"reason": "BadRequest", "message": str(exc)}}, 400)
            if count > BULK_SHIPPING_ITEMS and emu._bulk_shipping is not None:
                allowed, _, wait = emu._bulk_shipping.take()
                if not allowed:
                    return http.error(429, "Too Many Requests", headers={"Retry-After": f"{max(1, round(wait))}"})
            return http.v2([{"shipping": m.id, "shipping_method_name": m.name,
                             "rate": orders.money(shipping.rate(m, count, currency)), "currency": currency,
                             "min_delivery_days": m.min_days, "max_delivery_days": m.max_days}
                            for m in shipping.methods(address["country_code"])])

        @app.post("/shipping/rates")
        async def rates_v1(request: Request):
            try:
                body = await body_of(request)
                if not isinstance(body, dict):
                    raise Invalid("body must be an object")
                address = orders.recipient(body.get("recipient"), state_required=True)
                items = body.get("items")
                if not isinstance(items, list) or not items:
                    raise Invalid("items is required")
                count = 0
                for i, item in enumerate(items):
                    if not isinstance(item, dict):
                        raise Invalid(f"items[{i}] must be an object")
                    if item.get("external_variant_id") is not None:
                        if item["external_variant_id"] not in emu.sync_by_external:
                            raise Invalid(f"items[{i}].external_variant_id: sync variant not found")
                    elif not str(item.get("variant_id", "")).isdigit() or int(item["variant_id"]) not in emu.variants:
                        raise Invalid(f"items[{i}].variant_id: variant not found")
                    count += orders.quantity(item.get("quantity"), f"items[{i}]")
                currency = body.get("currency") or emu.currency
                if currency not in shipping.FX:
                    raise Invalid(f"currency {currency!r} is not supported")
            except Invalid as exc:
                return http.error(400, str(exc))
            # 1.6: v1 names the delivery estimates in camelCase
            return http.v1([{"id": m.id, "name": m.name, "rate": orders.money(shipping.rate(m, count, currency)),
                             "currency": currency, "minDeliveryDays": m.min_days, "maxDeliveryDays": m.max_days}
                            for m in shipping.methods(address["country_code"])])

        # ---- webhook configuration v2 (1.9) -------------------------------------------------------------------

        @app.get("/v2/webhooks")
        async def get_webhooks():
            config = emu.webhook_config
            if config is None:
                return http.v1({"default_url": None, "expires_at": None, "events": [], "public_key": ""})
            return http.v1(config.describe())

        @app.post("/v2/webhooks")
        async def set_webhooks(request: Request):
            try:
                body = await body_of(request)
                config = emu._read_webhook_config(body)
            except Invalid as exc:
                return http.error(400, str(exc))
            emu.webhook_config = config  # 1.9: one configuration per store; a new one replaces the old
            return http.v1(config.describe(with_secret=True))  # the secret key is shown this once

        @app.delete("/v2/webhooks")
        async def delete_webhooks():
            if emu.webhook_config is None:
                return http.error(404, "Webhook configuration not found")
            emu.webhook_config = None
            return Response(status_code=204)

        # ---- controls (no auth) -------------------------------------------------------------------------------

        add_fault_controls(app, emu, lambda status, message: http.error(status, message))

        @app.get("/_control/orders")
        async def control_orders():
            return {"orders": emu.order_list()}

        @app.post("/_control/ship/{ref}")
        async def control_ship(ref: str):
            try:
                return emu.ship(ref)
            except KeyError:
                return http.error(404, f"no order {ref}")
            except ValueError as exc:
                return http.error(409, str(exc))

        @app.post("/_control/status/{ref}")
        async def control_status(ref: str, request: Request):
            body = await request.json()
            try:
                return emu.set_status(ref, str(body.get("status")), str(body.get("reason", "")))
            except KeyError:
                return http.error(404, f"no order {ref}")
            except ValueError as exc:
                return http.error(400, str(exc))

        @app.post("/_control/stock")
        async def control_stock(request: Request):
            body = await request.json()
            try:
                emu.set_availability(int(body["variant_id"]), str(body["availability"]), body.get("region"))
            except (KeyError, ValueError, TypeError) as exc:
                return http.error(400, f"bad stock change: {exc}")
            return {"ok": True}

        @app.get("/_control/calls")
        async def control_calls():
            with emu.lock:
                return {"calls": sum(emu.calls.values()), "by_operation": dict(emu.calls)}

        @app.get("/_control/deliveries")
        async def control_deliveries():
            return emu.webhooks()

        @app.post("/_control/reset")
        async def control_reset():
            emu.reset()
            return {"reset": True}

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def unknown(path: str):
            return http.error(404, "Not Found")

        return app

    # ---- requests into orders --------------------------------------------------------------------------------

    def _catalog_product(self, ref: str) -> cat.CatalogProduct | None:
        return self.catalog.get(int(ref)) if ref.isdigit() else None

    def _variant(self, variant_id: Any, where: str) -> tuple[cat.CatalogVariant, cat.CatalogProduct]:
        if isinstance(variant_id, bool) or not isinstance(variant_id, int) or variant_id not in self.variants:
            raise Invalid(f"{where}: variant {variant_id!r} not found")
        return self.variants[variant_id]

    def _common(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise Invalid("body must be a JSON object")
        shipping_id = body.get("shipping") or "STANDARD"
        address = orders.recipient(body.get("recipient"))
        if shipping_id not in {m.id for m in shipping.methods(address["country_code"])}:
            raise Invalid(f"shipping method {shipping_id} is not available to {address['country_code']} "
                          "(OR-4 INVALID_SHIPPING_METHOD)")
        return {"external_id": orders.external_id(body.get("external_id")), "recipient": address,
                "shipping": shipping_id}

    def _read_v2(self, body: Any) -> dict[str, Any]:
        draft = self._common(body)
        items = body.get("order_items")
        if not isinstance(items, list) or not items:
            raise Invalid("order_items: at least one item is required")
        lines = []
        for i, item in enumerate(items):
            where = f"order_items[{i}]"
            if not isinstance(item, dict) or item.get("source") != "catalog":
                raise Invalid(f"{where}.source must be catalog")
            variant, product = self._variant(item.get("catalog_variant_id"), f"{where}.catalog_variant_id")
            lines.append(dict(variant=variant, product=product, quantity=orders.quantity(item.get("quantity"), where),
                              external_id=orders.external_id(item.get("external_id"), f"{where}.external_id"),
                              placements=orders.v2_placements(item, product, where), name=item.get("name") or "",
                              retail_price=item.get("retail_price")))
        slip = ((body.get("customization") or {}).get("packing_slip") or None)
        gift = ((body.get("customization") or {}).get("gift") or None)
        return {**draft, "lines": lines, "packing_slip": slip, "gift": gift}

    def _read_v1(self, body: Any) -> dict[str, Any]:
        draft = self._common(body)
        items = body.get("items")
        if not isinstance(items, list) or not items:
            raise Invalid("items: at least one item is required (OR-5 INVALID_ORDER_ITEM)")
        lines = []
        for i, item in enumerate(items):
            where = f"items[{i}]"
            if not isinstance(item, dict):
                raise Invalid(f"{where} must be an object")
            named = [k for k in ("variant_id", "sync_variant_id", "external_variant_id",
                                 "warehouse_product_variant_id", "product_template_id") if item.get(k) is not None]
            if len(named) != 1:
                raise Invalid(f"{where}: give exactly one of variant_id, sync_variant_id, external_variant_id")
            files = orders.v1_files(item, where)
            sync = None
            if named[0] == "variant_id":
                variant, product = self._variant(item["variant_id"], f"{where}.variant_id")
                if not files:
                    raise Invalid(f"{where}.files: a catalog variant needs print files")
            elif named[0] in ("sync_variant_id", "external_variant_id"):
                sync = (self.sync_variants.get(item["sync_variant_id"]) if named[0] == "sync_variant_id"
                        else self.sync_by_external.get(item["external_variant_id"]))
                if sync is None or sync.is_ignored or not sync.synced:
                    raise Invalid(f"{where}.{named[0]}: sync variant {item[named[0]]!r} not found")
                if sync.availability_status != "active":
                    raise Invalid(f"{where}: {sync.external_id} is {sync.availability_status.replace('_', ' ')}")
                variant, product = self.variants[sync.variant_id]
                files = files or [{"placement": f["type"], "technique": None, "url": f["url"]} for f in sync.files]
            else:
                raise Invalid(f"{where}.{named[0]}: not supported by this emulator")
            lines.append(dict(variant=variant, product=product, sync=sync,
                              by_external_variant=named[0] == "external_variant_id",
                              quantity=orders.quantity(item.get("quantity"), where),
                              external_id=orders.external_id(item.get("external_id"), f"{where}.external_id"),
                              placements=files, name=item.get("name") or "", retail_price=item.get("retail_price")))
        return {**draft, "lines": lines, "packing_slip": body.get("packing_slip"), "gift": body.get("gift")}

    def _read_webhook_config(self, body: Any) -> WebhookConfig:
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise Invalid("events is required")
        default_url = body.get("default_url")
        events: dict[str, dict] = {}
        for i, event in enumerate(body["events"]):
            kind = event.get("type") if isinstance(event, dict) else None
            if kind not in EVENTS:
                raise Invalid(f"events[{i}].type must be one of {', '.join(EVENTS)}")
            url = event.get("url")
            if not (url or default_url):
                raise Invalid(f"events[{i}]: no url and no default_url")
            if kind == "catalog_stock_updated" and not event.get("params"):
                raise Invalid(f"events[{i}].params: products are required for catalog_stock_updated")
            events[kind] = {k: event[k] for k in ("url", "params") if event.get(k)}
        for url in [default_url, *(e.get("url") for e in events.values())]:
            if url and urlsplit(url).scheme != "https" and urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
                raise Invalid(f"webhook URLs must use HTTPS: {url}")  # 1.9; loopback allowed for local use
        public, secret = new_keys()
        return WebhookConfig(default_url, public, secret, events, body.get("expires_at"))

    async def _create(self, request: Request, draft: dict[str, Any], *, confirm: bool, update_existing: bool,
                      version: str) -> Response:
        fault, answer = self._fault(request.url.path, "orders.create")
        if answer is not None:
            return answer
        if fault is not None and fault.mode == "timeout_before_accept":
            await hold(fault.seconds, self.stopping)
            return http.server_error(request.url.path, 504, "upstream timed out")
        if fault is not None and fault.mode == "reject":
            variant = draft["lines"][0]["variant"]
            return http.error(400, f"Item 0: variant {variant.id} ({variant.name}) is out of stock")
        country = draft["recipient"]["country_code"]
        if self.refuse_out_of_stock:
            for i, line in enumerate(draft["lines"]):
                status = line["variant"].status(shipping.region_of(country))
                if status != "in stock":
                    return http.error(400, f"Item {i}: variant {line['variant'].id} is {status} for {country}")
        with self.lock:
            existing = self.by_external.get(draft["external_id"]) if draft["external_id"] else None
            if existing is not None and not update_existing:
                return http.error(400, f"External ID {draft['external_id']} is already in use (OR-13 "
                                       "EXTERNAL_ID_IN_USE)")
            if existing is not None and self.orders[existing].status not in orders.EDITABLE:
                return http.error(400, f"Order {existing} is no longer editable (OR-1 ORDER_NO_LONGER_EDITABLE)")
            order = self._store(draft, version, existing)
            if confirm:
                self._submit(order)
            body = orders.v1_order(order) if version == "v1" else orders.v2_order(
                str(request.base_url).rstrip("/"), order)
        self._event("order_created", {"order": self._order_event(order)})
        if fault is not None and fault.mode == "hang_after_accept":
            await hold(fault.seconds, self.stopping)  # the order exists; the answer never comes in time
        return http.v1(body) if version == "v1" else http.v2(body)

    def _store(self, draft: dict[str, Any], version: str, existing: int | None) -> Order:
        now = datetime.now(UTC)
        lines = []
        for spec in draft["lines"]:
            self._line_seq += 1
            line = Line(id=self._line_seq, **spec)
            line.unit_price = orders.line_price(line)
            lines.append(line)
        if existing is not None:
            order = self.orders[existing]
            order.lines, order.recipient, order.shipping = lines, draft["recipient"], draft["shipping"]
            order.updated, order.costs = now, None
        else:
            self._order_seq += 1
            order = Order(id=self._order_seq, store_id=self.store_id, status="draft", recipient=draft["recipient"],
                          lines=lines, created=now, updated=now, api=version, external_id=draft["external_id"],
                          shipping=draft["shipping"], currency=self.currency)
            self.orders[order.id] = order
            if order.external_id:
                self.by_external[order.external_id] = order.id
        method = next(m for m in shipping.methods(order.recipient["country_code"]) if m.id == order.shipping)
        order.shipping_name = method.name
        order.packing_slip = draft.get("packing_slip") or None
        order.gift = draft.get("gift") or None
        order.costs_due = time.monotonic() + self.cost_delay_seconds  # 1.7: "calculating" until then
        return order

    def _submit(self, order: Order) -> None:
        """draft -> pending: charged, and production (then shipping) begins."""
        order.status = "pending"
        order.updated = datetime.now(UTC)
        if self.ship_after_seconds is not None:
            order.ship_due = time.monotonic() + self.ship_after_seconds

    def _confirm(self, ref: str) -> tuple[Order | None, Response | None]:
        order = self.find(ref)
        if order is None:
            return None, http.error(404, "Not Found")
        with self.lock:
            if order.status != "draft":
                return order, http.error(400, f"Order {order.id} is {order.status}: only a draft can be confirmed "
                                              "(OR-1 ORDER_NO_LONGER_EDITABLE)")
            self._submit(order)
        self._event("order_updated", {"order": self._order_event(order)})
        return order, None

    # ---- rendering catalog and store products ----------------------------------------------------------------

    def _product(self, base: str, p: cat.CatalogProduct) -> dict[str, Any]:
        root = f"{base}/v2/catalog-products/{p.id}"
        sizes = list(dict.fromkeys(v.size for v in p.variants))
        colors = list(dict.fromkeys((v.color, v.color_code) for v in p.variants if v.color))
        return {"id": p.id, "main_category_id": p.main_category_id, "type": p.type, "name": p.name,
                "brand": p.brand or None, "model": p.model, "image": p.image, "variant_count": len(p.variants),
                "is_discontinued": p.is_discontinued, "description": p.description, "sizes": sizes,
                "colors": [{"name": n, "value": c} for n, c in colors],
                "techniques": [{"key": t.key, "display_name": t.display_name, "is_default": t.is_default}
                               for t in p.techniques],
                "placements": [{"placement": pl, "technique": t.key, "print_area_width": 1800,
                                "print_area_height": 2400, "layers": [{"type": "file", "layer_options": []}],
                                "placement_options": [], "conflicting_placements": []}
                               for pl in p.placements for t in p.techniques],
                "product_options": [],
                "_links": {"self": {"href": root}, "variants": {"href": f"{root}/catalog-variants"},
                           "categories": {"href": f"{root}/catalog-categories"},
                           "product_prices": {"href": f"{root}/prices"}, "product_sizes": {"href": f"{root}/sizes"},
                           "product_images": {"href": f"{root}/images"},
                           "availability": {"href": f"{root}/availability"}}}

    def _sync_product(self, p: cat.SyncProduct) -> dict[str, Any]:
        return {"id": p.id, "external_id": p.external_id, "name": p.name, "variants": len(p.variants),
                "synced": sum(1 for v in p.variants if v.synced), "thumbnail_url": p.thumbnail_url,
                "is_ignored": p.is_ignored}

    def _sync_variant(self, v: cat.SyncVariant) -> dict[str, Any]:
        variant, product = self.variants[v.variant_id]
        return {"id": v.id, "external_id": v.external_id, "sync_product_id": v.sync_product_id, "name": v.name,
                "synced": v.synced, "variant_id": v.variant_id, "retail_price": orders.money(v.retail_price),
                "currency": self.currency, "is_ignored": v.is_ignored, "sku": v.sku,
                "product": {"variant_id": variant.id, "product_id": product.id, "image": variant.image,
                            "name": variant.name},
                "files": [{"type": f["type"], "id": 7000 + v.id * 10 + n, "url": f["url"], "status": "ok",
                           "visible": True, "is_temporary": False} for n, f in enumerate(v.files)],
                "options": [], "main_category_id": product.main_category_id, "warehouse_product_id": None,
                "warehouse_product_variant_id": None, "size": variant.size, "color": variant.color,
                "availability_status": v.availability_status}

    def snapshot(self, ref: str | int) -> dict[str, Any] | None:
        order = self.find(ref)
        with self.lock:
            return copy.deepcopy(orders.v1_order(order)) if order else None
