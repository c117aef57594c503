"""Emulator of AliExpress dropshipping (the Open Platform gateway and its DS methods), as
shared/contracts/suppliers.md section 3 (and section 7's notes) describes it.

Routes:
- `POST|GET /sync` with `method=`: aliexpress.ds.product.get, aliexpress.ds.freight.query,
  aliexpress.ds.order.create, aliexpress.trade.ds.order.get, aliexpress.ds.order.tracking.get (3.3); a system
  path as `method` works here too, answered wrapped as `{"/auth/token/refresh_response": ...}`.
- `POST /rest/auth/token/refresh` (3.1): a new access token and a new refresh token (the old refresh token
  stops working; the old access token lives out its time), answered flat.
- Anything else: 404 with the error envelope (InvalidApiPath).
Every call is checked as the gateway checks it (gateway.py): app key, signature, access token, the QPS limit.

Settings for what the contract marks unverified [U]: `qps` (the ds.product.get FAQ says 500 for the whole
connection) and `ban_seconds`; `dedupe_window_seconds` (out_order_id idempotency, 24 h in the ds.order.create
docs) and `repeat_answer` ("error": REPEATED_ORDER_ERROR as documented, or "same": the first order again);
`auto_pay_allowed` (the app is whitelisted for try_to_pay); `pay_timeout_seconds` (an unpaid order closes after
it; 12 days seen on test accounts); `order_visible_after_seconds` (the docs: an order can be queried about 10 s
after creation); `address_rules` (province required, US contact person 2-32 characters, as the docs say);
`timestamp_tolerance_seconds` (None: not checked); token lifetimes (24 h / 48 h for an app in test status).

Faults (`POST /_control/faults {"mode", "count", "operation", "seconds", "retry_after"}`), per operation:
`orders.create`, `orders.get`, `catalog` (product.get), `freight`, `tracking`, `token` (renewal):
hang_after_accept (do it, then hold the answer), timeout_before_accept (hold, then 504, nothing done),
error_500 (HTTP 500, SYSTEM InternalError), rate_limit (ApiCallLimit "ban will last N seconds"), reject (an
order refused: INVENTORY_HOLD_ERROR), token_expired (the access token presented dies now: IllegalAccessToken).
Controls, no auth: `GET /_control/orders`, `GET /_control/calls`, `POST /_control/pay/{order_id}`,
`POST /_control/ship/{order_id}`, `POST /_control/stock {"sku_id", "stock"}`, `POST /_control/expire_token`,
`POST /_control/reset`. Nothing is pushed: AliExpress's message push has no verified signature (3.3), so
tracking is read by polling, as the connector does.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import io
import json
import secrets
import time
from collections import Counter, deque
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from dropbridge.sandbox.kit import COMMON_MODES, Emulator, hold
from dropbridge.sandbox.kit.controls import add_fault_controls

from . import catalog as cat
from .catalog import Product
from .gateway import (
    GatewayError,
    all_params,
    error_response,
    method_response,
    missing,
    request_id,
    signature_ok,
    throttled,
)
from .orders import PAID, PLACED, SHIPPED, Creation, Line, Order

OPERATIONS = {
    "aliexpress.ds.product.get": "catalog",
    "aliexpress.ds.freight.query": "freight",
    "aliexpress.ds.order.create": "orders.create",
    "aliexpress.trade.ds.order.get": "orders.get",
    "aliexpress.ds.order.tracking.get": "tracking",
    "/auth/token/refresh": "token",
}
CARRIERS = {"CAINIAO_STANDARD": "AliExpress standard shipping", "CAINIAO_FULFILLMENT_STD": "AliExpress Selection "
            "Standard", "EMS": "EMS", "CAINIAO_LOCAL": "USPS"}
AUTOPAY_FAILED = "OrderCreated, autoPay fail:APIPayFail"  # [U] the contract's "OrderCreated, autoPay fail:..."


@functools.lru_cache(maxsize=64)
def _picture(name: str) -> bytes:
    """A small JPEG whose colour depends on the name, so different pictures differ."""
    from PIL import Image

    digest = hashlib.sha256(name.encode()).digest()
    out = io.BytesIO()
    Image.new("RGB", (64, 64), tuple(digest[:3])).save(out, "JPEG", quality=80)
    return out.getvalue()


class _Refusal(Exception):
    """ds.order.create says no inside a successful envelope (is_success false, error_code)."""

    def __init__(self, code: str, msg: str):
        super().__init__(msg)
        self.code, self.msg = code, msg


class AliExpressEmulator(Emulator):
    name = "aliexpress"
    fault_modes = COMMON_MODES

    def __init__(self, *, app_key: str | None = None, app_secret: str | None = None,
                 products: list[Product] | None = None, name: str = "aliexpress",
                 token_ttl_seconds: float = 86_400, refresh_ttl_seconds: float = 172_800,
                 qps: float | None = 500, ban_seconds: float = 1, dedupe_window_seconds: float = 86_400,
                 repeat_answer: str = "error", auto_pay_allowed: bool = False,
                 pay_timeout_seconds: int = 1_036_800, ship_after_seconds: float | None = None,
                 order_visible_after_seconds: float = 0.0, address_rules: bool = True,
                 timestamp_tolerance_seconds: float | None = None, connection_config: dict | None = None):
        if repeat_answer not in ("error", "same"):
            raise ValueError("repeat_answer is 'error' or 'same'")
        self.name = name
        super().__init__()
        self.app_key = app_key or str(500000 + secrets.randbelow(400000))
        self.app_secret = app_secret or secrets.token_hex(16)
        self.token_ttl, self.refresh_ttl = token_ttl_seconds, refresh_ttl_seconds
        self.qps, self.ban_seconds = qps, ban_seconds
        self.dedupe_window, self.repeat_answer = dedupe_window_seconds, repeat_answer
        self.auto_pay_allowed, self.pay_timeout = auto_pay_allowed, pay_timeout_seconds
        self.ship_after_seconds, self.visible_after = ship_after_seconds, order_visible_after_seconds
        self.address_rules, self.timestamp_tolerance = address_rules, timestamp_tolerance_seconds
        self.connection_config = dict(connection_config or {})
        self._initial_products = products if products is not None else cat.generate(3, 4)
        self._order_seq = 3000000000000000 + secrets.randbelow(10**9) * 1000
        self._parcel_seq = 0
        self._reset_state()
        self.access_token, self.refresh_token = self._issue_tokens()
        self.app = self._build_app()
        self.every(0.1, self._tick)

    # ---- state ---------------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        with self.lock:
            self.products: dict[str, Product] = {p.product_id: copy.deepcopy(p) for p in self._initial_products}
            self._orders: dict[str, Order] = {}
            self._creations: list[Creation] = []
            self.calls: Counter[str] = Counter()  # served, per method
            self.received = 0  # every request to the gateway, refused ones included
            self._recent: deque[float] = deque()
            self._banned_until = 0.0
            self._access: dict[str, float] = getattr(self, "_access", {})  # token -> expires at (epoch s)
            self._refresh: dict[str, float] = getattr(self, "_refresh", {})

    def _issue_tokens(self) -> tuple[str, str]:
        now = time.time()
        with self.lock:
            access = f"50000{secrets.token_hex(20)}"
            refresh = f"50001{secrets.token_hex(20)}"
            self._access[access] = now + self.token_ttl
            self._refresh[refresh] = now + self.refresh_ttl
            return access, refresh

    def reset(self) -> None:
        self.faults.clear()
        self._reset_state()

    def creations(self) -> list[dict[str, Any]]:
        """Every accepted ds.order.create: {"out_order_id", "order_ids"} (what the harness counts)."""
        with self.lock:
            return [{"out_order_id": c.out_order_id, "order_ids": list(c.order_ids)} for c in self._creations]

    def order(self, order_id: str) -> Order | None:
        with self.lock:
            found = self._orders.get(order_id)
            return copy.deepcopy(found) if found else None

    def expire_token(self, token: str | None = None) -> None:
        """The access token (the current one, by default) dies now: the next call with it is refused."""
        with self.lock:
            self._access.pop(token or self.access_token, None)

    def pay(self, order_id: str) -> Order:
        """The merchant pays the order on the website."""
        with self.lock:
            order = self._orders[order_id]
            if order.status == PLACED:
                order.status, order.paid_at = PAID, time.time()
            return copy.deepcopy(order)

    def ship(self, order_id: str) -> Order:
        """Ship a paid order now (one parcel); KeyError if unknown, ValueError if unpaid or closed."""
        with self.lock:
            order = self._orders[order_id]
            if order.status == PLACED:
                raise ValueError(f"{order_id} is not paid")
            if order.status not in (PAID, SHIPPED):
                raise ValueError(f"{order_id} is {order.status}")
            if not order.parcels:
                self._parcel_seq += 1
                service = order.lines[0].service
                order.parcels.append({"mail_no": f"LP00{self._order_seq % 10**6:06d}{self._parcel_seq:08d}",
                                      "carrier": CARRIERS.get(service, "Cainiao"), "service": service,
                                      "at_ms": int(time.time() * 1000)})
                order.status = SHIPPED
            return copy.deepcopy(order)

    def set_stock(self, sku_id: str, stock: int) -> None:
        with self.lock:
            for product in self.products.values():
                sku = product.sku(sku_id)
                if sku is not None:
                    sku.stock = stock
                    return
        raise KeyError(sku_id)

    def _tick(self) -> None:
        now = time.time()
        due = []
        with self.lock:
            for order in self._orders.values():
                if order.status == PLACED and now - order.created_at >= self.pay_timeout:
                    order.status, order.end_reason = "FINISH", "CANCELED"  # closed unpaid
                    self._restock(order)
                elif order.status == PAID and self.ship_after_seconds is not None \
                        and now - (order.paid_at or now) >= self.ship_after_seconds:
                    due.append(order.order_id)
        for order_id in due:
            with contextlib.suppress(KeyError, ValueError):
                self.ship(order_id)

    def _restock(self, order: Order) -> None:
        for ln in order.lines:
            product = self.products.get(ln.product_id)
            sku = product.sku(ln.sku_id) if product else None
            if sku is not None:
                sku.stock += ln.count

    # ---- the gateway ---------------------------------------------------------------------------------

    def _gate(self, api: str, params: dict[str, str], *, business: bool) -> None:
        """What IOP checks before a method runs, in its order; raises GatewayError."""
        if not params.get("app_key"):
            raise missing("app_key")
        if params["app_key"] != self.app_key:
            raise GatewayError("InvalidAppKey", "The specified app key is invalid or not exist")
        if not params.get("sign"):
            raise missing("sign")
        if not signature_ok(self.app_secret, api, params):
            raise GatewayError("IncompleteSignature", "The request signature does not conform to platform "
                                                      "standards")
        if self.timestamp_tolerance is not None:
            try:
                stamp = int(params.get("timestamp", "")) / 1000
            except ValueError:
                raise GatewayError("InvalidTimestamp", "The timestamp is not epoch milliseconds") from None
            if abs(time.time() - stamp) > self.timestamp_tolerance:
                raise GatewayError("InvalidTimestamp", "The request timestamp is out of the allowed range")
        self._throttle()
        if business:
            token = params.get("session") or params.get("access_token")
            if not token:
                raise missing("session")
            with self.lock:
                expires = self._access.get(token)
            if expires is None or expires <= time.time():
                raise GatewayError("IllegalAccessToken", "The specified access token is invalid or expired")

    def _throttle(self) -> None:
        if self.qps is None:
            return
        now = time.monotonic()
        with self.lock:
            if now < self._banned_until:
                raise throttled(self._banned_until - now)
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.qps:
                self._banned_until = now + self.ban_seconds
                raise throttled(self.ban_seconds)
            self._recent.append(now)

    async def _business(self, request: Request, api: str, params: dict[str, str]):
        try:
            self._gate(api, params, business=True)
        except GatewayError as exc:
            return error_response(exc)
        handler = self._handlers.get(api)
        if handler is None:
            return error_response(GatewayError("InvalidApiPath", f"The specified API {api!r} is invalid"))
        with self.lock:
            self.calls[api] += 1
        fault = self.faults.take(OPERATIONS[api])
        if fault is not None:
            answer = await self._fault(fault, api, params)
            if answer is not None:
                return answer
        try:
            with self.lock:
                payload = handler(params)
        except GatewayError as exc:
            return error_response(exc)
        if fault is not None and fault.mode == "hang_after_accept":
            await hold(fault.seconds, self.stopping)
        return method_response(api, payload)

    async def _fault(self, fault, api: str, params: dict[str, str]):
        if fault.mode == "error_500":
            return error_response(GatewayError("InternalError", "The request has failed due to an unknown error",
                                               kind="SYSTEM", status=500))
        if fault.mode == "rate_limit":
            return error_response(throttled(fault.retry_after))
        if fault.mode == "token_expired":
            self.expire_token(params.get("session") or params.get("access_token"))
            return error_response(GatewayError("IllegalAccessToken", "The specified access token is invalid or "
                                                                     "expired"))
        if fault.mode == "timeout_before_accept":
            await hold(fault.seconds, self.stopping)
            return error_response(GatewayError("ServiceTimeout", "The service timed out", kind="ISP", status=504))
        if fault.mode == "reject":
            if api == "aliexpress.ds.order.create":
                return method_response(api, {"result": {"is_success": False, "error_code": "INVENTORY_HOLD_ERROR",
                                                        "error_msg": "Hold inventory error"}})
            return error_response(GatewayError("15", "Remote service error", kind="ISP",
                                               sub_code="isv.insufficient-permission",
                                               sub_msg="Insufficient permission."))
        return None  # none, hang_after_accept: do the work

    async def _system(self, api: str, params: dict[str, str], *, wrapped: bool):
        rest = not wrapped
        try:
            self._gate(api, params, business=False)
            if api != "/auth/token/refresh":
                raise GatewayError("InvalidApiPath", f"The specified API path {api!r} is invalid")
            with self.lock:
                self.calls[api] += 1
            fault = self.faults.take(OPERATIONS[api])
            if fault is not None:
                answer = await self._fault(fault, api, params)
                if answer is not None:
                    return answer
            body = self._renew(params)
        except GatewayError as exc:
            return error_response(exc, rest=rest)
        body = {**body, "code": "0", "request_id": request_id()}
        return JSONResponse({f"{api}_response": body} if wrapped else body)

    def _renew(self, params: dict[str, str]) -> dict[str, Any]:
        given = params.get("refresh_token")
        if not given:
            raise missing("refresh_token")
        now = time.time()
        with self.lock:
            expires = self._refresh.pop(given, None)
            if expires is None or expires <= now:
                raise GatewayError("IllegalRefreshToken", "The specified refresh token is invalid or expired")
        access, refresh = self._issue_tokens()
        with self.lock:
            self.access_token, self.refresh_token = access, refresh
        return {"access_token": access, "refresh_token": refresh, "expires_in": int(self.token_ttl),
                "refresh_expires_in": int(self.refresh_ttl), "expire_time": int((now + self.token_ttl) * 1000),
                "refresh_token_valid_time": int((now + self.refresh_ttl) * 1000), "user_id": "2200000001",
                "seller_id": "2200000001", "account": "dropshipper@example.com", "account_platform": "buyerApp",
                "locale": "en_US", "sp": "ae", "havana_id": "2200000001", "user_nick": "ds_emulated"}

    # ---- the methods -------------------------------------------------------------------------------

    @property
    def _handlers(self):
        return {"aliexpress.ds.product.get": self._product_get, "aliexpress.ds.freight.query": self._freight,
                "aliexpress.ds.order.create": self._order_create, "aliexpress.trade.ds.order.get": self._order_get,
                "aliexpress.ds.order.tracking.get": self._tracking}

    def _product_get(self, params: dict[str, str]) -> dict[str, Any]:
        for name in ("product_id", "ship_to_country"):
            if not params.get(name):
                raise missing(name)
        country = params["ship_to_country"].upper()
        currency = (params.get("target_currency") or "USD").upper()
        product = self.products.get(params["product_id"])
        # [U] how a missing product is answered: the docs list the codes (605, 602), not the shape
        if product is None:
            return {"rsp_code": "605", "rsp_msg": "ITEM_ID_NOT_FOUND", "code": "605"}
        if country in product.barred:
            return {"rsp_code": "602", "rsp_msg": "Item is not allowed to this country", "code": "602"}
        return {"result": product.answer(country, currency, self.url), "rsp_code": "200", "rsp_msg": "Call succeeds",
                "code": "0"}

    def _freight(self, params: dict[str, str]) -> dict[str, Any]:
        raw = params.get("queryDeliveryReq")
        if not raw:
            raise missing("queryDeliveryReq")
        try:
            req = json.loads(raw)
        except ValueError:
            raise GatewayError("InvalidParameter", "queryDeliveryReq is not valid JSON") from None
        absent = [k for k in ("quantity", "shipToCountry", "productId", "selectedSkuId", "language", "locale",
                              "currency") if req.get(k) in (None, "")]
        if absent:
            return {"result": {"success": False, "code": 501, "msg": f"PARAM_ERROR: {', '.join(absent)}"}}
        product = self.products.get(str(req["productId"]))
        sku = product.sku(str(req["selectedSkuId"])) if product else None
        if sku is None:
            return {"result": {"success": False, "code": 501, "msg": "PARAM_ERROR: no such product or sku"}}
        options = product.delivery_options(sku, str(req["shipToCountry"]).upper(), int(req["quantity"]),
                                           str(req["currency"]).upper())
        if not options:
            return {"result": {"success": False, "code": 505, "msg": "DELIVERY_NOT_AVAILABLE_TO_YOUR_ADDRESS"}}
        return {"result": {"success": True, "code": 200, "msg": "Call succeeds",
                           "delivery_options": {"delivery_option_d_t_o": options}}}

    def _order_create(self, params: dict[str, str]) -> dict[str, Any]:
        raw = params.get("param_place_order_request4_open_api_d_t_o")
        if not raw:
            raise missing("param_place_order_request4_open_api_d_t_o")
        try:
            dto = json.loads(raw)
            extend = json.loads(params["ds_extend_request"]) if params.get("ds_extend_request") else {}
        except ValueError:
            raise GatewayError("InvalidParameter", "a parameter is not valid JSON") from None
        try:
            return {"result": self._create(dto if isinstance(dto, dict) else {}, extend if isinstance(extend, dict)
                                           else {})}
        except _Refusal as refusal:
            return {"result": {"is_success": False, "error_code": refusal.code, "error_msg": refusal.msg}}

    def _create(self, dto: dict[str, Any], extend: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        out_order_id = str(dto.get("out_order_id") or "")
        if out_order_id:  # the idempotent id of the docs: a repeat within the window is refused
            earlier = next((c for c in self._creations
                            if c.out_order_id == out_order_id and now - c.at < self.dedupe_window), None)
            if earlier is not None:
                if self.repeat_answer == "same":
                    return {"is_success": True, "order_list": {"number": [int(i) for i in earlier.order_ids]}}
                raise _Refusal("REPEATED_ORDER_ERROR", "Repeated placed order")
        address = dto.get("logistics_address")
        if not isinstance(address, dict):
            raise _Refusal("B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL", "Please enter an address")
        country = str(address.get("country") or "").upper()
        self._check_address(address, country)
        items = dto.get("product_items")
        if not isinstance(items, list) or not items:
            raise _Refusal("A001_ORDER_CANNOT_BE_PLACED", "product_items is empty")
        lines, wanted = [], Counter()
        for item in items:
            product = self.products.get(str((item or {}).get("product_id")))
            if product is None or product.status != "onSelling":
                raise _Refusal("A001_ORDER_CANNOT_BE_PLACED", f"product {item.get('product_id')} cannot be ordered")
            if country in product.barred:
                raise _Refusal("A005_INVALID_COUNTRIES", "A005_INVALID_COUNTRIES")
            sku = product.sku_by_attr(str(item.get("sku_attr") or ""))
            count = item.get("product_count")
            if sku is None or not isinstance(count, int) or isinstance(count, bool) or count <= 0:
                raise _Refusal("A001_ORDER_CANNOT_BE_PLACED", "no such sku_attr, or a bad product_count")
            options = product.delivery_options(sku, country, count, "USD")
            service = item.get("logistics_service_name") or (min(
                options, key=lambda o: Decimal(o["shipping_fee_cent"]))["code"] if options else "")
            fee = product.fee(sku, country, count, service) if service else None
            if fee is None:
                raise _Refusal("DELIVERY_METHOD_NOT_EXIST", "Delivery method is not exist")
            wanted[sku.sku_id] += count
            if wanted[sku.sku_id] > (sku.stock if sku.sold_to(country) else 0):
                raise _Refusal("INVENTORY_HOLD_ERROR", "Hold inventory error")
            lines.append((product, sku, Line(product.product_id, sku.sku_id, sku.attr, count, sku.price, service,
                                             fee, product.title)))
        for _, sku, line in lines:
            sku.stock -= line.count
        by_store: dict[int, list] = {}
        for product, _, line in lines:  # AliExpress makes one order per seller
            by_store.setdefault(product.store_id, []).append((product, line))
        payment = extend.get("payment") if isinstance(extend.get("payment"), dict) else {}
        try_to_pay = str(payment.get("try_to_pay", "false")).lower() == "true"
        paid = try_to_pay and self.auto_pay_allowed
        ids = []
        for store_id, store_lines in by_store.items():
            self._order_seq += 1 + secrets.randbelow(50)
            order_id = str(self._order_seq)
            self._orders[order_id] = Order(order_id=order_id, out_order_id=out_order_id, store_id=store_id,
                                           store_name=store_lines[0][0].store_name,
                                           lines=[ln for _, ln in store_lines], address=dict(address),
                                           created_at=now, paid_at=now if paid else None,
                                           status=PAID if paid else PLACED)
            ids.append(order_id)
        self._creations.append(Creation(out_order_id, ids, now))
        result: dict[str, Any] = {"is_success": True, "order_list": {"number": [int(i) for i in ids]}}
        if try_to_pay and not paid:
            result["error_msg"] = AUTOPAY_FAILED  # created, but unpaid
        return result

    def _check_address(self, address: dict[str, Any], country: str) -> None:
        """The ds.order.create docs' address rules (B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL messages)."""
        refuse = lambda msg: _Refusal("B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL", msg)  # noqa: E731
        if not str(address.get("address") or "").strip():
            raise refuse("Please enter an address")
        if not str(address.get("city") or "").strip():
            raise refuse("Please enter a City")
        if len(country) != 2 or not country.isalpha():
            raise refuse("Please select a Country/Region")
        if not self.address_rules:
            return
        if not str(address.get("province") or "").strip():
            raise refuse("Please select a State/Province/County")
        if country == "US" and not 2 <= len(str(address.get("contact_person") or "").strip()) <= 32:
            raise refuse("Please enter between 2 - 32 characters")

    def _order_get(self, params: dict[str, str]) -> dict[str, Any]:
        raw = params.get("single_order_query")
        if not raw:
            raise missing("single_order_query")
        try:
            order_id = str(json.loads(raw).get("order_id"))
        except (ValueError, AttributeError):
            raise GatewayError("InvalidParameter", "single_order_query is not valid JSON") from None
        order = self._orders.get(order_id)
        # The docs: another account's order (or one not synchronised yet, ~10 s) is a permission error.
        if order is None or time.time() - order.created_at < self.visible_after:
            raise GatewayError("15", "Remote service error", kind="ISP", sub_code="isv.insufficient-permission",
                               sub_msg="Insufficient permission.")
        return {"result": order.answer(self.pay_timeout), "rsp_code": "200", "rsp_msg": "Call succeeds"}

    def _tracking(self, params: dict[str, str]) -> dict[str, Any]:
        for name in ("ae_order_id", "language"):
            if not params.get(name):
                raise missing(name)
        order = self._orders.get(params["ae_order_id"])
        if order is None:
            return {"result": {"ret": False, "msg": "TRACKING DATA NOT FOUND", "code": "1001"}}
        return {"result": order.tracking()}

    # ---- HTTP ---------------------------------------------------------------------------------------

    def _count(self) -> None:
        with self.lock:
            self.received += 1

    def _build_app(self) -> FastAPI:
        app = FastAPI(title=f"AliExpress emulator ({self.name})", docs_url=None, redoc_url=None,
                      openapi_url=None)

        @app.api_route("/sync", methods=["GET", "POST"])
        async def sync(request: Request):
            self._count()
            params = await all_params(request)
            api = params.get("method", "")
            if not api:
                return error_response(missing("method"))
            if api.startswith("/"):
                return await self._system(api, params, wrapped=True)
            return await self._business(request, api, params)

        @app.post("/rest/{path:path}")
        async def rest(request: Request, path: str):
            self._count()
            params = await all_params(request)
            return await self._system("/" + path, params, wrapped=False)

        add_fault_controls(app, self, lambda status, message: error_response(
            GatewayError("InvalidParameter", message, status=status)))

        @app.get("/_control/orders")
        async def control_orders():
            with self.lock:
                orders = [{"order_id": o.order_id, "out_order_id": o.out_order_id, "status": o.status,
                           "logistics_status": o.logistics_status, "amount": f"{o.amount():.2f}",
                           "parcels": o.parcels} for o in self._orders.values()]
            return {"creations": self.creations(), "orders": orders}

        @app.get("/_control/calls")
        async def control_calls():
            with self.lock:
                return {"calls": dict(self.calls), "served": sum(self.calls.values()), "received": self.received}

        @app.post("/_control/pay/{order_id}")
        async def control_pay(order_id: str):
            try:
                return {"order_id": order_id, "status": self.pay(order_id).status}
            except KeyError:
                return error_response(GatewayError("InvalidParameter", f"no order {order_id}", status=404))

        @app.post("/_control/ship/{order_id}")
        async def control_ship(order_id: str):
            try:
                order = self.ship(order_id)
            except KeyError:
                return error_response(GatewayError("InvalidParameter", f"no order {order_id}", status=404))
            except ValueError as exc:
                return error_response(GatewayError("InvalidParameter", str(exc), status=409))
            return {"order_id": order_id, "status": order.status, "parcels": order.parcels}

        @app.post("/_control/stock")
        async def control_stock(request: Request):
            body = await request.json()
            try:
                self.set_stock(str(body["sku_id"]), int(body["stock"]))
            except (KeyError, TypeError, ValueError) as exc:
                return error_response(GatewayError("InvalidParameter", f"no such sku or bad stock: {exc}",
                                                   status=422))
            return {"ok": True}

        @app.post("/_control/expire_token")
        async def control_expire_token():
            self.expire_token()
            return {"expired": True}

        @app.post("/_control/reset")
        async def control_reset():
            self.reset()
            return {"reset": True}

        @app.get("/kf/{name}")
        async def picture(name: str):
            # The emulator's own image CDN (AliExpress serves product pictures from ae01.alicdn.com/kf/...).
            return Response(_picture(name), media_type="image/jpeg")

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def unknown(path: str):
            return error_response(GatewayError("InvalidApiPath", f"The specified API path /{path} is invalid",
                                               status=404))

        return app

    # ---- what dropbridge needs ------------------------------------------------------------------------

    def connection(self) -> dict[str, Any]:
        with self.lock:
            expires = self._access.get(self.access_token, time.time())
            ids = sorted(self.products)
        config = {"currency": "USD", "ship_to_country": "US", "product_ids": ids, "auto_pay": self.auto_pay_allowed,
                  **self.connection_config}
        return {"name": self.name, "base_url": self.url,
                "credentials": {"app_key": self.app_key, "app_secret": self.app_secret,
                                "access_token": self.access_token, "refresh_token": self.refresh_token,
                                "access_token_expires_at": datetime.fromtimestamp(expires, UTC).isoformat()},
                "config": config}
