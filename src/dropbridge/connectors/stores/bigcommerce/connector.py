"""BigCommerce (v2 Orders, v3 Catalog/Inventory/Webhooks) as a `Storefront`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

from dropbridge.domain.errors import ConfigurationError, PermanentError
from dropbridge.services.ports import (
    DeliveryUpdate,
    ExternalOrder,
    Fulfillment,
    InboundEvent,
    LiveProduct,
    Page,
    PriceUpdate,
    ProductDraft,
    PublishedProduct,
    PushResult,
    StockUpdate,
    VariantChanges,
)

from . import client as api
from . import mapping, webhooks
from .client import BigCommerceClient

INVENTORY_BATCH_LIMIT = 2000  # items per absolute adjustment
VARIANT_BATCH_LIMIT = 50  # variants per PUT /v3/catalog/variants (413 beyond)
V2_MAX_LIMIT = 250
V3_MAX_LIMIT = 250  # items per page of a v3 listing (§3.7)
METAFIELD_BATCH_LIMIT = 50  # items per batch metafield write: BigCommerce states none; 50 as its variant batch
ORDER_SCOPES = ("store/order/created", "store/order/statusUpdated", "store/order/refund/created")


class BigCommerceStore:
    platform = "bigcommerce"

    def __init__(
        self,
        client: BigCommerceClient,
        client_secret: str,
        store_hash: str,
        *,
        page_size: int = 50,
        batch_limit: int = INVENTORY_BATCH_LIMIT,
        location_id: int = 1,
        product_weight: Decimal = Decimal(0),
        categories: list[int] | None = None,
        webhook_tolerance: timedelta = webhooks.DEFAULT_TOLERANCE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        if not 1 <= page_size <= V2_MAX_LIMIT:
            raise ConfigurationError(f"page_size must be 1..{V2_MAX_LIMIT}")
        self.client = client
        self.client_secret = client_secret
        self.store_hash = store_hash
        self.page_size = page_size
        self.batch_limit = batch_limit
        self.location_id = location_id
        self.product_weight = product_weight
        self.categories = list(categories or [])
        self.webhook_tolerance = webhook_tolerance
        self.clock = clock

    def close(self) -> None:
        self.client.close()

    # ---- inbound -----------------------------------------------------------------------------

    def webhook_body_limit(self, headers: Mapping[str, str]) -> int | None:
        webhooks.precheck(headers)
        return None

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> InboundEvent:
        return webhooks.verify(
            headers,
            raw_body,
            self.client_secret,
            store_hash=self.store_hash,
            tolerance=self.webhook_tolerance,
            now=self.clock,
        )

    def order_from_event(self, event: InboundEvent) -> ExternalOrder | None:
        """Payloads are thin: fetch the order, its lines and shipping addresses. Incomplete orders
        (status 0, e.g. a failed payment) also fire store/order/created; they are not orders yet."""
        payload = event.payload if isinstance(event.payload, dict) else {}
        data = payload.get("data") or {}
        if not event.topic.startswith("store/order/") or data.get("type") != "order" or not data.get("id"):
            return None
        if event.topic == "store/order/archived":
            return None
        order = self.client.get(api.ORDER.format(order_id=data["id"]), what="bigcommerce get order")
        if order is None or int(order.get("status_id", 0)) == mapping.INCOMPLETE:
            return None
        return self._complete(order)

    def _complete(self, order: dict[str, Any]) -> ExternalOrder:
        oid = order["id"]
        products = self.client.get(api.ORDER_PRODUCTS.format(order_id=oid), what="bigcommerce order products")
        addresses = self.client.get(api.ORDER_ADDRESSES.format(order_id=oid), what="bigcommerce order addresses")
        ext = mapping.order_from_bc(order, products or [], addresses or [])
        if mapping._dec(order.get("refunded_amount")) > 0:
            # store/order/refund/created (and the status change to Partially Refunded) name no amounts: the
            # refunds are read from the order's payment actions.
            data = self.client.get(api.ORDER_REFUNDS.format(order_id=oid), what="bigcommerce order refunds")
            ext = dataclasses.replace(ext, refunds=tuple(
                mapping.refund_from_bc(r, products or [], ext.currency) for r in (data or {}).get("data") or []))
        return ext

    def fetch_orders(self, cursor: str | None = None, since: datetime | None = None) -> Page[ExternalOrder]:
        """v2 pages are bare arrays without totals: a short page (or 204) is the last."""
        if cursor:
            params: dict[str, Any] = dict(parse_qsl(cursor))
        else:
            params = {"page": 1, "limit": self.page_size, "sort": "id:asc"}
            if since is not None:
                params["min_date_modified"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        rows = self.client.get(api.ORDERS, what="bigcommerce list orders", params=params) or []
        orders = [self._complete(o) for o in rows if int(o.get("status_id", 0)) != mapping.INCOMPLETE]
        next_cursor = None
        if len(rows) >= int(params["limit"]):
            next_cursor = urlencode({**params, "page": int(params["page"]) + 1})
        return Page(orders, next_cursor)

    # ---- stock -------------------------------------------------------------------------------

    def push_stock(self, updates: list[StockUpdate], idempotency_key: str) -> PushResult:
        """Absolute adjustments, up to 2000 items per call, sent one after another (BigCommerce asks
        that they not run in parallel). They apply asynchronously; repeating one is harmless. A 422
        rejects the whole call: its items are reported failed and the other calls still go."""
        calls = applied = 0
        failed: list[tuple[str, str]] = []
        for start in range(0, len(updates), self.batch_limit):
            chunk = updates[start : start + self.batch_limit]
            body = {
                "reason": f"dropbridge stock sync {idempotency_key}"[:255],
                "items": [mapping.inventory_item(u, self.location_id) for u in chunk],
            }
            calls += 1
            try:
                self.client.put(api.INVENTORY_ABSOLUTE, body, what="bigcommerce inventory adjustment")
            except PermanentError as exc:
                if exc.status != 422:
                    raise
                failed.extend((u.external_variant_id, str(exc)) for u in chunk)
                continue
            applied += len(chunk)
        return PushResult(calls=calls, applied=applied, failed=failed)

    # ---- prices ------------------------------------------------------------------------------

    def push_prices(self, updates: list[PriceUpdate], idempotency_key: str) -> PushResult:
        """`price` and `retail_price` (the "was" price) through the variant batch, 50 a call, one call after
        another within the store's request quota (the client paces them). Absolute values: a repeat is
        harmless. A 422 or 404 refuses the whole call: its variants are reported failed, the rest still go."""
        calls = applied = 0
        failed: list[tuple[str, str]] = []
        for start in range(0, len(updates), VARIANT_BATCH_LIMIT):
            chunk = updates[start : start + VARIANT_BATCH_LIMIT]
            calls += 1
            try:
                self.client.put(api.VARIANTS_BATCH, [mapping.price_item(u) for u in chunk],
                                what="bigcommerce variant prices")
            except PermanentError as exc:
                if exc.status not in (404, 422):
                    raise
                failed.extend((u.external_variant_id, str(exc)) for u in chunk)
                continue
            applied += len(chunk)
        return PushResult(calls=calls, applied=applied, failed=failed)

    def push_delivery(self, updates: list[DeliveryUpdate], idempotency_key: str) -> PushResult:
        """Each variant's `dropbridge.delivery_days` metafield, through the batch endpoints (§3.9): the fields
        that exist are found by namespace and key, then updated by id and the rest created, 50 a call. A batch
        writes its good items and names the rest (422, partial success): those are sent again one by one, so
        a 404/409/422 fails that variant only."""
        before = self.client.calls
        failed = [(u.external_variant_id, "no product id: the listing was never published here")
                  for u in updates if not u.external_product_id]
        updates = [u for u in updates if u.external_product_id]
        existing = self._delivery_fields(updates)
        applied = 0
        for found in (True, False):
            todo = [u for u in updates if (u.external_variant_id in existing) == found]
            for start in range(0, len(todo), METAFIELD_BATCH_LIMIT):
                chunk = todo[start : start + METAFIELD_BATCH_LIMIT]
                if found:
                    method, what = "PUT", "bigcommerce update variant metafields"
                    items = [{"id": existing[u.external_variant_id], "value": u.value} for u in chunk]
                else:
                    method, what = "POST", "bigcommerce create variant metafields"
                    items = [{**mapping.delivery_metafield(u), "resource_id": int(u.external_variant_id)}
                             for u in chunk]
                answer = self.client.request(method, api.VARIANTS_METAFIELDS, what=what, json_body=items,
                                             accept=(422,))
                written = {str(m.get("resource_id")) for m in (answer.json().get("data") or [])}
                applied += sum(u.external_variant_id in written for u in chunk)
                for u in chunk:
                    if u.external_variant_id in written:
                        continue
                    try:
                        self._push_one_delivery(u)
                        applied += 1
                    except PermanentError as exc:
                        if exc.status not in (404, 409, 422):
                            raise
                        failed.append((u.external_variant_id, str(exc)))
        return PushResult(calls=self.client.calls - before, applied=applied, failed=failed)

    def _delivery_fields(self, updates: list[DeliveryUpdate]) -> dict[str, int]:
        """{variant id: metafield id} of the delivery fields these variants have: from the store's whole listing
        of them (250 a page), unless asking per variant takes fewer calls."""
        if not updates:
            return {}
        params = {"namespace": mapping.DELIVERY_NAMESPACE, "key": mapping.DELIVERY_KEY, "limit": V3_MAX_LIMIT,
                  "include_fields": "resource_id"}
        body = self.client.get(api.VARIANTS_METAFIELDS, what="bigcommerce variant metafields",
                               params={**params, "page": 1})
        pages = int(((body.get("meta") or {}).get("pagination") or {}).get("total_pages") or 1)
        wanted = {u.external_variant_id for u in updates}
        if pages - 1 > len(updates):
            found = {}
            for u in updates:
                try:
                    rows = self._variant_delivery_fields(u)
                except PermanentError as exc:
                    if exc.status != 404:
                        raise
                    continue  # no such variant: the batch write refuses it and says why
                if rows:
                    found[u.external_variant_id] = rows[0]["id"]
            return found
        rows = list(body.get("data") or [])
        for page in range(2, pages + 1):
            rows += self.client.get(api.VARIANTS_METAFIELDS, what="bigcommerce variant metafields",
                                    params={**params, "page": page}).get("data") or []
        return {str(r["resource_id"]): r["id"] for r in rows if str(r["resource_id"]) in wanted}

    def _variant_delivery_fields(self, u: DeliveryUpdate) -> list[dict]:
        where = {"product_id": u.external_product_id, "variant_id": u.external_variant_id}
        found = self.client.get(api.VARIANT_METAFIELDS.format(**where), what="bigcommerce variant metafields",
                                params={"namespace": mapping.DELIVERY_NAMESPACE, "key": mapping.DELIVERY_KEY})
        return (found or {}).get("data") or []

    def _push_one_delivery(self, u: DeliveryUpdate) -> None:
        """One variant's field on its own endpoints: looked up, then updated or created."""
        where = {"product_id": u.external_product_id, "variant_id": u.external_variant_id}
        rows = self._variant_delivery_fields(u)
        if rows:
            self.client.put(api.VARIANT_METAFIELD.format(**where, metafield_id=rows[0]["id"]), {"value": u.value},
                            what="bigcommerce update variant metafield")
        else:
            self.client.post(api.VARIANT_METAFIELDS.format(**where), mapping.delivery_metafield(u),
                             what="bigcommerce create variant metafield")

    # ---- fulfillment -------------------------------------------------------------------------

    def push_fulfillment(self, fulfillment: Fulfillment, idempotency_key: str) -> str:
        """A v2 shipment (BigCommerce emails the customer per the store's settings; the API has no
        switch, so `notify_customer=False` cannot be honoured). No idempotency keys either: a shipment
        with the same tracking number and items already on the order is the earlier attempt."""
        oid = fulfillment.order_external_id
        addresses = self.client.get(api.ORDER_ADDRESSES.format(order_id=oid), what="bigcommerce order addresses")
        if not addresses:
            raise PermanentError(f"bigcommerce order {oid} has no shipping address")
        if fulfillment.lines:
            items = [
                {"order_product_id": int(line.external_line_id), "quantity": line.quantity}
                for line in fulfillment.lines
            ]
        else:
            products = self.client.get(api.ORDER_PRODUCTS.format(order_id=oid), what="bigcommerce order products")
            items = mapping.remaining_items(products or [])
        shipments = self.client.get(api.ORDER_SHIPMENTS.format(order_id=oid), what="bigcommerce list shipments")
        for shipment in shipments or []:
            if fulfillment.lines and mapping.same_shipment(shipment, fulfillment.tracking_number, items):
                return str(shipment["id"])
            if not fulfillment.lines and shipment.get("tracking_number") == fulfillment.tracking_number:
                return str(shipment["id"])
        if not items:
            raise PermanentError(f"bigcommerce order {oid} has nothing left to ship")
        address_id = int(addresses[0]["id"])
        if fulfillment.lines:
            line_ids = {i["order_product_id"] for i in items}
            products = self.client.get(api.ORDER_PRODUCTS.format(order_id=oid), what="bigcommerce order products")
            for p in products or []:
                if int(p["id"]) in line_ids and p.get("order_address_id"):
                    address_id = int(p["order_address_id"])
                    break
        created = self.client.post(
            api.ORDER_SHIPMENTS.format(order_id=oid),
            mapping.shipment_body(fulfillment, address_id, items),
            what="bigcommerce create shipment",
        )
        return str(created["id"])

    # ---- catalog -----------------------------------------------------------------------------

    def publish_product(self, product: ProductDraft, idempotency_key: str) -> PublishedProduct:
        """One product with inline variants. SKUs are unique, so a repeat finds the earlier product."""
        if not product.variants:
            raise PermanentError(f"product {product.sku} has no variants")
        simple = mapping.is_simple(product)
        lookup = product.variants[0].sku if simple else product.sku
        found = self.client.get(
            api.PRODUCTS, what="bigcommerce find product", params={"sku": lookup, "include": "variants"}
        )
        rows = (found or {}).get("data") or []
        if rows:
            data = rows[0]
        else:
            categories = list(self.categories)
            if product.category:
                categories = list(dict.fromkeys([*categories, *self._category_ids(product.category)]))
            body = mapping.product_body(
                product, weight=self.product_weight, categories=categories, idempotency_key=idempotency_key
            )
            if product.image_files:  # uploaded below (multipart `image_file`, §3.4), not fetched by URL
                body["images"] = []
            data = self.client.post(api.PRODUCTS, body, what="bigcommerce create product")["data"]
            self._upload_images(str(data["id"]), product)
        pid = str(data["id"])
        variants = data.get("variants") or []
        if simple:
            sku = product.variants[0].sku
            base = str(data.get("base_variant_id") or variants[0]["id"])
            return PublishedProduct(pid, {sku: base}, {sku: pid})
        by_sku = {str(v.get("sku", "")).lower(): str(v["id"]) for v in variants}
        missing = [v for v in product.variants if v.sku.lower() not in by_sku]
        if missing:  # an earlier product with some of them: the others are added beside the live ones
            added = self.apply_variant_changes(VariantChanges(pid, product, add=missing), idempotency_key)
            by_sku.update({sku.lower(): vid for sku, vid in added.items()})
        return PublishedProduct(pid, {v.sku: by_sku[v.sku.lower()] for v in product.variants})

    # ---- variants follow the supplier --------------------------------------------------------

    def read_product(self, external_product_id: str) -> LiveProduct | None:
        try:
            data = self.client.get(api.PRODUCT.format(product_id=int(external_product_id)),
                                   what="bigcommerce get product", params={"include": "variants"})
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise
        if not data or not data.get("data"):
            return None
        names: list[str] = []
        ids = [int(c) for c in data["data"].get("categories") or []]
        if ids:
            found = self.client.get(api.CATEGORIES, what="bigcommerce product categories",
                                    params={"id:in": ",".join(map(str, ids)), "limit": 250})
            names = [str(c.get("name")) for c in (found or {}).get("data") or []]
        return mapping.live_product(data["data"], names)

    def apply_variant_changes(self, changes: VariantChanges, idempotency_key: str) -> dict[str, str]:
        """The product (name, categories, is_visible), then option values the new variants need (created on
        the product's options: a variant names existing option and value ids, §3.4), renamed values (the value's
        label changed in place, which every variant using it shows), new variants one per call, and dropped or
        returning variants through the variant batch (`purchasing_disabled`, 50 a call). Nothing is deleted.
        No idempotency keys: SKUs are unique, so a repeated create is refused (409) and the next run finds the
        variant by SKU."""
        pid = int(changes.external_product_id)
        product: dict[str, Any] = {}
        if changes.retitle:
            product["name"] = changes.product.title
        if changes.recategorize and changes.product.category:
            mapped = self._category_ids(changes.product.category)
            product["categories"] = list(dict.fromkeys([*self.categories, *mapped]))
        if changes.retire_product:
            product["is_visible"] = False
        elif changes.restore_product:
            product["is_visible"] = True
        if product:
            self.client.put(api.PRODUCT.format(product_id=pid), product, what="bigcommerce update product")
        added: dict[str, str] = {}
        if changes.add or changes.rename:
            options = self._options(pid)
            if changes.rename:
                current = self.client.get(api.PRODUCT.format(product_id=pid), what="bigcommerce get product",
                                          params={"include": "variants"})["data"]
                for option_id, value_id, label in mapping.value_renames(current.get("variants") or [], options,
                                                                        changes.rename):
                    self.client.put(api.OPTION_VALUE.format(product_id=pid, option_id=option_id, value_id=value_id),
                                    {"label": label}, what="bigcommerce rename option value")
                options = self._options(pid)
            for draft in changes.add:
                refs = []
                for name, label in draft.options.items():
                    option = next((o for o in options if o["display_name"] == name), None)
                    if option is None:
                        option = self.client.post(api.PRODUCT_OPTIONS.format(product_id=pid),
                                                  {"display_name": name, "type": "dropdown",
                                                   "option_values": [{"label": label, "sort_order": 0}]},
                                                  what="bigcommerce create option")["data"]
                        options.append(option)
                    value = next((v for v in option["option_values"] if v["label"] == label), None)
                    if value is None:
                        value = self.client.post(api.OPTION_VALUES.format(product_id=pid, option_id=option["id"]),
                                                 {"label": label, "sort_order": len(option["option_values"])},
                                                 what="bigcommerce create option value")["data"]
                        option["option_values"].append(value)
                    refs.append({"id": value["id"], "option_id": option["id"]})
                created = self.client.post(api.PRODUCT_VARIANTS.format(product_id=pid),
                                           mapping.new_variant_body(draft, refs), what="bigcommerce create variant")
                added[draft.sku] = str(created["data"]["id"])
        items = [mapping.purchasable_item(vid, False) for vid in changes.retire]
        items += [mapping.purchasable_item(vid, True) for vid in changes.restore]
        for start in range(0, len(items), VARIANT_BATCH_LIMIT):
            self.client.put(api.VARIANTS_BATCH, items[start:start + VARIANT_BATCH_LIMIT],
                            what="bigcommerce variants on/off sale")
        return added

    def _upload_images(self, pid: str, product: ProductDraft) -> None:
        """The processed images through BigCommerce's own upload path: one multipart `image_file` per call
        (storefronts.md §3.4), the first the thumbnail."""
        for i, image in enumerate(product.image_files):
            path = api.PRODUCT_IMAGES.format(product_id=int(pid))
            created = self.client.upload(path, "image_file", image.name, image.read(), image.content_type,
                                         what="bigcommerce upload image")["data"]
            if i == 0 and not created.get("is_thumbnail"):
                self.client.put(f"{path}/{created['id']}", {"is_thumbnail": True, "sort_order": 0},
                                what="bigcommerce image thumbnail")

    def _options(self, pid: int) -> list[dict[str, Any]]:
        found = self.client.get(api.PRODUCT_OPTIONS.format(product_id=pid), what="bigcommerce product options",
                                params={"limit": 250})
        return list((found or {}).get("data") or [])

    def _category_ids(self, category: str) -> list[int]:
        """Our category path ("Apparel > Tees") as BigCommerce categories, each created when missing; the leaf's
        id is what the product is filed under."""
        parent = 0
        for name in mapping.category_path(category):
            found = self.client.get(api.CATEGORIES, what="bigcommerce find category",
                                    params={"name": name, "parent_id": parent})
            rows = (found or {}).get("data") or []
            if rows:
                parent = int(rows[0]["id"])
            else:
                parent = int(self.client.post(api.CATEGORIES, {"name": name, "parent_id": parent},
                                              what="bigcommerce create category")["data"]["id"])
        return [parent] if parent else []

    # ---- setup -------------------------------------------------------------------------------

    def subscribe_webhooks(self, uri: str) -> list[str]:
        """Order hooks to `uri` (BigCommerce requires HTTPS on 443 in production); re-activates hooks
        BigCommerce deactivated after failed retries."""
        existing: list[dict[str, Any]] = []
        page = 1
        while True:
            found = self.client.get(api.HOOKS, what="bigcommerce list hooks", params={"page": page, "limit": 250})
            existing.extend((found or {}).get("data") or [])
            pagination = ((found or {}).get("meta") or {}).get("pagination") or {}
            if page >= int(pagination.get("total_pages") or 1):
                break
            page += 1
        ids = []
        for scope in ORDER_SCOPES:
            hook = next((h for h in existing if h.get("scope") == scope and h.get("destination") == uri), None)
            if hook is None:
                hook = self.client.post(
                    api.HOOKS,
                    {"scope": scope, "destination": uri, "is_active": True},
                    what="bigcommerce create hook",
                )["data"]
            elif not hook.get("is_active"):
                hook = self.client.put(
                    api.HOOK.format(hook_id=hook["id"]), {"is_active": True}, what="bigcommerce re-activate hook"
                )["data"]
            ids.append(str(hook["id"]))
        return ids


def from_config(base_url: str, credentials: Mapping[str, str], config: Mapping[str, Any]) -> BigCommerceStore:
    """Credentials {"access_token", "client_secret"}; config {"store_hash"} plus, optionally, "page_size",
    "batch_limit", "location_id", "product_weight", "categories", "webhook_tolerance_seconds", "timeout",
    "max_attempts", "max_wait", "backoff_base". `base_url` defaults to https://api.bigcommerce.com."""
    try:
        token = credentials["access_token"]
        store_hash = config["store_hash"]
    except KeyError as exc:
        raise ConfigurationError(f"bigcommerce needs {exc.args[0]}") from None
    client = BigCommerceClient(
        store_hash,
        token,
        base_url=base_url or api.DEFAULT_BASE_URL,
        timeout=config.get("timeout"),
        max_attempts=int(config.get("max_attempts", 5)),
        max_wait=float(config.get("max_wait", 60.0)),
        backoff_base=float(config.get("backoff_base", 1.0)),
    )
    return BigCommerceStore(
        client,
        credentials.get("client_secret", ""),
        store_hash,
        page_size=int(config.get("page_size", 50)),
        batch_limit=int(config.get("batch_limit", INVENTORY_BATCH_LIMIT)),
        location_id=int(config.get("location_id", 1)),
        product_weight=Decimal(str(config.get("product_weight", "0"))),
        categories=list(config.get("categories") or []),
        webhook_tolerance=timedelta(
            seconds=float(config.get("webhook_tolerance_seconds", webhooks.DEFAULT_TOLERANCE.total_seconds()))
        ),
    )
