"""The HTTP side of the CJ emulator: API 2.0 routes under /api2.0/v1 (GET and POST as CJ documents them:
a GET route asked with POST answers "Request method 'POST' not supported"), every reply in CJ's envelope
(unknown routes too), faults injected per operation, and `/_control/*` for tests."""

from __future__ import annotations

import io
import json
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from dropbridge.sandbox.kit import hold
from dropbridge.sandbox.kit.controls import add_fault_controls

from . import catalog as cat
from . import envelope as e
from .emulator import CjEmulator, CjFault

PREFIX = "/api2.0/v1"
MAX_PAGE, MAX_SIZE = 1000, 100  # listV2 (product.html: page 1..1000, size 1..100)
REQUIRED_ORDER_FIELDS = ("orderNumber", "shippingCustomerName", "shippingCountry", "shippingCountryCode",
                         "shippingProvince", "shippingCity", "shippingAddress", "logisticName", "fromCountryCode")


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 80, 40)).save(out, "PNG")
    return out.getvalue()


def build_app(emu: CjEmulator) -> FastAPI:
    app = FastAPI(title="CJdropshipping API 2.0 emulator", docs_url=None, redoc_url=None, openapi_url=None)
    image = _png()

    def fail(code: int, message: str, status: int | None = None) -> JSONResponse:
        status = status if status is not None else emu.error_status
        headers = {"Retry-After": "1"} if status == 429 and emu.retry_after_header else None
        return e.error(code, message, status, headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if exc.status_code == 405:
            return e.error(405, f"Request method '{request.method}' not supported", 405)
        return e.error(exc.status_code, "Not Found" if exc.status_code == 404 else str(exc.detail), exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return fail(e.PARAM_ERROR, "Param error")

    async def guarded(request: Request, operation: str, work, *, auth: bool = True, counted: bool = True):
        """Token check, the account's limits, the operation's queued fault, then `work(token)`."""
        token = request.headers.get("CJ-Access-Token")
        try:
            if auth:
                emu.check_token(token)
            if counted:
                emu.count(request.url.path)
        except CjFault as exc:
            return fail(exc.code, exc.message, exc.status)
        fault = emu.faults.take(operation)
        if fault is not None:
            if fault.mode == "error_500":
                return fail(e.SYSTEM_BUSY, "System busy, please contact CJ IT", 500)
            if fault.mode == "rate_limit":
                headers = {"Retry-After": f"{fault.retry_after:g}"} if emu.retry_after_header else None
                return e.error(e.TOO_MANY, f"Too Many Requests, QPS limit is {emu.qps:g} time/1second", 429, headers)
            if fault.mode == "timeout_before_accept":
                await hold(fault.seconds, emu.stopping)
                return fail(e.SYSTEM_BUSY, "gateway timeout", 504)
            if fault.mode == "token_expired":
                emu.expire_tokens()
                return fail(e.INVALID_TOKEN, "Invalid API key or access token")
            if fault.mode == "reject" and operation == "orders.create":
                return fail(e.OUT_OF_STOCK, "Insufficient inventory")
        try:
            data = work(token)
        except CjFault as exc:
            return fail(exc.code, exc.message, exc.status)
        if fault is not None and fault.mode == "hang_after_accept":
            await hold(fault.seconds, emu.stopping)
        return e.ok(data)

    async def body_of(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise CjFault(e.PARAM_ERROR, "The request parameter is not in a correct JSON format") from None
        if not isinstance(body, dict):
            raise CjFault(e.PARAM_ERROR, "The request parameter is not in a correct JSON format")
        return body

    def q(request: Request, name: str) -> str | None:
        value = request.query_params.get(name)
        return value if value not in (None, "") else None

    def number(request: Request, name: str, default: int, low: int, high: int) -> int:
        raw = q(request, name)
        try:
            value = int(raw) if raw is not None else default
        except ValueError:
            raise CjFault(e.PARAM_ERROR, f"{name} must be a number") from None
        if not low <= value <= high:
            raise CjFault(e.PARAM_ERROR, f"{name} must be between {low} and {high}")
        return value

    # ---- authentication (auth.html) ------------------------------------------------------------------------

    @app.post(f"{PREFIX}/authentication/getAccessToken")
    async def get_access_token(request: Request):
        async def work():
            body = await body_of(request)
            if not body.get("apiKey"):
                raise CjFault(e.PARAM_ERROR, "apiKey cannot be empty")
            return emu.get_access_token(str(body["apiKey"]))
        return await _auth(request, work)

    @app.post(f"{PREFIX}/authentication/refreshAccessToken")
    async def refresh_access_token(request: Request):
        async def work():
            body = await body_of(request)
            if not body.get("refreshToken"):
                raise CjFault(e.PARAM_ERROR, "refreshToken cannot be empty")
            return emu.refresh_access_token(str(body["refreshToken"]))
        return await _auth(request, work)

    async def _auth(request: Request, work):
        fault = emu.faults.take("auth")
        if fault is not None and fault.mode == "error_500":
            return fail(e.SYSTEM_BUSY, "System busy, please contact CJ IT", 500)
        try:
            data = await work()
        except CjFault as exc:
            return fail(exc.code, exc.message, exc.status)
        emu.calls[request.url.path] += 1
        return e.ok(data)

    @app.post(f"{PREFIX}/authentication/logout")
    async def logout(request: Request):
        return await guarded(request, "auth", lambda token: emu.logout(token) or True, counted=False)

    # ---- products and stock (product.html, storage.html) -------------------------------------------------------

    @app.get(f"{PREFIX}/product/listV2")
    async def product_list(request: Request):
        def work(token):
            page = number(request, "page", 1, 1, MAX_PAGE)
            size = number(request, "size", 20, 1, MAX_SIZE)
            keyword, category = q(request, "keyWord"), q(request, "categoryId")
            found = [p for p in emu.products
                     if (not keyword or keyword.lower() in p.name.lower() or keyword == p.sku)
                     and (not category or category == p.category[0])]
            if country := q(request, "countryCode"):
                found = [p for p in found if any(sum(v.stock.get(country, (0, 0))) for v in p.variants)]
            chunk = found[(page - 1) * size: page * size]
            return {"pageSize": size, "pageNumber": page, "totalRecords": len(found),
                    "totalPages": math.ceil(len(found) / size),
                    "content": [{"productList": [cat.list_item(p) for p in chunk], "relatedCategoryList": [],
                                 "keyWord": keyword or "", "keyWordOld": keyword or ""}]}
        return await guarded(request, "catalog", work)

    @app.get(f"{PREFIX}/product/query")
    async def product_query(request: Request):
        def work(token):
            pid, sku, vsku = q(request, "pid"), q(request, "productSku"), q(request, "variantSku")
            if not (pid or sku or vsku):
                raise CjFault(e.PARAM_ERROR, "pid, productSku or variantSku is required")
            product = emu.product(pid) if pid else next(
                (p for p in emu.products if p.sku == sku), None) if sku else (emu.variant(sku=vsku) or (None,))[0]
            if product is None:
                raise CjFault(e.NOT_FOUND, "product does not exist")
            return cat.product_json(product)
        return await guarded(request, "catalog", work)

    @app.get(f"{PREFIX}/product/variant/query")
    async def variant_query(request: Request):
        def work(token):
            pid, vsku = q(request, "pid"), q(request, "variantSku")
            if pid:
                product = emu.product(pid)
                return [cat.variant_json(v, product.image) for v in product.variants] if product else []
            if vsku:
                found = emu.variant(sku=vsku)
                return [cat.variant_json(found[1], found[0].image)] if found else []
            raise CjFault(e.PARAM_ERROR, "pid or variantSku is required")
        return await guarded(request, "catalog", work)

    @app.get(f"{PREFIX}/product/variant/queryByVid")
    async def variant_by_vid(request: Request):
        def work(token):
            found = emu.variant(vid=q(request, "vid"))
            if found is None:
                raise CjFault(e.NOT_FOUND, "variant does not exist")
            return cat.variant_json(found[1], found[0].image)
        return await guarded(request, "catalog", work)

    @app.get(f"{PREFIX}/product/stock/getInventoryByPid")
    async def stock_by_pid(request: Request):
        def work(token):
            product = emu.product(q(request, "pid") or "")
            if product is None:
                raise CjFault(e.NOT_FOUND, "product does not exist")
            with emu.lock:
                return [row for v in product.variants for row in cat.stock_rows(v)]
        return await guarded(request, "catalog", work)

    @app.get(f"{PREFIX}/product/stock/queryByVid")
    async def stock_by_vid(request: Request):
        def work(token):
            found = emu.variant(vid=q(request, "vid"))
            if found is None:
                raise CjFault(e.NOT_FOUND, "variant does not exist")
            with emu.lock:
                return cat.stock_rows(found[1])
        return await guarded(request, "catalog", work)

    @app.get(f"{PREFIX}/product/stock/queryBySku")
    async def stock_by_sku(request: Request):
        def work(token):
            found = emu.variant(sku=q(request, "sku"))
            if found is None:
                raise CjFault(e.NOT_FOUND, "variant does not exist")
            with emu.lock:
                return cat.stock_rows(found[1])
        return await guarded(request, "catalog", work)

    # ---- logistics (logistic.html) --------------------------------------------------------------------------

    @app.post(f"{PREFIX}/logistic/freightCalculate")
    async def freight(request: Request):
        body = await _body_or_fail(request)
        if isinstance(body, Response):
            return body

        def work(token):
            for name in ("startCountryCode", "endCountryCode"):
                if not body.get(name):
                    raise CjFault(e.PARAM_ERROR, f"{name} cannot be empty")
            items = body.get("products")
            if not isinstance(items, list) or not items:
                raise CjFault(e.PARAM_ERROR, "products cannot be empty")
            return emu.freight(str(body["startCountryCode"]).upper(), str(body["endCountryCode"]).upper(),
                               [(str(i.get("vid")), int(i.get("quantity") or 1)) for i in items])
        return await guarded(request, "freight", work)

    @app.get(f"{PREFIX}/logistic/trackInfo")
    async def track_info(request: Request):
        def work(token):
            numbers = request.query_params.getlist("trackNumber")
            with emu.lock:
                shipped = {o["trackNumber"]: o for o in emu.orders.values() if o.get("trackNumber")}
            return [{"trackingNumber": n, "logisticName": shipped[n]["logisticName"],
                     "trackingFrom": shipped[n]["fromCountryCode"], "trackingTo": shipped[n]["shippingCountryCode"],
                     "deliveryDay": "7", "deliveryTime": shipped[n]["outWarehouseTime"],
                     "trackingStatus": "In transit", "lastMileCarrier": "USPS", "lastTrackNumber": n}
                    for n in numbers if n in shipped]
        return await guarded(request, "tracking", work)

    # ---- orders and payment (shopping.html) -------------------------------------------------------------------

    @app.post(f"{PREFIX}/shopping/order/createOrderV2")
    async def create_order(request: Request):
        body = await _body_or_fail(request)
        if isinstance(body, Response):
            return body

        def work(token):
            _validate_order(body)
            return emu.create_order(body)
        return await guarded(request, "orders.create", work)

    @app.get(f"{PREFIX}/shopping/order/getOrderDetail")
    async def order_detail(request: Request):
        def work(token):
            key = q(request, "orderId")
            if not key:
                raise CjFault(e.PARAM_ERROR, "orderId cannot be empty")
            order = emu.find(key)
            if order is None and emu.order_not_found == "error":
                raise CjFault(e.NOT_FOUND, f"order {key} does not exist")
            return order
        return await guarded(request, "orders.detail", work)

    @app.get(f"{PREFIX}/shopping/order/list")
    async def order_list(request: Request):
        return await guarded(request, "orders.detail", lambda token: emu.order_list(
            number(request, "pageNum", 1, 1, 10_000), number(request, "pageSize", 20, 1, 200), q(request, "status")))

    @app.delete(f"{PREFIX}/shopping/order/deleteOrder")
    async def delete_order(request: Request):
        def work(token):
            emu.delete(q(request, "orderId") or "")
            return True
        return await guarded(request, "orders.cancel", work)

    @app.post(f"{PREFIX}/shopping/pay/payBalance")
    async def pay_balance(request: Request):
        body = await _body_or_fail(request)
        if isinstance(body, Response):
            return body

        def work(token):
            emu.pay(str(body.get("orderId") or ""))
            return True
        return await guarded(request, "orders.pay", work)

    @app.get(f"{PREFIX}/shopping/pay/getBalance")
    async def balance(request: Request):
        return await guarded(request, "orders.detail", lambda token: {
            "amount": float(emu.balance), "freezeAmount": 0.0, "noWithdrawalAmount": 0.0})

    # ---- webhooks (webhook.html) ----------------------------------------------------------------------------------

    @app.post(f"{PREFIX}/webhook/set")
    async def webhook_set(request: Request):
        body = await _body_or_fail(request)
        if isinstance(body, Response):
            return body

        def work(token):
            emu.set_webhooks(body)
            return True
        return await guarded(request, "webhooks", work)

    async def _body_or_fail(request: Request):
        try:
            return await body_of(request)
        except CjFault as exc:
            return fail(exc.code, exc.message)

    # ---- images, controls -------------------------------------------------------------------------------------

    @app.get("/_images/{name}")
    async def product_image(name: str):
        return Response(image, media_type="image/png")

    add_fault_controls(app, emu, lambda status, message: e.error(e.PARAM_ERROR, message, status))

    @app.get("/_control/orders")
    async def control_orders():
        with emu.lock:
            return {"orders": list(emu.orders.values())}

    @app.post("/_control/ship/{order_id}")
    async def control_ship(order_id: str):
        try:
            return emu.ship(order_id)
        except KeyError:
            return e.error(e.NOT_FOUND, f"no order {order_id}", 404)
        except ValueError as exc:
            return e.error(e.ORDER_STATE, str(exc), 409)

    @app.post("/_control/pay/{order_id}")
    async def control_pay(order_id: str):
        try:
            return emu.pay(order_id)
        except CjFault as exc:
            return e.error(exc.code, exc.message, 409)

    @app.post("/_control/expire-tokens")
    async def control_expire():
        return {"expired": emu.expire_tokens()}

    @app.get("/_control/calls")
    async def control_calls():
        return {"calls": dict(emu.calls)}

    @app.get("/_control/deliveries")
    async def control_deliveries():
        return emu.sender.records()

    @app.post("/_control/reset")
    async def control_reset():
        emu.reset()
        return {"reset": True}

    return app


def _validate_order(body: dict[str, Any]) -> None:
    """createOrderV2's required fields (contract 2.6, from CJ's own MCP schema)."""
    for name in REQUIRED_ORDER_FIELDS:
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            raise CjFault(e.PARAM_ERROR, f"{name} cannot be empty")
    if len(body["orderNumber"]) > 40:
        raise CjFault(e.PARAM_ERROR, "orderNumber is longer than 40 characters")
    products = body.get("products")
    if not isinstance(products, list) or not products:
        raise CjFault(e.PARAM_ERROR, "products cannot be empty")
    for i, item in enumerate(products):
        if not isinstance(item, dict) or not (item.get("vid") or item.get("sku")):
            raise CjFault(e.PARAM_ERROR, f"products[{i}]: vid or sku is required")
        qty = item.get("quantity")
        if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0:
            raise CjFault(e.PARAM_ERROR, f"products[{i}].quantity must be a positive integer")
    if body.get("payType") not in (None, 1, 2, 3):
        raise CjFault(e.PARAM_ERROR, "payType must be 1, 2 or 3")
