"""The WooCommerce emulator's HTTP surface: `/wp-json/wc/v3/...` (storefronts.md §2), the optional
Shipment Tracking extension's `/wp-json/wc-shipment-tracking/v3/...` (§2.5), and `/_control/...`.

Every API call passes one gate, in WordPress's order: the host's limiter or an injected fault (a bare 429,
§2.6: core has no limiter), then authentication (auth.py), then the route's permission check (401 for a
request without credentials, in the route's own words) and the key's read/write permission (403, §2.8).
Every error is in WooCommerce's envelope; paths, methods and ids that are no route are 404 `rest_no_route`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from dropbridge.sandbox.kit.controls import add_common_controls
from dropbridge.sandbox.kit.errors import install_error_envelope

from .errors import NO_ROUTE, WooError, as_json, error, routing_error
from .paging import API_PREFIX, paginate
from .shapes import now, wp_date

TRACKING_PREFIX = "/wp-json/wc-shipment-tracking/v3"

# WooCommerce's permission checks (wc_rest_check_post_permissions and friends), by route kind.
PERMISSION = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "get": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "update": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "delete": ("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource."),
    "batch": ("woocommerce_rest_cannot_batch", "Sorry, you are not allowed to batch manipulate this resource."),
}


class _Deny(Exception):
    def __init__(self, response: Response):
        super().__init__("denied")
        self.response = response


def _truthy(value: str | None) -> bool:
    return str(value).lower() in ("1", "true", "yes")


def build_app(emu: Any) -> FastAPI:
    # A global dependency, not an HTTP middleware: BaseHTTPMiddleware adds a delayed-ACK stall per call.
    async def gate(request: Request) -> None:
        path = request.url.path
        if not (path.startswith(API_PREFIX) or path.startswith(TRACKING_PREFIX)):
            return
        if path.startswith(TRACKING_PREFIX) and not emu.shipment_tracking_plugin:
            with emu._lock:
                emu.calls += 1
            raise _Deny(error(404, "rest_no_route", NO_ROUTE))
        limited = emu._host_limit()
        if limited is not None:
            raise _Deny(limited)
        form: dict[str, str] = {}
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl((await request.body()).decode(errors="replace")))
        try:
            key = emu.auth.authenticate(request.method, request.headers.get("host", ""), path,
                                        request.url.query, {k.lower(): v for k, v in request.headers.items()},
                                        form)
        except WooError as exc:
            raise _Deny(error(exc.status, exc.code, str(exc), **exc.data)) from None
        route = request.scope.get("route")
        kind = str(getattr(route, "name", "")).split("_", 1)[0]
        if kind not in PERMISSION or not all(str(v).isdigit() for v in request.path_params.values()):
            return  # not a route (WordPress matches ids as digits): the 404 answers
        if key is None:
            code, message = PERMISSION[kind]
            raise _Deny(error(401, code, message))
        if key.permissions == "read" and request.method not in ("GET", "HEAD"):
            raise _Deny(error(403, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create "
                              "resources."))  # §2.8: a read-only key writing

    app = FastAPI(title="WooCommerce emulator", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(gate)])
    # WordPress answers a method a route does not take as no route at all.
    install_error_envelope(app, routing_error, method_not_allowed=404)

    @app.exception_handler(_Deny)
    async def deny(request: Request, exc: _Deny):
        return exc.response

    @app.exception_handler(WooError)
    async def woo_error(request: Request, exc: WooError):
        return error(exc.status, exc.code, str(exc), **exc.data)

    async def body_of(request: Request) -> Any:
        raw = await request.body()
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.") from None

    def base(request: Request) -> str:
        return str(request.base_url)

    def product_or_404(pid: int, variation_of: int | None = None) -> dict[str, Any]:
        p = emu.products.get(pid)
        if variation_of is None:
            if p is None or p["type"] == "variation":
                raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        elif p is None or p["parent_id"] != variation_of:
            raise WooError(404, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
        return p

    def order_or_404(oid: int) -> dict[str, Any]:
        order = emu.orders.get(oid)
        if order is None:
            raise WooError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return order

    def hook_or_404(hid: int) -> dict[str, Any]:
        hook = emu.webhooks.get(hid)
        if hook is None:
            raise WooError(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
        return hook

    p = API_PREFIX

    # ---- products ------------------------------------------------------------------------------

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-products
    @app.get(p + "/products")
    async def list_products(request: Request):
        q = request.query_params
        with emu._lock:
            items = [x for x in emu.products.values() if x["type"] != "variation" and x["status"] != "trash"]
            if q.get("sku"):
                wanted = {s.strip().lower() for s in q["sku"].split(",")}
                items = [x for x in emu.products.values() if x["sku"].lower() in wanted and x["status"] != "trash"]
            if q.get("type"):
                items = [x for x in items if x["type"] == q["type"]]
            if q.get("status") and q["status"] != "any":
                items = [x for x in items if x["status"] == q["status"]]
            items = sorted(items, key=lambda x: x["id"], reverse=q.get("order", "desc") == "desc")
            return paginate(request, [emu._product_view(x, base(request)) for x in items], "/products")

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#create-a-product
    @app.post(p + "/products")
    async def create_product(request: Request):
        body = await body_of(request)
        with emu._lock:
            if not isinstance(body, dict) or not body.get("name"):
                raise WooError(400, "rest_missing_callback_param", "Missing parameter(s): name", params=["name"])
            product = emu._new_product(body)
            emu._trigger("product", "created", product["id"])
            return as_json(emu._product_view(product, base(request)), 201)

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#batch-update-products
    @app.post(p + "/products/batch")
    async def batch_products(request: Request):
        body = await body_of(request)
        with emu._lock:
            return as_json(emu._batch(body, None))

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-product-categories (before /products/{pid})
    @app.get(p + "/products/categories")
    async def list_categories(request: Request):
        q = request.query_params
        with emu._lock:
            items = sorted(emu.categories.values(), key=lambda c: c["id"])
            if q.get("search"):
                items = [c for c in items if q["search"].casefold() in c["name"].casefold()]
            if q.get("parent") not in (None, ""):
                items = [c for c in items if c.get("parent", 0) == int(q["parent"])]
            return paginate(request, [emu._category_view(c) for c in items], "/products/categories")

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#create-a-product-category
    @app.post(p + "/products/categories")
    async def create_category(request: Request):
        body = await body_of(request)
        with emu._lock:
            if not isinstance(body, dict) or not str(body.get("name") or "").strip():
                raise WooError(400, "rest_missing_callback_param", "Missing parameter(s): name", params=["name"])
            return as_json(emu._category_view(emu._new_category(str(body["name"]).strip(),
                                                                int(body.get("parent") or 0))), 201)

    @app.get(p + "/products/{pid}")
    async def get_product(pid: int, request: Request):
        with emu._lock:
            x = emu.products.get(pid)  # variations are readable here too
            if x is None:
                raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
            return as_json(emu._product_view(x, base(request)))

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#update-a-product
    @app.put(p + "/products/{pid}")
    async def update_product(pid: int, request: Request):
        body = await body_of(request)
        with emu._lock:
            x = product_or_404(pid)
            emu._apply_product_fields(x, body)
            emu._trigger("product", "updated", pid)
            return as_json(emu._product_view(x, base(request)))

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#delete-a-product
    @app.delete(p + "/products/{pid}")
    async def delete_product(pid: int, request: Request):
        with emu._lock:
            x = product_or_404(pid)
            return as_json(emu._product_view(emu._delete_product(x, _truthy(request.query_params.get("force"))),
                                             base(request)))

    @app.get(p + "/products/{pid}/variations")
    async def list_variations(pid: int, request: Request):
        with emu._lock:
            parent = product_or_404(pid)
            items = [emu._product_view(emu.products[v], base(request)) for v in parent["variations"]
                     if v in emu.products]
            return paginate(request, items, f"/products/{pid}/variations")

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#create-a-product-variation
    @app.post(p + "/products/{pid}/variations")
    async def create_variation(pid: int, request: Request):
        body = await body_of(request)
        with emu._lock:
            parent = product_or_404(pid)
            variation = emu._new_product(body, parent)
            emu._trigger("product", "updated", pid)
            return as_json(emu._product_view(variation, base(request)), 201)

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#batch-update-product-variations
    @app.post(p + "/products/{pid}/variations/batch")
    async def batch_variations(pid: int, request: Request):
        body = await body_of(request)
        with emu._lock:
            parent = product_or_404(pid)
            return as_json(emu._batch(body, parent))

    @app.get(p + "/products/{pid}/variations/{vid}")
    async def get_variation(pid: int, vid: int, request: Request):
        with emu._lock:
            return as_json(emu._product_view(product_or_404(vid, variation_of=pid), base(request)))

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#update-a-product-variation
    @app.put(p + "/products/{pid}/variations/{vid}")
    async def update_variation(pid: int, vid: int, request: Request):
        body = await body_of(request)
        with emu._lock:
            v = product_or_404(vid, variation_of=pid)
            emu._apply_product_fields(v, body)
            emu._trigger("product", "updated", pid)
            return as_json(emu._product_view(v, base(request)))

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#delete-a-product-variation
    @app.delete(p + "/products/{pid}/variations/{vid}")
    async def delete_variation(pid: int, vid: int, request: Request):
        with emu._lock:
            v = product_or_404(vid, variation_of=pid)
            force = _truthy(request.query_params.get("force"))
            return as_json(emu._product_view(emu._delete_product(v, force), base(request)))

    # ---- orders --------------------------------------------------------------------------------

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-orders
    @app.get(p + "/orders")
    async def list_orders(request: Request):
        q = request.query_params
        with emu._lock:
            items = [o for o in emu.orders.values() if o["status"] != "trash"]
            if q.get("status") and q["status"] != "any":
                wanted = set(q["status"].split(","))
                items = [o for o in emu.orders.values() if o["status"] in wanted]
            for name, field in (("modified_after", "date_modified_gmt"), ("after", "date_created_gmt")):
                if q.get(name):
                    bound = q[name][:19]
                    items = [o for o in items if o[field] > bound]
            orderby = q.get("orderby", "date")
            keyname = {"id": "id", "date": "date_created_gmt", "modified": "date_modified_gmt"}.get(orderby)
            if keyname is None:
                raise WooError(400, "rest_invalid_param", "Invalid parameter(s): orderby",
                               params={"orderby": "orderby is not one of date, id, include, title, slug, "
                                                  "modified."})
            items.sort(key=lambda o: (o[keyname], o["id"]), reverse=q.get("order", "desc") == "desc")
            return paginate(request, [emu._order_view(o, base(request)) for o in items], "/orders")

    @app.get(p + "/orders/{oid}")
    async def get_order(oid: int, request: Request):
        with emu._lock:
            return as_json(emu._order_view(order_or_404(oid), base(request)))

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#update-an-order
    @app.put(p + "/orders/{oid}")
    async def update_order(oid: int, request: Request):
        body = await body_of(request)
        with emu._lock:
            order = order_or_404(oid)
            emu._update_order(order, body if isinstance(body, dict) else {})
            emu._trigger("order", "updated", oid)
            return as_json(emu._order_view(order, base(request)))

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#delete-an-order
    @app.delete(p + "/orders/{oid}")
    async def delete_order(oid: int, request: Request):
        with emu._lock:
            order = order_or_404(oid)
            if _truthy(request.query_params.get("force")):
                emu.orders.pop(oid)
            else:
                order["status"] = "trash"
            emu._trigger("order", "deleted", oid)
            return as_json(emu._order_view(order, base(request)))

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#order-refunds
    @app.post(p + "/orders/{oid}/refunds")
    async def create_refund(oid: int, request: Request):
        body = await body_of(request)
        try:
            return as_json(emu.refund_order(oid, body if isinstance(body, dict) else {}), 201)
        except WooError as exc:
            return error(exc.status, exc.code, str(exc))

    @app.get(p + "/orders/{oid}/refunds")
    async def list_refunds(oid: int, request: Request):
        with emu._lock:
            order_or_404(oid)
            return paginate(request, copy.deepcopy(emu.refunds.get(oid, [])), f"/orders/{oid}/refunds")

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#create-an-order-note
    @app.post(p + "/orders/{oid}/notes")
    async def create_note(oid: int, request: Request):
        body = await body_of(request)
        with emu._lock:
            order_or_404(oid)
            if not isinstance(body, dict) or not body.get("note"):
                raise WooError(400, "rest_missing_callback_param", "Missing parameter(s): note", params=["note"])
            emu._note_seq += 1
            stamp = wp_date(now())
            note = {"id": emu._note_seq, "author": "WooCommerce", "date_created": stamp, "date_created_gmt": stamp,
                    "note": str(body["note"]), "customer_note": bool(body.get("customer_note", False)),
                    "added_by_user": False}
            emu.notes[oid].append(note)
            if note["customer_note"]:
                emu._email(oid, "customer_note", note["note"])
            api = f"{base(request).rstrip('/')}{API_PREFIX}"
            view = dict(note, _links={"self": [{"href": f"{api}/orders/{oid}/notes/{note['id']}"}],
                                      "collection": [{"href": f"{api}/orders/{oid}/notes"}],
                                      "up": [{"href": f"{api}/orders/{oid}"}]})
            return as_json(view, 201)

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
            return as_json(list(reversed(notes)))

    # https://woocommerce.com/document/shipment-tracking/shipment-tracking-rest-api-create-tracking-item/
    @app.post(TRACKING_PREFIX + "/orders/{oid}/shipment-trackings")
    async def create_tracking(oid: int, request: Request):
        body = await body_of(request)
        with emu._lock:
            order = order_or_404(oid)
            if not isinstance(body, dict) or not body.get("tracking_number"):
                raise WooError(400, "woocommerce_rest_missing_tracking_number", "Missing tracking number.")
            provider = body.get("tracking_provider", "")
            item = {
                "tracking_provider": provider if not body.get("custom_tracking_provider") else "",
                "custom_tracking_provider": body.get("custom_tracking_provider", ""),
                "custom_tracking_link": body.get("custom_tracking_link", ""),
                "tracking_number": str(body["tracking_number"]),
                "date_shipped": body.get("date_shipped", now().strftime("%Y-%m-%d")),
                "tracking_id": hashlib.md5(f"{oid}{time.time_ns()}".encode()).hexdigest(),
            }
            emu._add_tracking(order, item)
            link = item["custom_tracking_link"] or (
                f"https://tracking.example/{provider.lower()}/%1$s" if provider else "")
            out = dict(item)
            out["tracking_link"] = link.replace("%1$s", item["tracking_number"]) if link else ""
            return as_json(out, 201)

    @app.get(TRACKING_PREFIX + "/orders/{oid}/shipment-trackings")
    async def list_trackings(oid: int):
        with emu._lock:
            order_or_404(oid)
            return as_json(emu.tracking_items(oid))

    # ---- webhooks ------------------------------------------------------------------------------

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#create-a-webhook
    @app.post(p + "/webhooks")
    async def create_webhook(request: Request):
        body = await body_of(request)
        with emu._lock:
            hook = emu._create_webhook(body if isinstance(body, dict) else {})
            return as_json(emu._hook_view(hook, base(request)), 201)

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-webhooks
    @app.get(p + "/webhooks")
    async def list_webhooks(request: Request):
        with emu._lock:
            hooks = [emu._hook_view(h, base(request)) for h in sorted(emu.webhooks.values(), key=lambda h: h["id"])]
            wanted = request.query_params.get("status", "all")
            if wanted != "all":
                hooks = [h for h in hooks if h["status"] == wanted]
            return paginate(request, hooks, "/webhooks")

    @app.get(p + "/webhooks/{hid}")
    async def get_webhook(hid: int, request: Request):
        with emu._lock:
            return as_json(emu._hook_view(hook_or_404(hid), base(request)))

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#update-a-webhook
    @app.put(p + "/webhooks/{hid}")
    async def update_webhook(hid: int, request: Request):
        body = await body_of(request)
        with emu._lock:
            hook = hook_or_404(hid)
            emu._update_webhook(hook, body if isinstance(body, dict) else {})
            return as_json(emu._hook_view(hook, base(request)))

    # https://woocommerce.github.io/woocommerce-rest-api-docs/#delete-a-webhook
    @app.delete(p + "/webhooks/{hid}")
    async def delete_webhook(hid: int, request: Request):
        with emu._lock:
            force = _truthy(request.query_params.get("force"))
            return as_json(emu._hook_view(emu._delete_webhook(hid, force), base(request)))

    @app.api_route(p + "/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
    async def no_route(rest: str):
        return error(404, "rest_no_route", NO_ROUTE)

    @app.api_route("/wp-json/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
                   include_in_schema=False)
    async def no_route_elsewhere(rest: str):
        return error(404, "rest_no_route", NO_ROUTE)

    # ---- control (tests, demo): no auth, not counted --------------------------------------------

    @app.post("/_control/orders")
    async def control_order(request: Request):
        body = await request.json()
        try:
            order = emu.create_order(
                body["lines"], currency=body.get("currency"), status=body.get("status", "processing"),
                email=body.get("email", "shopper@example.com"), shipping=body.get("shipping"),
                shipping_total=body.get("shipping_total", "0.00"))
        except WooError as exc:
            return error(exc.status, exc.code, str(exc))
        return as_json(order, 201)

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
