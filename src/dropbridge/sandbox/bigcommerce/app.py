"""The BigCommerce emulator's HTTP surface: `/stores/{store_hash}/v2|v3/...` (storefronts.md §3) behind the
quota and auth gate (gate.py), and `/_control/...` (no auth, not counted). Every error is in the
envelope of the API version asked (errors.py), unknown routes and ids that are not numbers included.

Pagination (§3.7): v3 `page`/`limit` (<= 250) with `meta.pagination`; v2 `page`/`limit` (<= 250), bare arrays.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.routing import Match

from dropbridge.sandbox.kit.controls import add_common_controls
from dropbridge.sandbox.kit.errors import install_error_envelope

from .catalog import INCLUDES
from .errors import ERROR_TYPE, NOT_FOUND_V2, BcError, respond, routing_error
from .gate import Gate
from .orders import parse_date


def build_app(emu: Any) -> FastAPI:
    app = FastAPI(title="BigCommerce emulator", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_envelope(app, routing_error, method_not_allowed=405)

    @app.exception_handler(BcError)
    async def bc_error(request: Request, exc: BcError):
        return respond(request, exc)

    async def body_of(request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise BcError(400, "The request body is not valid JSON.") from None

    def page_args(request: Request, default: int, maximum: int) -> tuple[int, int]:
        q = request.query_params
        try:
            page = max(1, int(q.get("page", "1")))
            limit = int(q.get("limit", str(default)))
        except ValueError:
            raise BcError(400 if "/v2/" in request.url.path else 422,
                          "The field 'page' or 'limit' is invalid.") from None
        if not 1 <= limit <= maximum:
            raise BcError(400 if "/v2/" in request.url.path else 422, f"limit must be between 1 and {maximum}")
        return page, limit

    def v3_page(request: Request, items: list[Any]) -> dict[str, Any]:
        page, limit = page_args(request, 50, 250)
        total = len(items)
        pages = -(-total // limit) if total else 0
        chunk = items[(page - 1) * limit: page * limit]
        links = {"current": f"?limit={limit}&page={page}"}
        if page > 1:
            links["previous"] = f"?limit={limit}&page={page - 1}"
        if page < pages:
            links["next"] = f"?limit={limit}&page={page + 1}"
        pagination = {"total": total, "count": len(chunk), "per_page": limit, "current_page": page,
                      "total_pages": pages, "links": links}
        return {"data": chunk, "meta": {"pagination": pagination}}

    def includes(request: Request) -> tuple[str, ...]:
        return tuple(x for x in (request.query_params.get("include") or "").split(",") if x in INCLUDES)

    def order_or_404(oid: int) -> dict[str, Any]:
        order = emu.orders.get(oid)
        if order is None:
            raise BcError(404, NOT_FOUND_V2)
        return order

    p = "/stores/{store_hash}"

    # ---- catalog -------------------------------------------------------------------------------

    # https://developer.bigcommerce.com/docs/rest-catalog/products#get-all-products
    @app.get(p + "/v3/catalog/products")
    async def list_products(request: Request):
        q = request.query_params
        with emu._lock:
            emu._settle()
            items = sorted(emu.products.values(), key=lambda x: x["id"])
            if q.get("sku"):
                items = [x for x in items if x["sku"].lower() == q["sku"].lower()]
            if q.get("sku:in"):
                wanted = {s.lower() for s in q["sku:in"].split(",")}
                items = [x for x in items if x["sku"].lower() in wanted]
            if q.get("id:in"):
                ids = {int(s) for s in q["id:in"].split(",") if s.strip().isdigit()}
                items = [x for x in items if x["id"] in ids]
            return v3_page(request, [emu._product_view(x, includes(request)) for x in items])

    # https://developer.bigcommerce.com/docs/rest-catalog/products#create-a-product
    @app.post(p + "/v3/catalog/products")
    async def create_product(request: Request):
        body = await body_of(request)
        view = emu.add_product(body)
        wanted = includes(request)
        return JSONResponse({"data": {k: v for k, v in view.items() if k not in INCLUDES or k in wanted
                                      or k in ("variants", "images")}, "meta": {}})

    # https://developer.bigcommerce.com/docs/rest-catalog/products#update-products-batch
    @app.put(p + "/v3/catalog/products")
    async def batch_products(request: Request):
        body = await body_of(request)
        if not isinstance(body, list):
            raise BcError(422, "JSON data is missing or invalid")
        if len(body) > 10:  # §3.4
            raise BcError(413, "The request payload is too large. The maximum items allowed in the array is 10")
        with emu._lock:
            return {"data": [emu._update_product(item) for item in body], "meta": {}}

    @app.get(p + "/v3/catalog/products/{pid}")
    async def get_product(pid: int, request: Request):
        with emu._lock:
            emu._settle()
            product = emu.products.get(pid)
            if product is None:
                raise BcError(404, "The requested product was not found.")
            return {"data": emu._product_view(product, includes(request)), "meta": {}}

    @app.put(p + "/v3/catalog/products/{pid}")
    async def update_product(pid: int, request: Request):
        body = await body_of(request)
        with emu._lock:
            return {"data": emu._update_product({**(body if isinstance(body, dict) else {}), "id": pid}),
                    "meta": {}}

    # https://developer.bigcommerce.com/docs/rest-catalog/product-variants#get-all-product-variants
    @app.get(p + "/v3/catalog/products/{pid}/variants")
    async def list_variants(pid: int, request: Request):
        with emu._lock:
            emu._settle()
            product = emu.products.get(pid)
            if product is None:
                raise BcError(404, "The requested product was not found.")
            return v3_page(request, [emu._variant_view(emu.variants[v]) for v in product["variants"]])

    # https://developer.bigcommerce.com/docs/rest-catalog/products/images#create-a-product-image
    # (§3.4: one image per call, `image_url` as JSON or multipart `image_file`, each at most 8 MB)
    @app.post(p + "/v3/catalog/products/{pid}/images")
    async def create_image(pid: int, request: Request):
        if (request.headers.get("content-type") or "").startswith("multipart/form-data"):
            form = await request.form()
            upload = form.get("image_file")
            if upload is None or isinstance(upload, str):
                raise BcError(422, "JSON data is missing or invalid", {"image_file": "image_file is required"})
            data = await upload.read()
            body = {k: v for k, v in form.items() if isinstance(v, str)}
            with emu._lock:
                return {"data": emu._add_image(pid, body, data, upload.filename or "image",
                                               upload.content_type or ""), "meta": {}}
        body = await body_of(request)
        with emu._lock:
            return {"data": emu._add_image(pid, body if isinstance(body, dict) else {}, None, "", ""), "meta": {}}

    @app.get("/_cdn/products/{pid}/images/{image_id}/{filename}")
    async def cdn_image(pid: int, image_id: int, filename: str):
        upload = emu.uploads.get(image_id)
        if upload is None:
            return Response(status_code=404)
        return Response(upload["data"], media_type=upload["content_type"] or "application/octet-stream")

    @app.put(p + "/v3/catalog/products/{pid}/images/{image_id}")
    async def update_image(pid: int, image_id: int, request: Request):
        body = await body_of(request)
        with emu._lock:
            return {"data": emu._update_image(pid, image_id, body if isinstance(body, dict) else {}), "meta": {}}

    # https://developer.bigcommerce.com/docs/rest-catalog/product-variants#create-a-product-variant
    @app.post(p + "/v3/catalog/products/{pid}/variants")
    async def create_variant(pid: int, request: Request):
        body = await body_of(request)
        with emu._lock:
            return {"data": emu._create_variant(pid, body), "meta": {}}

    # https://developer.bigcommerce.com/docs/rest-catalog/product-variants/product-variant-options
    @app.get(p + "/v3/catalog/products/{pid}/options")
    async def list_options(pid: int, request: Request):
        with emu._lock:
            return v3_page(request, copy.deepcopy(emu._product_or_404(pid)["_options"]))

    @app.post(p + "/v3/catalog/products/{pid}/options")
    async def create_option(pid: int, request: Request):
        body = await body_of(request)
        with emu._lock:
            return {"data": emu._add_option(pid, body), "meta": {}}

    # https://developer.bigcommerce.com/docs/rest-catalog/product-variants/product-variant-option-values
    @app.post(p + "/v3/catalog/products/{pid}/options/{oid}/values")
    async def create_option_value(pid: int, oid: int, request: Request):
        body = await body_of(request)
        with emu._lock:
            return {"data": emu._add_option_value(pid, oid, body), "meta": {}}

    @app.put(p + "/v3/catalog/products/{pid}/options/{oid}/values/{value_id}")
    async def update_option_value(pid: int, oid: int, value_id: int, request: Request):
        body = await body_of(request)
        with emu._lock:
            return {"data": emu._update_option_value(pid, oid, value_id, body), "meta": {}}

    # https://developer.bigcommerce.com/docs/rest-catalog/categories (v3 Catalog categories)
    @app.get(p + "/v3/catalog/categories")
    async def list_categories(request: Request):
        q = request.query_params
        with emu._lock:
            items = sorted(emu.categories.values(), key=lambda c: c["id"])
            if q.get("name"):
                items = [c for c in items if c["name"] == q["name"]]
            if q.get("parent_id") not in (None, ""):
                items = [c for c in items if c["parent_id"] == int(q["parent_id"])]
            if q.get("id:in"):
                wanted = {int(x) for x in q["id:in"].split(",") if x.strip().isdigit()}
                items = [c for c in items if c["id"] in wanted]
            return v3_page(request, copy.deepcopy(items))

    @app.post(p + "/v3/catalog/categories")
    async def create_category(request: Request):
        body = await body_of(request)
        with emu._lock:
            return {"data": emu._add_category(body), "meta": {}}

    @app.get(p + "/v3/catalog/products/{pid}/variants/{vid}")
    async def get_variant(pid: int, vid: int):
        with emu._lock:
            emu._settle()
            variant = emu.variants.get(vid)
            if variant is None or variant["product_id"] != pid:
                raise BcError(404, "The requested variant was not found.")
            return {"data": emu._variant_view(variant), "meta": {}}

    # https://developer.bigcommerce.com/docs/rest-catalog/product-variants/metafields (§3.9)
    @app.get(p + "/v3/catalog/products/{pid}/variants/{vid}/metafields")
    async def variant_metafields(request: Request, pid: int, vid: int):
        q = request.query_params
        with emu._lock:
            return v3_page(request, emu._variant_metafields(pid, vid, q.get("namespace"), q.get("key")))

    @app.post(p + "/v3/catalog/products/{pid}/variants/{vid}/metafields")
    async def create_variant_metafield(request: Request, pid: int, vid: int):
        body = await body_of(request)
        with emu._lock:
            return {"data": emu._create_variant_metafield(pid, vid, body), "meta": {}}

    @app.put(p + "/v3/catalog/products/{pid}/variants/{vid}/metafields/{mid}")
    async def update_variant_metafield(request: Request, pid: int, vid: int, mid: int):
        body = await body_of(request)
        with emu._lock:
            return {"data": emu._update_variant_metafield(pid, vid, mid, body), "meta": {}}

    # https://developer.bigcommerce.com/docs/rest-catalog/product-variants/batch-metafields (§3.9)
    @app.get(p + "/v3/catalog/variants/metafields")
    async def all_variant_metafields(request: Request):
        q = request.query_params
        with emu._lock:
            return v3_page(request, emu._all_variant_metafields(q.get("namespace"), q.get("key")))

    @app.post(p + "/v3/catalog/variants/metafields")
    async def create_variant_metafields(request: Request):
        return batch_answer(await body_of(request), creating=True)

    @app.put(p + "/v3/catalog/variants/metafields")
    async def update_variant_metafields(request: Request):
        return batch_answer(await body_of(request), creating=False)

    def batch_answer(body: Any, creating: bool) -> JSONResponse:
        with emu._lock:
            written, errors = emu._batch_metafields(body, creating)
        meta = {"total": len(written) + len(errors), "success": len(written), "failed": len(errors)}
        for e in errors:
            e["type"] = ERROR_TYPE
        return JSONResponse({"data": written, "errors": errors, "meta": meta}, 422 if errors else 200)

    # https://developer.bigcommerce.com/docs/rest-catalog/product-variants#update-variants-batch
    @app.put(p + "/v3/catalog/variants")
    async def batch_variants(request: Request):
        body = await body_of(request)
        if not isinstance(body, list):
            raise BcError(422, "JSON data is missing or invalid")
        if len(body) > 50:  # §3.3
            raise BcError(413, "The request payload is too large. The maximum items allowed in the array is 50")
        with emu._lock:
            return {"data": [emu._update_variant(item) for item in body], "meta": {}}

    # ---- inventory -----------------------------------------------------------------------------

    # https://developer.bigcommerce.com/docs/rest-management/inventory/adjustments#absolute-adjustment
    @app.put(p + "/v3/inventory/adjustments/absolute")
    async def absolute_adjustment(request: Request):
        body = await body_of(request)
        with emu._lock:
            return emu._adjust(body, relative=False)

    # https://developer.bigcommerce.com/docs/rest-management/inventory/adjustments#relative-adjustment
    @app.post(p + "/v3/inventory/adjustments/relative")
    async def relative_adjustment(request: Request):
        body = await body_of(request)
        with emu._lock:
            return emu._adjust(body, relative=True)

    # https://developer.bigcommerce.com/docs/rest-management/inventory/items#get-inventory-at-locations
    @app.get(p + "/v3/inventory/items")
    async def inventory_items(request: Request):
        q = request.query_params
        wanted = {int(v) for v in q["variant_id:in"].split(",")} if q.get("variant_id:in") else None
        with emu._lock:
            return v3_page(request, emu._inventory_rows(None, wanted))

    # https://developer.bigcommerce.com/docs/rest-management/inventory/items#get-inventory-at-a-location
    @app.get(p + "/v3/inventory/locations/{location_id}/items")
    async def inventory_at(location_id: int, request: Request):
        q = request.query_params
        wanted = {int(v) for v in q["variant_id:in"].split(",")} if q.get("variant_id:in") else None
        with emu._lock:
            if location_id not in emu.locations:
                raise BcError(404, f"Location with id {location_id} not found")
            return v3_page(request, emu._inventory_rows(location_id, wanted))

    # https://developer.bigcommerce.com/docs/rest-management/inventory/locations#get-locations
    @app.get(p + "/v3/inventory/locations")
    async def list_locations(request: Request):
        with emu._lock:
            return v3_page(request, [copy.deepcopy(loc) for _, loc in sorted(emu.locations.items())])

    # ---- webhooks ------------------------------------------------------------------------------

    # https://developer.bigcommerce.com/docs/integrations/webhooks#create-a-webhook
    @app.post(p + "/v3/hooks")
    async def create_hook(request: Request):
        body = await body_of(request)
        with emu._lock:
            return {"data": emu._create_hook(body), "meta": {}}

    # https://developer.bigcommerce.com/docs/integrations/webhooks#get-webhooks
    @app.get(p + "/v3/hooks")
    async def list_hooks(request: Request):
        with emu._lock:
            return v3_page(request, [copy.deepcopy(h) for h in sorted(emu.hooks.values(), key=lambda h: h["id"])])

    @app.get(p + "/v3/hooks/{hid}")
    async def get_hook(hid: int):
        with emu._lock:
            hook = emu.hooks.get(hid)
            if hook is None:
                raise BcError(404, "Hook not found")
            return {"data": copy.deepcopy(hook), "meta": {}}

    # https://developer.bigcommerce.com/docs/integrations/webhooks#update-a-webhook
    @app.put(p + "/v3/hooks/{hid}")
    async def update_hook(hid: int, request: Request):
        body = await body_of(request) or {}
        with emu._lock:
            hook = emu.hooks.get(hid)
            if hook is None:
                raise BcError(404, "Hook not found")
            return {"data": emu._update_hook(hook, body), "meta": {}}

    @app.delete(p + "/v3/hooks/{hid}")
    async def delete_hook(hid: int):
        with emu._lock:
            hook = emu.hooks.pop(hid, None)
            if hook is None:
                raise BcError(404, "Hook not found")
            return {"data": hook, "meta": {}}

    # ---- orders (v2) ---------------------------------------------------------------------------

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
                bound = parse_date(q["min_date_modified"])
                items = [o for o in items if o["_modified"] >= bound]
            field, _, direction = (q.get("sort") or "id:asc").partition(":")
            keys = {"id": "id", "date_created": "id", "date_modified": "_modified", "status_id": "status_id"}
            if field not in keys:
                raise BcError(400, f"The field 'sort' is invalid: {field}")
            items.sort(key=lambda o: (o[keys[field]], o["id"]), reverse=direction == "desc")
            chunk = items[(page - 1) * limit: page * limit]
            if not chunk:
                if emu.empty_orders_204:
                    return Response(status_code=204)
                return JSONResponse([])
            return JSONResponse([emu._order_view(o) for o in chunk])

    # https://developer.bigcommerce.com/docs/rest-management/orders#get-a-count-of-orders
    @app.get(p + "/v2/orders/count")
    async def count_orders():
        with emu._lock:
            return emu.orders_count()

    # https://developer.bigcommerce.com/docs/rest-management/orders/order-status#get-all-order-statuses
    @app.get(p + "/v2/order_statuses")
    async def order_statuses():
        return emu.order_statuses()

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
                return Response(status_code=204)  # §3.5
            return JSONResponse(copy.deepcopy(shipments))

    # https://developer.bigcommerce.com/docs/rest-management/orders/order-shipments#create-order-shipment
    @app.post(p + "/v2/orders/{oid}/shipments")
    async def create_shipment(oid: int, request: Request):
        body = await body_of(request)
        with emu._lock:
            shipment = emu._create_shipment(order_or_404(oid), body)
            return JSONResponse(copy.deepcopy(shipment), 201)

    # https://developer.bigcommerce.com/docs/rest-management/orders/order-refunds
    @app.post(p + "/v3/orders/{oid}/payment_actions/refunds")
    async def create_refund(oid: int, request: Request):
        body = await body_of(request) or {}
        return JSONResponse(emu.refund_order(oid, body), 201)

    @app.get(p + "/v3/orders/{oid}/payment_actions/refunds")
    async def list_refunds(oid: int):
        data = emu.refunds_of(oid)
        return {"data": data, "meta": {"pagination": {"total": len(data), "count": len(data), "per_page": 50,
                                                      "current_page": 1, "total_pages": 1}}}

    @app.api_route(p + "/{version}/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
                   include_in_schema=False)
    async def no_route(version: str, rest: str, request: Request):
        # A path BigCommerce serves, asked with a method it does not take, is 405, not 404.
        scope = {"type": "http", "path": request.url.path, "method": request.method}
        if any(route.matches(scope)[0] == Match.PARTIAL for route in app.router.routes
               if getattr(route, "name", "") != "no_route"):
            raise BcError(405, "The requested method is not allowed for this resource.")
        raise BcError(404, NOT_FOUND_V2)

    # ---- control: no auth, not counted --------------------------------------------------------

    @app.post("/_control/orders")
    async def control_order(request: Request):
        body = await request.json()
        order = emu.create_order(body["lines"], currency=body.get("currency"),
                                 status_id=int(body.get("status_id", 11)),
                                 email=body.get("email", "shopper@example.com"))
        return JSONResponse(order, 201)

    add_common_controls(app, emu)

    @app.get("/_control/stock/{variant_id}")
    async def control_stock(variant_id: int):
        return {"inventory_level": emu.stock_of(variant_id)}

    @app.get("/_control/shipments/{oid}")
    async def control_shipments(oid: int):
        return emu.shipments_of(oid)

    app.add_middleware(Gate, emulator=emu)
    return app
