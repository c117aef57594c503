"""WooCommerce (REST API v3) as a `Storefront`."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from dropbridge.connectors.kit.budget import WindowBudget
from dropbridge.domain.errors import ConfigurationError, PermanentError, RateLimited
from dropbridge.services.ports import (
    DeliveryUpdate,
    ExternalOrder,
    ExternalRefund,
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
from .auth import AUTH_MODES
from .client import AUTH_QUERY_KEYS, WooCommerceClient

BATCH_LIMIT = 100  # create + update + delete per batch call (filter woocommerce_rest_batch_items_limit)
# A batch push waits out a host's limiter (bare 429s, storefronts.md 2.6) this long in all before it gives the job
# back: a window of many seconds outlasts the client's few attempts, and a job retried from the start would
# send the batches already applied again.
PUSH_THROTTLE_WAIT = 120.0
MAX_PER_PAGE = 100
ORDER_TOPICS = ("order.created", "order.updated")
TRACKING_MODES = ("meta", "shipment_tracking")
_LIMIT_IN_413 = re.compile(r"more than (\d+) items")


class WooCommerceStore:
    platform = "woocommerce"

    def __init__(
        self,
        client: WooCommerceClient,
        webhook_secret: str,
        *,
        page_size: int = MAX_PER_PAGE,
        batch_limit: int = BATCH_LIMIT,
        tracking_mode: str = "meta",
        webhook_max_age: timedelta | None = webhooks.DEFAULT_MAX_AGE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        push_throttle_wait: float = PUSH_THROTTLE_WAIT,
    ):
        if not 1 <= page_size <= MAX_PER_PAGE:
            raise ConfigurationError(f"page_size must be 1..{MAX_PER_PAGE}")
        if tracking_mode not in TRACKING_MODES:
            raise ConfigurationError(f"tracking_mode must be one of {TRACKING_MODES}")
        self.client = client
        self.webhook_secret = webhook_secret
        self.page_size = page_size
        self.batch_limit = batch_limit
        self.tracking_mode = tracking_mode
        self.webhook_max_age = webhook_max_age
        self.clock = clock
        self.push_throttle_wait = push_throttle_wait

    def close(self) -> None:
        self.client.close()

    # ---- inbound -----------------------------------------------------------------------------

    def webhook_body_limit(self, headers: Mapping[str, str]) -> int | None:
        return webhooks.precheck(headers)

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> InboundEvent:
        return webhooks.verify(headers, raw_body, self.webhook_secret, max_age=self.webhook_max_age, now=self.clock)

    def order_from_event(self, event: InboundEvent) -> ExternalOrder | None:
        payload = event.payload
        if not isinstance(payload, dict):
            return None
        if event.topic.startswith("action."):
            # Action topics carry {"action": hook, "arg": order id}: fetch the order itself.
            if not str(payload.get("arg", "")).isdigit():
                return None
            data, _ = self.client.get(api.ORDER.format(order_id=payload["arg"]), what="woocommerce get order")
            return mapping.order_from_wc(data)
        if not event.topic.startswith("order.") or event.topic == "order.deleted":
            return None
        if "line_items" not in payload:
            return None
        order = mapping.order_from_wc(payload)
        if payload.get("refunds"):
            # The order lists only {id, reason, total} per refund (woocommerce_order_refunded fires
            # order.updated): the lines and shipping refunded are read from the refunds themselves.
            order = dataclasses.replace(order, refunds=self.refunds_of(order.external_id, order.currency))
        return order

    def refunds_of(self, order_id: str, currency: str) -> tuple[ExternalRefund, ...]:
        data, _ = self.client.get(api.ORDER_REFUNDS.format(order_id=order_id), what="woocommerce order refunds",
                                  params={"per_page": 100})
        return tuple(mapping.refund_from_wc(order_id, currency, r) for r in data or [])

    def fetch_orders(self, cursor: str | None = None, since: datetime | None = None) -> Page[ExternalOrder]:
        if cursor:
            params: dict[str, Any] = dict(parse_qsl(cursor))
        else:
            # Oldest first by id: orders placed while we page append at the end instead of shifting pages.
            params = {"per_page": self.page_size, "page": 1, "orderby": "id", "order": "asc"}
            if since is not None:
                params["modified_after"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
                params["dates_are_gmt"] = "true"
        data, response = self.client.get(api.ORDERS, what="woocommerce list orders", params=params)
        orders = [mapping.order_from_wc(o) for o in data or []]
        return Page(orders, _next_cursor(response, params))

    # ---- stock -------------------------------------------------------------------------------

    def push_stock(self, updates: list[StockUpdate], idempotency_key: str) -> PushResult:
        """Absolute quantities, batched per parent: simple products through `products/batch`, variations
        through `products/{parent}/variations/batch` (their parent is `external_inventory_id`, else
        `external_product_id`). Last write wins in WooCommerce, so repeating a push is harmless."""
        groups: dict[str | None, list[dict[str, Any]]] = {}
        for update in updates:
            parent = update.external_inventory_id or update.external_product_id
            if parent == update.external_variant_id:
                parent = None
            groups.setdefault(parent, []).append(mapping.stock_item(update))
        return self._batches(groups, "woocommerce stock batch")

    def push_prices(self, updates: list[PriceUpdate], idempotency_key: str) -> PushResult:
        """regular/sale prices, 100 per batch call: variations through their parent's `variations/batch`,
        simple products (whose product is the variant) through `products/batch`. Last write wins."""
        groups: dict[str | None, list[dict[str, Any]]] = {}
        for update in updates:
            parent = update.external_product_id
            if parent == update.external_variant_id:
                parent = None
            groups.setdefault(parent, []).append(mapping.price_item(update))
        return self._batches(groups, "woocommerce price batch")

    def push_delivery(self, updates: list[DeliveryUpdate], idempotency_key: str) -> PushResult:
        """The window as `dropbridge_delivery_days` meta, 100 per batch call, grouped as prices are."""
        groups: dict[str | None, list[dict[str, Any]]] = {}
        for update in updates:
            parent = update.external_product_id
            if parent == update.external_variant_id:
                parent = None
            groups.setdefault(parent, []).append(mapping.delivery_item(update))
        return self._batches(groups, "woocommerce delivery batch")

    def _batches(self, groups: dict[str | None, list[dict[str, Any]]], what: str) -> PushResult:
        """`update` items per parent (None: products/batch), at most `batch_limit` a call; a 413 naming a
        smaller limit (a store that filtered it down) lowers ours and the chunk is sent again."""
        calls = applied = 0
        throttled = 0.0
        failed: list[tuple[str, str]] = []
        for parent, group in groups.items():
            path = api.PRODUCTS_BATCH if parent is None else api.VARIATIONS_BATCH.format(product_id=parent)
            start = 0
            while start < len(group):
                chunk = group[start : start + self.batch_limit]
                try:
                    response = self.client.post(path, {"update": chunk}, what=what)
                except RateLimited as exc:  # refused before acting: wait as asked and send the chunk again
                    calls += 1
                    delay = exc.retry_after or 1.0
                    if throttled + delay > self.push_throttle_wait:
                        raise
                    self.client.wait(delay)
                    throttled += delay
                    continue
                except PermanentError as exc:
                    calls += 1
                    smaller = _LIMIT_IN_413.search(str(exc)) if exc.status == 413 else None
                    if smaller and 0 < int(smaller.group(1)) < len(chunk):
                        self.batch_limit = int(smaller.group(1))  # the store filtered its limit down
                        continue
                    raise
                calls += 1
                ok, bad = mapping.batch_errors(response)
                applied += ok
                failed.extend(bad)
                start += len(chunk)
        return PushResult(calls=calls, applied=applied, failed=failed)

    # ---- fulfillment -------------------------------------------------------------------------

    def push_fulfillment(self, fulfillment: Fulfillment, idempotency_key: str) -> str:
        """Tracking into the order (Shipment Tracking meta, or the extension's API when installed), a
        customer note (which emails the customer) and status `completed` once every line has shipped.
        Our record in order meta makes a repeat with the same key a no-op returning the same id."""
        order_id = fulfillment.order_external_id
        order, _ = self.client.get(api.ORDER.format(order_id=order_id), what="woocommerce get order")
        records = list(mapping.meta_value(order, mapping.FULFILLMENTS_META) or [])
        for record in records:
            if record.get("key") == idempotency_key:
                return str(record["tracking_id"])
        shipped_on = self.clock().astimezone(UTC).strftime("%Y-%m-%d")
        meta: list[dict[str, Any]] = []
        if self.tracking_mode == "shipment_tracking":
            tid = self._tracking_through_extension(order_id, fulfillment, shipped_on)
        else:
            item = mapping.tracking_item(fulfillment, idempotency_key, shipped_on)
            tid = item["tracking_id"]
            items = list(mapping.meta_value(order, mapping.TRACKING_META) or [])
            if not any(i.get("tracking_id") == tid for i in items):
                items.append(item)
            meta.append({"key": mapping.TRACKING_META, "value": items})
        if fulfillment.notify_customer:
            self._notify(order_id, mapping.customer_note(fulfillment))
        lines = {line.external_line_id: line.quantity for line in fulfillment.lines}
        records.append({"key": idempotency_key, "tracking_id": tid, "lines": lines})
        meta.append({"key": mapping.FULFILLMENTS_META, "value": records})
        body: dict[str, Any] = {"meta_data": meta}
        shipped = mapping.shipped_quantities(records, order)
        if mapping.fully_shipped(order, shipped) and order.get("status") not in ("completed", "cancelled", "refunded"):
            body["status"] = "completed"  # sends WooCommerce's "Completed order" email too
        self.client.put(api.ORDER.format(order_id=order_id), body, what="woocommerce update order")
        return tid

    def _tracking_through_extension(self, order_id: str, fulfillment: Fulfillment, shipped_on: str) -> str:
        path = api.SHIPMENT_TRACKINGS.format(order_id=order_id)
        existing, _ = self.client.get(path, what="woocommerce list shipment trackings")
        for item in existing or []:
            if item.get("tracking_number") == fulfillment.tracking_number:
                return str(item["tracking_id"])
        created = self.client.post(
            path, mapping.tracking_request(fulfillment, shipped_on), what="woocommerce create shipment tracking"
        )
        return str(created["tracking_id"])

    def _notify(self, order_id: str, text: str) -> None:
        path = api.ORDER_NOTES.format(order_id=order_id)
        notes, _ = self.client.get(path, what="woocommerce list order notes", params={"type": "customer"})
        if any(n.get("note") == text for n in notes or []):
            return  # an earlier attempt got this far: do not email the customer twice
        self.client.post(path, {"note": text, "customer_note": True}, what="woocommerce add order note")

    # ---- catalog -----------------------------------------------------------------------------

    def publish_product(self, product: ProductDraft, idempotency_key: str) -> PublishedProduct:
        """Create a simple product (one variant, no options) or a variable product and its variations.
        WooCommerce has no idempotency keys: SKUs are unique, so a repeat finds what an earlier attempt
        created and adds only what is missing."""
        if not product.variants:
            raise PermanentError(f"product {product.sku} has no variants")
        simple = mapping.is_simple(product)
        lookup_sku = product.variants[0].sku if simple else product.sku
        found, _ = self.client.get(api.PRODUCTS, what="woocommerce find product", params={"sku": lookup_sku})
        if found:
            created = found[0]
        else:
            body = mapping.product_body(product, idempotency_key)
            if product.category:
                body["categories"] = [{"id": c} for c in self._category_ids(product.category)]
            created = self.client.post(api.PRODUCTS, body, what="woocommerce create product")
        product_id = str(created["id"])
        if simple:
            return PublishedProduct(product_id, {product.variants[0].sku: product_id})
        existing = {v["sku"]: str(v["id"]) for v in self._variations(product_id) if v.get("sku")}
        missing = [v for v in product.variants if v.sku not in existing]
        path = api.VARIATIONS_BATCH.format(product_id=product_id)
        for start in range(0, len(missing), self.batch_limit):
            chunk = missing[start : start + self.batch_limit]
            response = self.client.post(
                path, {"create": [mapping.variation_body(v) for v in chunk]}, what="woocommerce create variations"
            )
            for variant, item in zip(chunk, response.get("create") or [], strict=False):
                if item.get("error"):
                    error = item["error"]
                    raise PermanentError(f"variation {variant.sku}: {error.get('code')}: {error.get('message')}")
                existing[variant.sku] = str(item["id"])
        variant_ids = {v.sku: existing[v.sku] for v in product.variants}
        return PublishedProduct(product_id, variant_ids, {sku: product_id for sku in variant_ids})

    def _variations(self, product_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            data, response = self.client.get(
                api.VARIATIONS.format(product_id=product_id),
                what="woocommerce list variations",
                params={"per_page": MAX_PER_PAGE, "page": page},
            )
            out.extend(data or [])
            if page >= int(response.headers.get("X-WP-TotalPages", "1") or 1):
                return out
            page += 1

    # ---- variants follow the supplier ----------------------------------------------------------

    def read_product(self, external_product_id: str) -> LiveProduct | None:
        """The product and its variations; None when it is gone (404) or in the trash."""
        try:
            data, _ = self.client.get(api.PRODUCTS + f"/{int(external_product_id)}", what="woocommerce get product")
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise
        if not data or data.get("status") == "trash":
            return None
        variations = self._variations(str(data["id"])) if data.get("type") == "variable" else []
        return mapping.live_product(data, variations)

    def apply_variant_changes(self, changes: VariantChanges, idempotency_key: str) -> dict[str, str]:
        """The parent first (name, categories, status, and attribute options extended by new values: a variation
        may only use an option its parent lists), then one variations batch per 100 items: `create` for new
        variations, `update` for renamed ones (attributes) and for dropped or returning ones (status private /
        publish: a private variation is not sold). Nothing is deleted. No idempotency keys here: SKUs are unique,
        so a repeat of a create answers product_invalid_sku and the next run finds the variation by SKU."""
        pid = changes.external_product_id
        parent: dict[str, Any] = {}
        if changes.retitle:
            parent["name"] = changes.product.title
        if changes.recategorize and changes.product.category:
            parent["categories"] = [{"id": c} for c in self._category_ids(changes.product.category)]
        if changes.retire_product:
            parent["status"] = "private"
        elif changes.restore_product:
            parent["status"] = "publish"
        wanted = [d.options for d in changes.add] + [d.options for _, d in changes.rename]
        if wanted:
            current, _ = self.client.get(api.PRODUCTS + f"/{int(pid)}", what="woocommerce get product")
            attributes = mapping.extended_attributes((current or {}).get("attributes") or [], wanted)
            if attributes is not None:
                parent["attributes"] = attributes
        if parent:
            self.client.put(api.PRODUCTS + f"/{int(pid)}", parent, what="woocommerce update product")
        items: list[tuple[str, Any]] = [("create", mapping.variation_body(v)) for v in changes.add]
        items += [("update", {"id": int(vid), "attributes": mapping.variation_attributes(d.options)})
                  for vid, d in changes.rename]
        items += [("update", {"id": int(vid), "status": "private"}) for vid in changes.retire]
        items += [("update", {"id": int(vid), "status": "publish"}) for vid in changes.restore]
        added: dict[str, str] = {}
        path = api.VARIATIONS_BATCH.format(product_id=pid)
        for start in range(0, len(items), self.batch_limit):
            chunk = items[start:start + self.batch_limit]
            body: dict[str, list[Any]] = {}
            for kind, item in chunk:
                body.setdefault(kind, []).append(item)
            response = self.client.post(path, body, what="woocommerce variations batch") or {}
            for kind in ("create", "update"):
                for item in response.get(kind) or []:
                    if item.get("error"):
                        error = item["error"]
                        raise PermanentError(f"variation {kind} on product {pid}: {error.get('code')}: "
                                             f"{error.get('message')}")
            for draft, item in zip([i for k, i in chunk if k == "create"], response.get("create") or [], strict=False):
                added[draft["sku"]] = str(item["id"])
        return added

    def _category_ids(self, category: str) -> list[int]:
        """Our category path ("Apparel > Tees") as WooCommerce categories, parent first, each created when
        missing; the leaf's id (with its parents') is what the product is filed under."""
        ids: list[int] = []
        parent = 0
        for name in mapping.category_path(category):
            found, _ = self.client.get(api.CATEGORIES, what="woocommerce find category",
                                       params={"search": name, "parent": parent, "per_page": MAX_PER_PAGE})
            match = next((c for c in found or [] if str(c.get("name", "")).casefold() == name.casefold()
                          and int(c.get("parent") or 0) == parent), None)
            if match is None:
                match = self.client.post(api.CATEGORIES, {"name": name, "parent": parent},
                                         what="woocommerce create category")
            parent = int(match["id"])
            ids.append(parent)
        return ids[-1:]

    # ---- setup -------------------------------------------------------------------------------

    def subscribe_webhooks(self, uri: str) -> list[str]:
        """Order webhooks to `uri`, signed with our secret; re-activates ones WooCommerce disabled."""
        existing: list[dict[str, Any]] = []
        page = 1
        while True:
            data, response = self.client.get(
                api.WEBHOOKS, what="woocommerce list webhooks", params={"per_page": MAX_PER_PAGE, "page": page}
            )
            existing.extend(data or [])
            if page >= int(response.headers.get("X-WP-TotalPages", "1") or 1):
                break
            page += 1
        ids = []
        for topic in ORDER_TOPICS:
            hook = next((h for h in existing if h.get("topic") == topic and h.get("delivery_url") == uri), None)
            if hook is None:
                hook = self.client.post(
                    api.WEBHOOKS,
                    {
                        "name": f"dropbridge {topic}",
                        "topic": topic,
                        "delivery_url": uri,
                        "secret": self.webhook_secret,
                        "status": "active",
                    },
                    what="woocommerce create webhook",
                )
            elif hook.get("status") != "active":
                # Disabled after repeated failures (or paused): turn it back on, with our secret.
                hook = self.client.put(
                    api.WEBHOOK.format(webhook_id=hook["id"]),
                    {"status": "active", "secret": self.webhook_secret},
                    what="woocommerce re-activate webhook",
                )
            ids.append(str(hook["id"]))
        return ids


def _next_cursor(response: httpx.Response, params: Mapping[str, Any]) -> str | None:
    """The `Link: rel="next"` query (auth keys removed), falling back to X-WP-TotalPages."""
    link = response.links.get("next")
    if link and link.get("url"):
        query = [(k, v) for k, v in parse_qsl(urlsplit(link["url"]).query) if k not in AUTH_QUERY_KEYS]
        return urlencode(query)
    total_pages = int(response.headers.get("X-WP-TotalPages", "0") or 0)
    page = int(params.get("page", 1))
    if page < total_pages:
        query = {k: v for k, v in params.items() if k not in AUTH_QUERY_KEYS}
        query["page"] = page + 1
        return urlencode(query)
    return None


def _window(base_url: str, spec: str | None) -> WindowBudget | None:
    if not spec:
        return None
    try:
        return WindowBudget.parse(f"woocommerce:{base_url.rstrip('/')}", spec)
    except ValueError as exc:
        raise ConfigurationError(f"woocommerce {exc}") from None


def from_config(base_url: str, credentials: Mapping[str, str], config: Mapping[str, Any]) -> WooCommerceStore:
    """Credentials {"consumer_key", "consumer_secret", "webhook_secret"}; config (all optional):
    "auth": "auto" (default: Basic over https, OAuth 1.0a over http) | "basic" | "query" | "oauth1" (see
    auth.py; "oauth1" for a site behind a TLS-terminating proxy that WordPress does not know of), "page_size",
    "batch_limit", "tracking_mode": "meta" | "shipment_tracking",
    "webhook_max_age_seconds" (None disables the check), "timeout", "max_attempts", "max_wait",
    "backoff_base", "rate_limit": "CALLS/SECONDS", the host's request limit where it has one (core WooCommerce
    has none; hosts and WAFs do), kept by every client of the site in this process."""
    try:
        key, secret = credentials["consumer_key"], credentials["consumer_secret"]
    except KeyError as exc:
        raise ConfigurationError(f"woocommerce credentials need {exc.args[0]}") from None
    auth = config.get("auth", "auto")
    if auth not in AUTH_MODES:
        raise ConfigurationError(f"woocommerce auth must be one of {', '.join(AUTH_MODES)}, not {auth!r}")
    client = WooCommerceClient(
        base_url,
        key,
        secret,
        auth=auth,
        timeout=config.get("timeout"),
        max_attempts=int(config.get("max_attempts", 5)),
        max_wait=float(config.get("max_wait", 30.0)),
        backoff_base=float(config.get("backoff_base", 1.0)),
        window=_window(base_url, config.get("rate_limit")),
    )
    max_age = config.get("webhook_max_age_seconds", webhooks.DEFAULT_MAX_AGE.total_seconds())
    return WooCommerceStore(
        client,
        credentials.get("webhook_secret", ""),
        page_size=int(config.get("page_size", MAX_PER_PAGE)),
        batch_limit=int(config.get("batch_limit", BATCH_LIMIT)),
        tracking_mode=config.get("tracking_mode", "meta"),
        webhook_max_age=None if max_age is None else timedelta(seconds=float(max_age)),
    )
