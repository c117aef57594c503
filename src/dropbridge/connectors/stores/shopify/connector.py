"""ShopifyStore: the Storefront protocol over the Admin GraphQL API."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import structlog

from dropbridge.connectors.stores.shopify import mapping, webhooks
from dropbridge.connectors.stores.shopify.client import ShopifyClient
from dropbridge.domain.errors import ConfigurationError, PermanentError
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

log = structlog.get_logger("dropbridge.shopify")

DEFAULT_API_VERSION = "2026-01"
ORDER_TOPICS = {"orders/create", "orders/paid", "orders/updated", "orders/cancelled", "orders/fulfilled",
                "orders/partially_fulfilled", "orders/edited"}
# "Input arguments that accept an array have a maximum size of 250": https://shopify.dev/api/usage/limits
STOCK_BATCH_LIMIT = 250

# https://shopify.dev/docs/api/admin-graphql/2026-01/queries/orders
ORDERS_QUERY = """
query Orders($first: Int!, $after: String, $query: String, $lines: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: ID) {
    pageInfo { hasNextPage endCursor }
    nodes {
      ORDER_FIELDS
      lineItems(first: $lines) { pageInfo { hasNextPage endCursor } nodes { LINE_ITEM_FIELDS } }
    }
  }
}
""".replace("LINE_ITEM_FIELDS", mapping.LINE_ITEM_FIELDS).replace("ORDER_FIELDS", mapping.ORDER_FIELDS)

# https://shopify.dev/docs/api/admin-graphql/2026-01/queries/order
ORDER_LINES_QUERY = """
query OrderLines($id: ID!, $after: String) {
  order(id: $id) {
    lineItems(first: 50, after: $after) { pageInfo { hasNextPage endCursor } nodes { LINE_ITEM_FIELDS } }
  }
}
""".replace("LINE_ITEM_FIELDS", mapping.LINE_ITEM_FIELDS)

# https://shopify.dev/docs/api/admin-graphql/2026-01/queries/order
# https://shopify.dev/docs/api/admin-graphql/2026-01/objects/FulfillmentOrder
FULFILLMENT_ORDERS_QUERY = """
query FulfillmentOrders($id: ID!) {
  order(id: $id) {
    id
    fulfillments(first: 50) { id trackingInfo { company number url } }
    fulfillmentOrders(first: 5) {
      nodes {
        id status
        lineItems(first: 50) { nodes { id remainingQuantity lineItem { id } } }
      }
    }
  }
}
"""

# https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/fulfillmentCreate
FULFILLMENT_CREATE = """
mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status trackingInfo { company number url } }
    userErrors { field message }
  }
}
"""

# https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/inventorySetQuantities
# (@idempotent: https://shopify.dev/docs/api/usage/idempotent-requests ; optional in 2026-01, mandatory 2026-04)
INVENTORY_SET = """
mutation SetStock($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input)IDEMPOTENT {
    inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } }
    userErrors { field message code }
  }
}
"""

# https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/productVariantsBulkUpdate
# (one product per call, at most 250 variants: https://shopify.dev/api/usage/limits)
VARIANTS_BULK_UPDATE = """
mutation SetPrices($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants, allowPartialUpdates: true) {
    productVariants { id }
    userErrors { field message code }
  }
}
"""

# https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/metafieldsSet (storefronts.md §1.9)
METAFIELDS_SET = """
mutation SetDelivery($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id }
    userErrors { field message code elementIndex }
  }
}
"""
METAFIELDS_SET_LIMIT = 25  # §1.9: at most 25 metafields a call

# https://shopify.dev/docs/api/admin-graphql/2026-01/queries/nodes
VARIANT_ITEMS_QUERY = """
query VariantItems($ids: [ID!]!) {
  nodes(ids: $ids) { ... on ProductVariant { id inventoryItem { id } } }
}
"""

# https://shopify.dev/docs/api/admin-graphql/2026-01/queries/nodes
# https://shopify.dev/docs/api/admin-graphql/2026-01/objects/InventoryLevel#field-quantities
VARIANT_STOCK_QUERY = """
query VariantStock($ids: [ID!]!, $location: ID!) {
  nodes(ids: $ids) {
    ... on ProductVariant {
      id
      inventoryItem { id inventoryLevel(locationId: $location) { quantities(names: ["available"]) { name quantity } } }
    }
  }
}
"""

# https://shopify.dev/docs/api/admin-graphql/2026-01/queries/location (no id: the primary location)
PRIMARY_LOCATION_QUERY = "query PrimaryLocation { location { id } }"

# https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/productSet
# (identifier upsert since 2025-04: https://shopify.dev/changelog/productset-and-customerset-mutations-now-support-upserts)
PRODUCT_SET = """
mutation PublishProduct($input: ProductSetInput!, $identifier: ProductSetIdentifiers) {
  productSet(input: $input, identifier: $identifier, synchronous: true) {
    product {
      id
      variants(first: 250) { pageInfo { hasNextPage endCursor } nodes { id sku inventoryItem { id } } }
      collections(first: 250) { nodes { id } }
    }
    userErrors { field message code }
  }
}
"""

# https://shopify.dev/docs/api/admin-graphql/2026-01/queries/product (variants past the first 250)
PRODUCT_VARIANTS_QUERY = """
query ProductVariants($id: ID!, $after: String) {
  product(id: $id) {
    variants(first: 250, after: $after) { pageInfo { hasNextPage endCursor } nodes { id sku inventoryItem { id } } }
  }
}
"""

# https://shopify.dev/docs/api/admin-graphql/2026-01/queries/product
LIVE_PRODUCT_QUERY = """
query LiveProduct($id: ID!, $after: String) {
  product(id: $id) {
    id title status productType
    collections(first: 250) { nodes { id title } }
    variants(first: 250, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id sku inventoryPolicy selectedOptions { name value } }
    }
  }
}
"""

# https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/productVariantsBulkCreate
# (new variants beside the live ones; strategy DEFAULT keeps every existing variant: storefronts.md §1.4)
VARIANTS_BULK_CREATE = """
mutation AddVariants($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkCreate(productId: $productId, variants: $variants, strategy: DEFAULT) {
    productVariants { id sku }
    userErrors { field message code }
  }
}
"""

# https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/productVariantsBulkUpdate
VARIANTS_BULK_CHANGE = """
mutation ChangeVariants($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants, allowPartialUpdates: false) {
    productVariants { id }
    userErrors { field message code }
  }
}
"""

# https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/productUpdate
PRODUCT_UPDATE = """
mutation UpdateProduct($product: ProductUpdateInput!) {
  productUpdate(product: $product) {
    product { id }
    userErrors { field message code }
  }
}
"""

# Category paths as collections (storefronts.md §1.10), joined with collectionAddProducts rather than productSet's
# `collections`, which replaces the list (§1.4) and would take the product out of the merchant's own collections.
# https://shopify.dev/docs/api/admin-graphql/2026-01/queries/collections
COLLECTIONS_QUERY = """
query Collections($query: String!) {
  collections(first: 50, query: $query) { nodes { id title ruleSet { appliedDisjunctively } } }
}
"""

# https://shopify.dev/docs/api/admin-graphql/2026-01/objects/Product (the collections a product is in)
PRODUCT_COLLECTIONS_QUERY = """
query ProductCollections($id: ID!) { product(id: $id) { collections(first: 250) { nodes { id } } } }
"""

# https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/collectionCreate (a custom collection: no ruleSet)
COLLECTION_CREATE = """
mutation CreateCollection($input: CollectionInput!) {
  collectionCreate(input: $input) {
    collection { id title }
    userErrors { field message }
  }
}
"""

# https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/collectionAddProducts
# (manual collections only; a product already in it fails the call and adds nothing: §1.10)
COLLECTION_ADD_PRODUCTS = """
mutation JoinCollection($id: ID!, $productIds: [ID!]!) {
  collectionAddProducts(id: $id, productIds: $productIds) {
    collection { id }
    userErrors { field message }
  }
}
"""

# https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/webhookSubscriptionCreate
# (`uri` replaces `callbackUrl` from 2025-10)
WEBHOOK_CREATE = """
mutation Subscribe($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id topic }
    userErrors { field message }
  }
}
"""

# https://shopify.dev/docs/api/admin-graphql/2026-01/queries/webhookSubscriptions
WEBHOOKS_QUERY = """
query Subscriptions { webhookSubscriptions(first: 100) { nodes { id topic uri } } }
"""
WEBHOOKS_QUERY_LEGACY = """
query Subscriptions { webhookSubscriptions(first: 100) { nodes { id topic callbackUrl } } }
"""

DEFAULT_WEBHOOK_TOPICS = ("ORDERS_CREATE", "ORDERS_UPDATED", "ORDERS_CANCELLED", "REFUNDS_CREATE")


def _encode_cursor(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        raise PermanentError(f"not a Shopify order cursor: {cursor!r}") from None
    if not isinstance(state, dict):
        raise PermanentError(f"not a Shopify order cursor: {cursor!r}")
    return state


class ShopifyStore:
    platform = "shopify"

    def __init__(
        self,
        client: ShopifyClient,
        *,
        webhook_secrets: list[str],
        location_id: str | None = None,
        shop_domain: str | None = None,
        orders_page_size: int = 5,
        line_items_page_size: int = 15,
        stock_batch_size: int = STOCK_BATCH_LIMIT,
        webhook_max_age: timedelta = webhooks.DEFAULT_MAX_AGE,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        if not 1 <= stock_batch_size <= STOCK_BATCH_LIMIT:
            raise ConfigurationError(f"stock_batch_size must be 1..{STOCK_BATCH_LIMIT}")
        self.client = client
        self.api_version = client.api_version
        self.webhook_secrets = webhook_secrets
        self.shop_domain = shop_domain
        self.orders_page_size = orders_page_size
        self.line_items_page_size = line_items_page_size
        self.stock_batch_size = stock_batch_size
        self.webhook_max_age = webhook_max_age
        self._now = now
        self._location_id = location_id
        self._inventory_items: dict[str, str] = {}  # variant gid -> inventory item gid (never changes)
        self._collections: dict[str, str | None] = {}  # title (casefolded) -> manual collection gid, None: smart
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    # -- webhooks ----------------------------------------------------------------------------------

    def webhook_body_limit(self, headers: Mapping[str, str]) -> int | None:
        webhooks.precheck(headers)
        return None

    def verify_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> InboundEvent:
        return webhooks.verify(headers, raw_body, self.webhook_secrets, shop_domain=self.shop_domain,
                               max_age=self.webhook_max_age, now=self._now)

    def order_from_event(self, event: InboundEvent) -> ExternalOrder | None:
        if event.topic not in ORDER_TOPICS or not isinstance(event.payload, dict):
            return None
        return mapping.order_from_rest(event.payload)

    def refunds_from_event(self, event: InboundEvent) -> list[ExternalRefund]:
        """refunds/create carries the refund alone (its order by id); order topics carry their refunds
        inside the order (order_from_event)."""
        if event.topic != "refunds/create" or not isinstance(event.payload, dict):
            return []
        return [mapping.refund_from_rest(event.payload)]

    def subscribe_webhooks(self, uri: str, topics: tuple[str, ...] = DEFAULT_WEBHOOK_TOPICS) -> list[str]:
        """Subscribe `uri` to the order topics (skipping ones already subscribed); return subscription ids."""
        uses_uri = self.api_version >= "2025-10"
        data = self.client.execute(WEBHOOKS_QUERY if uses_uri else WEBHOOKS_QUERY_LEGACY, what="shopify webhooks")
        existing = {
            (n["topic"], n.get("uri") or n.get("callbackUrl")): n["id"]
            for n in data["webhookSubscriptions"]["nodes"]
        }
        ids = []
        for topic in topics:
            if (topic, uri) in existing:
                ids.append(existing[(topic, uri)])
                continue
            sub = {"uri" if uses_uri else "callbackUrl": uri, "format": "JSON"}
            result = self.client.execute(WEBHOOK_CREATE, {"topic": topic, "sub": sub},
                                         what="shopify webhookSubscriptionCreate", idempotent=False)
            payload = result["webhookSubscriptionCreate"]
            if payload["userErrors"]:
                raise PermanentError(f"webhookSubscriptionCreate {topic}: {payload['userErrors']}")
            ids.append(payload["webhookSubscription"]["id"])
        return ids

    # -- orders ------------------------------------------------------------------------------------

    def fetch_orders(self, cursor: str | None = None, since: datetime | None = None) -> Page[ExternalOrder]:
        if cursor:
            state = _decode_cursor(cursor)
        else:
            query = None
            if since is not None:
                when = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                query = f"updated_at:>='{when}'"
            state = {"after": None, "query": query}
        data = self.client.execute(
            ORDERS_QUERY,
            {"first": self.orders_page_size, "after": state.get("after"), "query": state.get("query"),
             "lines": self.line_items_page_size},
            what="shopify orders",
        )
        connection = data["orders"]
        orders = []
        for node in connection["nodes"]:
            lines = list(node["lineItems"]["nodes"])
            info = node["lineItems"]["pageInfo"]
            while info["hasNextPage"]:
                more = self.client.execute(ORDER_LINES_QUERY, {"id": node["id"], "after": info["endCursor"]},
                                           what="shopify order lines")
                lines.extend(more["order"]["lineItems"]["nodes"])
                info = more["order"]["lineItems"]["pageInfo"]
            orders.append(mapping.order_from_graphql(node, lines))
        info = connection["pageInfo"]
        next_cursor = None
        if info["hasNextPage"]:
            next_cursor = _encode_cursor({"after": info["endCursor"], "query": state.get("query")})
        return Page(items=orders, next_cursor=next_cursor)

    # -- stock -------------------------------------------------------------------------------------

    def _location(self) -> str:
        if self._location_id is None:
            data = self.client.execute(PRIMARY_LOCATION_QUERY, what="shopify primary location")
            if not data.get("location"):
                raise ConfigurationError("the Shopify store has no primary location; set location_id")
            self._location_id = data["location"]["id"]
        return self._location_id

    def _resolve_items(self, variant_ids: list[str]) -> None:
        missing = [v for v in dict.fromkeys(variant_ids) if v not in self._inventory_items]
        for start in range(0, len(missing), STOCK_BATCH_LIMIT):
            chunk = missing[start:start + STOCK_BATCH_LIMIT]
            data = self.client.execute(VARIANT_ITEMS_QUERY, {"ids": chunk}, what="shopify variant items")
            for node in data["nodes"]:
                if node and node.get("inventoryItem"):
                    self._inventory_items[node["id"]] = node["inventoryItem"]["id"]

    def read_stock(self, external_variant_ids: list[str]) -> dict[str, int]:
        """`available` at our location per variant, 250 variants a query (within the cost budget the client
        keeps); a variant the store does not know, or not stocked at the location, is left out."""
        location = self._location()
        out: dict[str, int] = {}
        ids = list(dict.fromkeys(external_variant_ids))
        for start in range(0, len(ids), STOCK_BATCH_LIMIT):
            data = self.client.execute(VARIANT_STOCK_QUERY, {"ids": ids[start:start + STOCK_BATCH_LIMIT],
                                                             "location": location}, what="shopify variant stock")
            for node in data.get("nodes") or []:
                item = (node or {}).get("inventoryItem") or {}
                level = item.get("inventoryLevel")
                if not level:
                    continue
                self._inventory_items.setdefault(node["id"], item["id"])
                for q in level.get("quantities") or []:
                    if q.get("name") == "available":
                        out[node["id"]] = int(q["quantity"])
        return out

    def push_stock(self, updates: list[StockUpdate], idempotency_key: str) -> PushResult:
        """Set `available` at our location to exactly the given quantities, 250 per call, nothing else."""
        if not updates:
            return PushResult(calls=0, applied=0)
        calls_before = self.client.calls
        location = self._location()
        # The last update for a variant wins: Shopify rejects a batch naming an item twice.
        latest: dict[str, StockUpdate] = {}
        for u in updates:
            latest.pop(u.external_variant_id, None)
            latest[u.external_variant_id] = u
        for u in latest.values():
            if u.external_inventory_id:
                self._inventory_items.setdefault(u.external_variant_id, u.external_inventory_id)
        self._resolve_items([u.external_variant_id for u in latest.values() if not u.external_inventory_id])
        failed: list[tuple[str, str]] = []
        ready: list[tuple[StockUpdate, str]] = []
        for u in latest.values():
            item = u.external_inventory_id or self._inventory_items.get(u.external_variant_id)
            if item is None:
                failed.append((u.external_variant_id, "UNKNOWN_VARIANT: no such variant in the store"))
            else:
                ready.append((u, item))
        applied = 0
        for batch_no, start in enumerate(range(0, len(ready), self.stock_batch_size)):
            batch = ready[start:start + self.stock_batch_size]
            done, batch_failed = self._push_batch(batch, location, idempotency_key, batch_no)
            applied += done
            failed.extend(batch_failed)
        return PushResult(calls=self.client.calls - calls_before, applied=applied, failed=failed)

    def _push_batch(
        self, batch: list[tuple[StockUpdate, str]], location: str, key: str, batch_no: int
    ) -> tuple[int, list[tuple[str, str]]]:
        failed: list[tuple[str, str]] = []
        attempt = 0
        while batch:
            directive = ""
            if self.api_version >= "2026-01":
                directive = f" @idempotent(key: {json.dumps(mapping.stock_key(key, batch_no, attempt))})"
            data = self.client.execute(
                INVENTORY_SET.replace("IDEMPOTENT", directive),
                {"input": mapping.stock_input(batch, location, self.api_version, f"{key}#{batch_no}")},
                what="shopify inventorySetQuantities",
                idempotent=bool(directive),
            )
            payload = data["inventorySetQuantities"]
            errors = payload.get("userErrors") or []
            if not errors:
                return len(batch), failed
            bad: dict[int, str] = {}
            for err in errors:
                index = mapping.user_error_index(err.get("field"))
                if index is None or index >= len(batch):
                    raise PermanentError(f"inventorySetQuantities rejected the batch: {err}")
                bad[index] = f"{err.get('code') or 'ERROR'}: {err.get('message')}"
            failed.extend((batch[i][0].external_variant_id, reason) for i, reason in sorted(bad.items()))
            remaining = [pair for i, pair in enumerate(batch) if i not in bad]
            if payload.get("inventoryAdjustmentGroup") is not None:
                return len(remaining), failed  # the store applied the valid ones already
            batch = remaining  # all-or-nothing: resend the valid ones under a new key
            attempt += 1
        return 0, failed

    # -- prices ------------------------------------------------------------------------------------

    def push_prices(self, updates: list[PriceUpdate], idempotency_key: str) -> PushResult:
        """productVariantsBulkUpdate per product, 250 variants a call, partial updates allowed (a bad variant
        is reported, the rest apply). Prices are absolute and the mutation takes no idempotency key, so a
        repeat sets the same prices again. The client waits for the cost bucket before each call."""
        calls_before = self.client.calls
        by_product: dict[str, list[PriceUpdate]] = {}
        failed: list[tuple[str, str]] = []
        for u in updates:
            if not u.external_product_id:
                failed.append((u.external_variant_id, "no product id: the listing was never published here"))
                continue
            by_product.setdefault(u.external_product_id, []).append(u)
        applied = 0
        for product_id, group in by_product.items():
            for start in range(0, len(group), self.stock_batch_size):
                batch = group[start:start + self.stock_batch_size]
                data = self.client.execute(
                    VARIANTS_BULK_UPDATE,
                    {"productId": product_id, "variants": mapping.price_variants_input(batch)},
                    what="shopify productVariantsBulkUpdate", idempotent=True)
                payload = data["productVariantsBulkUpdate"]
                bad: dict[int, str] = {}
                for err in payload.get("userErrors") or []:
                    index = mapping.bulk_error_index(err.get("field"))
                    reason = f"{err.get('code') or 'ERROR'}: {err.get('message')}"
                    if index is None or index >= len(batch):
                        bad.update({i: reason for i in range(len(batch))})  # the call as a whole was refused
                    else:
                        bad[index] = reason
                failed.extend((batch[i].external_variant_id, reason) for i, reason in sorted(bad.items()))
                applied += len(batch) - len(bad)
        return PushResult(calls=self.client.calls - calls_before, applied=applied, failed=failed)

    def push_delivery(self, updates: list[DeliveryUpdate], idempotency_key: str) -> PushResult:
        """Each variant's delivery window as its `dropbridge.delivery_days` metafield (single_line_text_field),
        25 a metafieldsSet call. The mutation is atomic: a userError names the element that failed and
        nothing of that call is written, so the others of the call are sent again without it."""
        calls_before = self.client.calls
        failed: list[tuple[str, str]] = []
        applied = 0
        for start in range(0, len(updates), METAFIELDS_SET_LIMIT):
            batch = updates[start:start + METAFIELDS_SET_LIMIT]
            while batch:
                data = self.client.execute(METAFIELDS_SET, {"metafields": mapping.delivery_metafields(batch)},
                                           what="shopify metafieldsSet", idempotent=True)
                errors = data["metafieldsSet"].get("userErrors") or []
                if not errors:
                    applied += len(batch)
                    break
                bad: dict[int, str] = {}
                for err in errors:
                    index = err.get("elementIndex")
                    reason = f"{err.get('code') or 'ERROR'}: {err.get('message')}"
                    if not isinstance(index, int) or not 0 <= index < len(batch):
                        bad.update({i: reason for i in range(len(batch))})  # refused as a whole
                    else:
                        bad[index] = reason
                failed.extend((batch[i].external_variant_id, reason) for i, reason in sorted(bad.items()))
                batch = [u for i, u in enumerate(batch) if i not in bad]
        return PushResult(calls=self.client.calls - calls_before, applied=applied, failed=failed)

    # -- fulfillment -------------------------------------------------------------------------------

    def push_fulfillment(self, fulfillment: Fulfillment, idempotency_key: str) -> str:
        """Fulfil the given lines (all open lines when none are given) from the order's open fulfillment
        orders, with tracking, notifying the customer. fulfillmentCreate takes no idempotency key, so a
        repeat is recognised by its tracking number on the order's existing fulfillments."""
        data = self.client.execute(FULFILLMENT_ORDERS_QUERY, {"id": fulfillment.order_external_id},
                                   what="shopify fulfillment orders")
        order = data.get("order")
        if order is None:
            raise PermanentError(f"Shopify order {fulfillment.order_external_id} not found")
        for existing in order.get("fulfillments") or []:
            if any(t.get("number") == fulfillment.tracking_number for t in existing.get("trackingInfo") or []):
                return existing["id"]
        wanted = {line.external_line_id: line.quantity for line in fulfillment.lines}
        plan: list[tuple[str, str, int]] = []
        for fo in order["fulfillmentOrders"]["nodes"]:
            if fo["status"] not in ("OPEN", "IN_PROGRESS"):
                continue
            for fl in fo["lineItems"]["nodes"]:
                line_id = fl["lineItem"]["id"]
                remaining = fl["remainingQuantity"]
                if remaining <= 0:
                    continue
                if not wanted:
                    plan.append((fo["id"], fl["id"], remaining))
                elif wanted.get(line_id, 0) > 0:
                    take = min(remaining, wanted[line_id])
                    wanted[line_id] -= take
                    plan.append((fo["id"], fl["id"], take))
        short = {k: v for k, v in wanted.items() if v > 0}
        if short:
            raise PermanentError(f"order {fulfillment.order_external_id}: nothing open to fulfil for {short}")
        if not plan:
            raise PermanentError(f"order {fulfillment.order_external_id} has no open fulfillment order")
        variables = {"fulfillment": mapping.fulfillment_input(
            plan, fulfillment.carrier, fulfillment.tracking_number, fulfillment.tracking_url,
            fulfillment.notify_customer)}
        result = self.client.execute(FULFILLMENT_CREATE, variables, what="shopify fulfillmentCreate",
                                     idempotent=False)
        payload = result["fulfillmentCreate"]
        if payload["userErrors"]:
            raise PermanentError(f"fulfillmentCreate: {payload['userErrors']}")
        return payload["fulfillment"]["id"]

    # -- products ----------------------------------------------------------------------------------

    def publish_product(self, product: ProductDraft, idempotency_key: str) -> PublishedProduct:
        """Create or update (upsert by handle, so a repeat is harmless) the product with its variants."""
        location = self._location()
        data_in = mapping.product_set_input(product, location)
        result = self.client.execute(
            PRODUCT_SET,
            {"input": data_in, "identifier": {"handle": data_in["handle"]}},
            what="shopify productSet",
            idempotent=True,
        )
        payload = result["productSet"]
        if payload["userErrors"]:
            raise PermanentError(f"productSet {product.sku}: {payload['userErrors']}")
        published = payload["product"]
        nodes = list(published["variants"]["nodes"])
        info = published["variants"]["pageInfo"]
        while info["hasNextPage"]:
            more = self.client.execute(PRODUCT_VARIANTS_QUERY, {"id": published["id"], "after": info["endCursor"]},
                                       what="shopify product variants")
            nodes.extend(more["product"]["variants"]["nodes"])
            info = more["product"]["variants"]["pageInfo"]
        variant_ids: dict[str, str] = {}
        inventory_ids: dict[str, str] = {}
        for node in nodes:
            variant_ids[node["sku"]] = node["id"]
            if node.get("inventoryItem"):
                inventory_ids[node["sku"]] = node["inventoryItem"]["id"]
                self._inventory_items[node["id"]] = node["inventoryItem"]["id"]
        if product.category:
            member_of = {c["id"] for c in published["collections"]["nodes"]}
            try:
                self._join_collections(published["id"], product.category, member_of)
            except PermanentError as exc:  # the product stands; follow_variants files it again (live_product)
                log.warning("product not filed in its collections", product=published["id"], error=str(exc))
        return PublishedProduct(external_product_id=published["id"], variant_ids=variant_ids,
                                inventory_ids=inventory_ids)

    def _join_collections(self, product_id: str, category: str, member_of: set[str]) -> None:
        """File the product in a collection for each level of its category path ("Apparel > Tees": Apparel and
        Tees), creating those the shop lacks; collections it is in already are left as they are."""
        for title in mapping.collection_titles(category):
            for fresh in (False, True):
                collection_id = self._collection_for(title, fresh=fresh)
                if collection_id is None or collection_id in member_of:
                    break
                payload = self.client.execute(COLLECTION_ADD_PRODUCTS,
                                              {"id": collection_id, "productIds": [product_id]},
                                              what="shopify collectionAddProducts",
                                              idempotent=False)["collectionAddProducts"]
                if not payload["userErrors"]:
                    break
                if fresh:  # looked up just now and still refused
                    self._user_errors(payload, "collectionAddProducts")
                # else the id was remembered: the merchant may have deleted that collection; look it up again

    def _collection_for(self, title: str, *, fresh: bool = False) -> str | None:
        """The shop's manual collection with this title, created when there is none; None when the only one is a
        smart collection (its rules decide what is in it: products cannot be added by hand, §1.10). Remembered
        per connector unless `fresh`."""
        key = title.casefold()
        with self._lock:
            if key in self._collections and not fresh:
                return self._collections[key]
        data = self.client.execute(COLLECTIONS_QUERY, {"query": mapping.collection_query(title)},
                                   what="shopify collections")
        same = [n for n in data["collections"]["nodes"] if (n.get("title") or "").strip().casefold() == key]
        manual = next((n["id"] for n in same if n.get("ruleSet") is None), None)
        if manual is None and not same:
            # No idempotency key on collectionCreate: not retried here; a later run finds it by title.
            payload = self.client.execute(COLLECTION_CREATE, {"input": {"title": title}},
                                          what="shopify collectionCreate", idempotent=False)["collectionCreate"]
            self._user_errors(payload, "collectionCreate")
            manual = payload["collection"]["id"]
        with self._lock:
            self._collections[key] = manual
        return manual


    # -- variants follow the supplier --------------------------------------------------------------

    def read_product(self, external_product_id: str) -> LiveProduct | None:
        nodes: list[dict[str, Any]] = []
        after = None
        while True:
            data = self.client.execute(LIVE_PRODUCT_QUERY, {"id": external_product_id, "after": after},
                                       what="shopify product")
            product = data.get("product")
            if product is None:
                return None
            nodes.extend(product["variants"]["nodes"])
            info = product["variants"]["pageInfo"]
            if not info["hasNextPage"]:
                return mapping.live_product(product, nodes)
            after = info["endCursor"]

    def apply_variant_changes(self, changes: VariantChanges, idempotency_key: str) -> dict[str, str]:
        """productUpdate for the title, product type and status (ARCHIVED when every variant is dropped and the
        store archives), productVariantsBulkCreate for new variants (250 a call), productVariantsBulkUpdate for
        option values and for dropped variants (inventoryPolicy DENY: a Shopify variant cannot be hidden on its
        own, so it stays shown, sold out, never oversold). Nothing is deleted. The mutations take no idempotency
        key: a repeat finds the variants added (by SKU) and sends only what is still missing."""
        pid = changes.external_product_id
        product: dict[str, Any] = {}
        if changes.retitle:
            product["title"] = changes.product.title
        if changes.recategorize and changes.product.category:
            product["productType"] = mapping.product_type(changes.product.category)
            data = self.client.execute(PRODUCT_COLLECTIONS_QUERY, {"id": pid}, what="shopify product collections")
            member_of = {c["id"] for c in ((data.get("product") or {}).get("collections") or {}).get("nodes", [])}
            self._join_collections(pid, changes.product.category, member_of)
        if changes.retire_product:
            product["status"] = "ARCHIVED"
        elif changes.restore_product:
            product["status"] = "ACTIVE"
        if product:
            self._user_errors(self.client.execute(PRODUCT_UPDATE, {"product": {"id": pid, **product}},
                                                  what="shopify productUpdate", idempotent=True)["productUpdate"],
                              "productUpdate")
        updates = [{"id": vid, "optionValues": mapping.option_values(d.options)} for vid, d in changes.rename]
        updates += [{"id": vid, "inventoryPolicy": "DENY"} for vid in changes.retire]
        for start in range(0, len(updates), STOCK_BATCH_LIMIT):
            result = self.client.execute(VARIANTS_BULK_CHANGE, {"productId": pid,
                                                                "variants": updates[start:start + STOCK_BATCH_LIMIT]},
                                         what="shopify productVariantsBulkUpdate", idempotent=True)
            self._user_errors(result["productVariantsBulkUpdate"], "productVariantsBulkUpdate")
        added: dict[str, str] = {}
        if changes.add:
            location = self._location()
            for start in range(0, len(changes.add), STOCK_BATCH_LIMIT):
                batch = changes.add[start:start + STOCK_BATCH_LIMIT]
                result = self.client.execute(
                    VARIANTS_BULK_CREATE,
                    {"productId": pid, "variants": [mapping.variant_create_input(v, location) for v in batch]},
                    what="shopify productVariantsBulkCreate", idempotent=False)
                payload = result["productVariantsBulkCreate"]
                self._user_errors(payload, "productVariantsBulkCreate")
                for v, node in zip(batch, payload.get("productVariants") or [], strict=False):
                    added[v.sku] = node["id"]
        return added

    @staticmethod
    def _user_errors(payload: dict[str, Any], what: str) -> None:
        if payload.get("userErrors"):
            raise PermanentError(f"{what}: {payload['userErrors']}")


def from_config(base_url: str, credentials: Mapping[str, Any], config: Mapping[str, Any]) -> ShopifyStore:
    """Build a ShopifyStore.

    base_url: "https://{shop}.myshopify.com" (or an emulator's URL).
    credentials: {"access_token"} or {"client_id", "client_secret"}; "webhook_secret" optionally, for
      webhooks made in the Shopify admin (signed with the shop's key) or during a secret rotation.
    config: "api_version" (default 2026-01), "location_id" (default: the primary location),
      "shop_domain" (checked against X-Shopify-Shop-Domain; default: from a myshopify.com base_url),
      "orders_page_size", "line_items_page_size", "stock_batch_size", "timeout",
      "webhook_max_age_seconds", "max_throttle_wait".
    """
    api_version = str(config.get("api_version") or DEFAULT_API_VERSION)
    client = ShopifyClient(
        base_url,
        api_version,
        access_token=credentials.get("access_token"),
        client_id=credentials.get("client_id"),
        client_secret=credentials.get("client_secret"),
        timeout=config.get("timeout"),
        max_throttle_wait=float(config.get("max_throttle_wait", 60.0)),
    )
    secrets = [s for s in (credentials.get("webhook_secret"), credentials.get("client_secret")) if s]
    host = urlsplit(base_url).hostname or ""
    shop_domain = config.get("shop_domain") or (host if host.endswith(".myshopify.com") else None)
    return ShopifyStore(
        client,
        webhook_secrets=secrets,
        location_id=config.get("location_id"),
        shop_domain=shop_domain,
        orders_page_size=int(config.get("orders_page_size", 5)),
        line_items_page_size=int(config.get("line_items_page_size", 15)),
        stock_batch_size=int(config.get("stock_batch_size", STOCK_BATCH_LIMIT)),
        webhook_max_age=timedelta(seconds=float(config.get("webhook_max_age_seconds", 86400))),
    )
