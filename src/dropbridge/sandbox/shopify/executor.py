"""One GraphQL request from body to answer: parse, price, throttle, execute, charge the bucket.

Top-level errors come back with HTTP 200 and `errors[]`; mutation business errors in `userErrors`
(storefronts.md §1.8). Mutations that take `@idempotent(key:)` replay the first result for a repeated key
and refuse the same key with other parameters (§1.3, §4); the directive is mandatory from 2026-04 (§1.3).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from .cost import requested_cost
from .graphql import Field, GraphQLError, InlineFragment, Operation, parse, resolve_value
from .projector import _Projector
from .values import _connection, gid

# https://shopify.dev/changelog/adding-idempotency-for-inventory-adjustments-and-refund-mutations
IDEMPOTENT_MUTATIONS = {
    "inventorySetQuantities", "inventoryAdjustQuantities", "inventoryMoveQuantities",
    "inventorySetOnHandQuantities", "refundCreate", "inventoryShipmentReceive",
}


class GraphQLMixin:
    def graphql(self, body: Any, version: str | None = None) -> tuple[int, dict[str, Any]]:
        """Answer one GraphQL request body (already authenticated) in API `version` (default: the app's);
        returns (HTTP status, JSON). Version rules (§1.3's CAS table, `uri` from 2025-10) follow `version`."""
        with self._lock:
            self.request_version = version or self.api_version
            self.stats["calls"] += 1
            if self._forced_faults:
                status = self._forced_faults.pop(0)
                self.stats["faults"] += 1
                return status, {"errors": "Internal Server Error"}
            if not isinstance(body, dict) or not isinstance(body.get("query"), str):
                return 400, {"errors": {"query": "Required parameter missing or invalid"}}
            variables = body.get("variables") or {}
            try:
                op = parse(body["query"], body.get("operationName"))
                variables = {**op.var_defaults, **variables}
                requested = requested_cost(op, variables)
            except GraphQLError as exc:
                return 200, {"errors": [exc.as_json()]}
            self._refill()
            # A query the bucket could never hold would be throttled forever: refuse it outright.
            max_cost = min(self.max_query_cost, int(self.bucket_size))
            if requested > max_cost:
                return 200, {
                    "errors": [{
                        "message": f"Query cost is {requested}, which exceeds the single query max cost "
                        f"limit ({max_cost}).",
                        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": max_cost},
                    }],
                    "extensions": self._cost_ext(requested, None),
                }
            if self._forced_throttles > 0 or self._bucket < requested:
                if self._forced_throttles > 0:
                    self._forced_throttles -= 1
                    self._bucket = 0.0
                self.stats["throttled"] += 1
                self.call_log.append({"root": [s.name for s in op.selections if isinstance(s, Field)],
                                      "throttled": True})
                return self.throttle_status, {
                    "errors": [{
                        "message": "Throttled",
                        "extensions": {"code": "THROTTLED",
                                       "documentation": "https://shopify.dev/api/usage/rate-limits"},
                    }],
                    "extensions": self._cost_ext(requested, None),
                }
            projector = _Projector(variables)
            try:
                data = self._execute(op, variables, projector)
            except GraphQLError as exc:
                actual = 0
                self._bucket -= actual
                return 200, {"errors": [exc.as_json()], "extensions": self._cost_ext(requested, actual)}
            actual = requested if op.kind == "mutation" else min(projector.actual, requested)
            self._bucket = max(0.0, self._bucket - actual)
            self.call_log.append({"root": list(data), "throttled": False})
            return 200, {"data": data, "extensions": self._cost_ext(requested, actual)}

    def _execute(self, op: Operation, variables: dict[str, Any], projector: _Projector) -> dict[str, Any]:
        if op.kind == "subscription":
            raise GraphQLError("Subscriptions are not supported", "BAD_REQUEST")
        data: dict[str, Any] = {}
        for sel in op.selections:
            if isinstance(sel, InlineFragment):
                raise GraphQLError("Fragments on the root are not supported by this emulator", "BAD_REQUEST")
            if sel.name == "__typename":
                data[sel.key] = "QueryRoot" if op.kind == "query" else "Mutation"
                continue
            args = resolve_value(sel.args, variables)
            if op.kind == "mutation":
                resolver = self._mutations().get(sel.name)
                if resolver is None:
                    raise GraphQLError(f"Field '{sel.name}' doesn't exist on type 'Mutation'", "undefinedField",
                                       [sel.key])
                payload = self._run_mutation(sel, args, resolver, variables)
                data[sel.key] = projector.shape(payload, sel, [sel.key])
            else:
                resolver = self._queries().get(sel.name)
                if resolver is None:
                    raise GraphQLError(f"Field '{sel.name}' doesn't exist on type 'QueryRoot'",
                                       "undefinedField", [sel.key])
                data[sel.key] = projector.shape(resolver(args), sel, [sel.key])
        return data

    def _run_mutation(self, sel: Field, args: dict[str, Any], resolver: Callable, variables: dict) -> Any:
        directive = sel.directives.get("idempotent")
        key = None
        if directive is not None:
            if sel.name not in IDEMPOTENT_MUTATIONS:
                raise GraphQLError(f"Directive 'idempotent' is not supported on '{sel.name}'", "BAD_REQUEST",
                                   [sel.key])
            key = resolve_value(directive.get("key"), variables)
            if not isinstance(key, str) or not key:
                raise GraphQLError("The idempotency key must be a non-empty string", "BAD_REQUEST", [sel.key])
        elif sel.name in IDEMPOTENT_MUTATIONS and self.idempotency_required():
            # [U] exact wording/code: the changelog only says "an error at runtime".
            raise GraphQLError(
                f"The @idempotent directive is required for {sel.name} in API version {self.request_version}",
                "BAD_REQUEST", [sel.key])
        if key is None:
            return resolver(args)
        fingerprint = sel.name + ":" + json.dumps(args, sort_keys=True, default=str)
        known = self.idempotency.get(key)
        if known is not None:
            if known[0] != fingerprint:
                raise GraphQLError(
                    "The same idempotency key was used with different parameters",
                    "IDEMPOTENCY_KEY_PARAMETER_MISMATCH", [sel.key])
            return copy.deepcopy(known[1])
        payload = resolver(args)
        self.idempotency[key] = (fingerprint, copy.deepcopy(payload))
        return payload

    def _queries(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {
            "shop": lambda a: self._shop_obj(),
            "products": self._q_products,
            "product": lambda a: self._product_obj(a.get("id")),
            "productVariants": self._q_variants,
            "productVariant": lambda a: self._variant_obj(a.get("id")),
            "orders": self._q_orders,
            "order": lambda a: self._order_obj(a.get("id")),
            "nodes": lambda a: [self._node(i) for i in (a.get("ids") or [])],
            "node": lambda a: self._node(a.get("id")),
            "locations": lambda a: _connection(
                [((n,), self._location_obj(k)) for n, k in enumerate(self.locations)], a, "LocationConnection",
                self.max_page),
            # Without an id: the shop's primary location.
            "location": lambda a: self._location_obj(a.get("id") or self.primary_location),
            "inventoryItem": lambda a: self._item_obj(a.get("id")),
            "fulfillmentOrder": lambda a: self._fo_obj(a.get("id")),
            "productOperation": lambda a: self._operation_obj(a.get("id")),
            "collections": self._q_collections,
            "collection": lambda a: self._collection_obj(a.get("id")),
            "webhookSubscriptions": self._q_subscriptions,
        }

    def _mutations(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {
            "productSet": self._m_product_set,
            "productVariantsBulkUpdate": self._m_variants_bulk_update,
            "productVariantsBulkCreate": self._m_variants_bulk_create,
            "productUpdate": self._m_product_update,
            "metafieldsSet": self._m_metafields_set,
            "collectionCreate": self._m_collection_create,
            "collectionAddProducts": self._m_collection_add_products,
            "inventorySetQuantities": self._m_inventory_set,
            "fulfillmentCreate": self._m_fulfillment_create,
            "webhookSubscriptionCreate": self._m_webhook_create,
            "webhookSubscriptionDelete": self._m_webhook_delete,
        }

    def idempotency_required(self) -> bool:
        if self.require_idempotency is not None:
            return self.require_idempotency
        return self.request_version >= "2026-04"  # §1.3: mandatory from 2026-04

    # https://shopify.dev/docs/api/admin-graphql/2026-01/objects/Shop
    def _shop_obj(self) -> dict[str, Any]:
        return {
            "__typename": "Shop", "__implements": ("Node",), "id": gid("Shop", self.shop_id), "name": self.shop,
            "myshopifyDomain": self.domain, "email": f"owner@{self.domain}", "contactEmail": f"owner@{self.domain}",
            "currencyCode": self.currency, "ianaTimezone": self.shop_timezone, "weightUnit": "KILOGRAMS",
            "url": f"https://{self.domain}",
            "primaryDomain": {"__typename": "Domain", "id": gid("Domain", self.shop_id), "host": self.domain,
                              "url": f"https://{self.domain}", "sslEnabled": True},
            "plan": {"__typename": "ShopPlan", "displayName": "Basic", "partnerDevelopment": False,
                     "shopifyPlus": False},
            "enabledPresentmentCurrencies": [self.currency],
        }

    def _node(self, ident: Any) -> dict[str, Any] | None:
        kind = ident.split("/")[3] if isinstance(ident, str) and ident.startswith("gid://shopify/") else None
        builder = {
            "Product": self._product_obj,
            "ProductVariant": self._variant_obj,
            "Collection": self._collection_obj,
            "Order": self._order_obj,
            "InventoryItem": self._item_obj,
            "Location": self._location_obj,
            "FulfillmentOrder": self._fo_obj,
            "Fulfillment": self._fulfillment_obj,
            "WebhookSubscription": self._subscription_obj,
            "Shop": lambda i: self._shop_obj() if i == gid("Shop", self.shop_id) else None,
        }.get(kind or "")
        return builder(ident) if builder else None
