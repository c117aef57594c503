"""Orders, fulfillment orders and fulfillments.

A shopper's order is stored REST-shaped, as webhooks carry it (storefronts.md §1.2: the full Order, money
as strings, numeric ids plus `admin_graphql_api_id`), and served through GraphQL as `Order` nodes. Shopify
creates one fulfillment order per order and location (§1.5); `fulfillmentCreate` fulfils lines of open
fulfillment orders with tracking and refuses closed ones with the user error §1.5 quotes.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .graphql import GraphQLError
from .values import (
    _compare,
    _connection,
    _dec,
    _iso_utc,
    _mailing_address,
    _money_bag,
    _parse_time,
    _q,
    _search_terms,
    _uerr,
    gid,
    gid_number,
    rest_decimal,
    sort_keyed,
)


def _shop_set(amount: Decimal, currency: str) -> dict[str, Any]:
    money = {"amount": rest_decimal(amount, currency), "currency_code": currency}
    return {"shop_money": money, "presentment_money": dict(money)}


# The contract's example shopper (storefronts.md §1.2).
DEFAULT_ADDRESS = {
    "first_name": "Bob", "last_name": "Norman", "name": "Bob Norman", "company": None,
    "address1": "Chestnut Street 92", "address2": "", "city": "Louisville", "province": "Kentucky",
    "province_code": "KY", "zip": "40202", "country": "United States", "country_code": "US",
    "phone": "555-625-1199",
}


class OrdersMixin:
    def create_order(
        self,
        lines: list[dict[str, Any]],
        *,
        currency: str | None = None,
        email: str | None = "bob@example.com",
        shipping_address: dict[str, Any] | None = None,
        shipping_price: str = "0.00",
        shipping_title: str = "Standard Shipping",
        tax_rate: str = "0",
        financial_status: str = "paid",
    ) -> dict[str, Any]:
        """Place an order as a shopper would; `lines` are {"sku" | "variant_id", "quantity", "price"?,
        "discount"?, "title"?}. Taxes are exclusive: tax_rate x (line total - line discount), rounded
        half-even per line. Delivers orders/create (and orders/paid when paid). Returns the REST order."""
        with self._lock:
            currency = (currency or self.currency).upper()
            now = datetime.now(UTC).replace(microsecond=0)
            oid = self._new_id()
            number = next(self._order_numbers)
            rate = _dec(tax_rate, "tax_rate")
            line_items = []
            subtotal = Decimal(0)
            total_tax = Decimal(0)
            total_disc = Decimal(0)
            for spec in lines:
                variant = None
                if spec.get("variant_id"):
                    variant = self.variants.get(spec["variant_id"])
                elif spec.get("sku"):
                    variant = next((v for v in self.variants.values() if v["sku"] == spec["sku"]), None)
                qty = int(spec.get("quantity", 1))
                if qty <= 0:
                    raise ValueError("quantity must be positive")
                price = _dec(spec["price"], "price") if spec.get("price") is not None else (
                    variant["price"] if variant else None)
                if price is None:
                    raise ValueError(f"line {spec!r} needs a price or a known variant")
                price = _q(price, currency)
                discount = _q(_dec(spec.get("discount", "0"), "discount"), currency)
                tax = _q((price * qty - discount) * rate, currency)
                product = self.products.get(variant["productId"]) if variant else None
                lid = self._new_id()
                line_items.append({
                    "id": lid,
                    "admin_graphql_api_id": gid("LineItem", lid),
                    "product_id": gid_number(product["id"]) if product else None,
                    "variant_id": gid_number(variant["id"]) if variant else None,
                    "sku": spec.get("sku") or (variant["sku"] if variant else None),
                    "title": spec.get("title") or (product["title"] if product else spec.get("sku") or "Item"),
                    "variant_title": " / ".join(o["value"] for o in variant["selectedOptions"]) if variant
                    else None,
                    "name": spec.get("title") or (product["title"] if product else spec.get("sku") or "Item"),
                    "quantity": qty,
                    "current_quantity": qty,
                    "fulfillable_quantity": qty,
                    "price": rest_decimal(price, currency),
                    "total_discount": rest_decimal(discount, currency),
                    "discount_allocations": [
                        {"amount": rest_decimal(discount, currency), "discount_application_index": 0}
                    ] if discount else [],
                    "tax_lines": [
                        {"title": "Tax", "price": rest_decimal(tax, currency), "rate": float(rate)}
                    ] if rate else [],
                    "requires_shipping": True,
                    "taxable": bool(rate),
                    "fulfillment_service": "manual",
                    "fulfillment_status": None,
                    "vendor": product["vendor"] if product else None,
                    "gift_card": False,
                })
                subtotal += price * qty - discount
                total_tax += tax
                total_disc += discount
                if variant:
                    level = self.items[variant["inventoryItemId"]]["levels"].get(self.primary_location)
                    if level is not None:
                        level["available"] -= qty
                        level["committed"] = level.get("committed", 0) + qty
            ship = _q(_dec(shipping_price, "shipping_price"), currency)
            addr = dict(shipping_address or DEFAULT_ADDRESS)
            addr.setdefault("name", f"{addr.get('first_name', '')} {addr.get('last_name', '')}".strip())
            created = now.astimezone(self.shop_tz).isoformat()
            order = {
                "id": oid,
                "admin_graphql_api_id": gid("Order", oid),
                "name": f"#{number}",
                "order_number": number,
                "number": number - 1000,
                "email": email,
                "contact_email": email,
                "created_at": created,
                "updated_at": created,
                "processed_at": created,
                "currency": currency,
                "presentment_currency": currency,
                "financial_status": financial_status,
                "fulfillment_status": None,
                "cancelled_at": None,
                "cancel_reason": None,
                "taxes_included": False,
                "test": False,
                "subtotal_price": rest_decimal(subtotal, currency),
                "total_line_items_price": rest_decimal(subtotal + total_disc, currency),
                "total_tax": rest_decimal(total_tax, currency),
                "total_discounts": rest_decimal(total_disc, currency),
                "total_shipping_price_set": {
                    "shop_money": {"amount": rest_decimal(ship, currency), "currency_code": currency},
                    "presentment_money": {"amount": rest_decimal(ship, currency), "currency_code": currency},
                },
                "total_price": rest_decimal(subtotal + ship + total_tax, currency),
                "tax_lines": [{"title": "Tax", "price": rest_decimal(total_tax, currency), "rate": float(rate)}]
                if rate else [],
                "line_items": line_items,
                "shipping_lines": [{
                    "id": self._new_id(), "code": shipping_title, "title": shipping_title,
                    "price": rest_decimal(ship, currency), "discounted_price": rest_decimal(ship, currency),
                    "source": "shopify",
                }],
                "shipping_address": addr,
                "billing_address": dict(addr),
                "refunds": [],
            }
            self.orders[order["admin_graphql_api_id"]] = order
            fo_id = gid("FulfillmentOrder", self._new_id())
            self.fulfillment_orders[fo_id] = {
                "id": fo_id, "orderId": order["admin_graphql_api_id"], "status": "OPEN",
                "locationId": self.primary_location,
                "lineItems": [
                    {"id": gid("FulfillmentOrderLineItem", self._new_id()), "lineItemId": li["admin_graphql_api_id"],
                     "totalQuantity": li["quantity"], "remainingQuantity": li["quantity"]}
                    for li in line_items
                ],
            }
            self._emit("ORDERS_CREATE", order)
            if financial_status == "paid":
                self._emit("ORDERS_PAID", order)
            return copy.deepcopy(order)

    def refund_order(self, order_id: str | int, lines: list[dict[str, Any]] | None = None, *,
                     shipping: str | None = None, note: str = "") -> dict[str, Any]:
        """Refund part of an order as the admin's refund (refundCreate) does: `lines` are {"line_item_id",
        "quantity"} (the line's price less its discount, and its tax, in proportion to the quantity);
        `shipping` an amount of shipping refunded (its tax in the order's rate). Appends the refund to the
        order's `refunds`, sets financial_status, and delivers refunds/create (the Refund) then
        orders/updated (the Order), storefronts.md §1.2.1. Returns the REST refund."""
        with self._lock:
            order = self.orders[order_id if isinstance(order_id, str) else gid("Order", order_id)]
            cur = order["currency"]
            rid = self._new_id()
            now = datetime.now(UTC).replace(microsecond=0).astimezone(self.shop_tz).isoformat()
            by_id = {li["id"]: li for li in order["line_items"]}
            refund_lines, total = [], Decimal(0)
            for spec in lines or []:
                ident = spec["line_item_id"]
                li = by_id[gid_number(ident) if isinstance(ident, str) else int(ident)]
                qty = int(spec.get("quantity", li["quantity"]))
                if not 0 < qty <= li["quantity"]:
                    raise ValueError(f"refund quantity {qty} for a line of {li['quantity']}")
                share = Decimal(qty) / Decimal(li["quantity"])
                gross = _dec(li["price"], "price") * li["quantity"] - _dec(li["total_discount"], "discount")
                subtotal = _q(gross * share, cur)
                tax = _q(sum((_dec(t["price"], "tax") for t in li["tax_lines"]), Decimal(0)) * share, cur)
                refund_lines.append({
                    "id": self._new_id(), "quantity": qty, "line_item_id": li["id"], "location_id": None,
                    "restock_type": "no_restock", "subtotal": rest_decimal(subtotal, cur),
                    "total_tax": rest_decimal(tax, cur),
                    "subtotal_set": _shop_set(subtotal, cur), "total_tax_set": _shop_set(tax, cur),
                    "line_item": copy.deepcopy(li),
                })
                total += subtotal + tax
            adjustments = []
            if shipping is not None:
                amount = _q(_dec(shipping, "shipping"), cur)
                ship_tax = Decimal(0)  # this emulator's orders tax the lines only (create_order)
                adjustments.append({
                    "id": self._new_id(), "order_id": order["id"], "refund_id": rid, "kind": "shipping_refund",
                    "reason": "Shipping refund", "amount": rest_decimal(-amount, cur),
                    "tax_amount": rest_decimal(-ship_tax, cur), "amount_set": _shop_set(-amount, cur),
                    "tax_amount_set": _shop_set(-ship_tax, cur),
                })
                total += amount + ship_tax
            refund = {
                "id": rid, "admin_graphql_api_id": gid("Refund", rid), "order_id": order["id"],
                "created_at": now, "processed_at": now, "note": note or None, "restock": False,
                "user_id": None, "duties": [], "refund_line_items": refund_lines,
                "order_adjustments": adjustments,
                "transactions": [{
                    "id": self._new_id(), "order_id": order["id"], "kind": "refund", "gateway": "bogus",
                    "status": "success", "amount": rest_decimal(total, cur), "currency": cur,
                    "parent_id": None, "created_at": now,
                }],
            }
            order.setdefault("refunds", []).append(refund)
            refunded = sum((_dec(t["amount"], "amount") for r in order["refunds"] for t in r["transactions"]),
                           Decimal(0))
            order["financial_status"] = ("refunded" if refunded >= _dec(order["total_price"], "total_price")
                                         else "partially_refunded")
            order["updated_at"] = now
            self._emit("REFUNDS_CREATE", refund)
            self._emit("ORDERS_UPDATED", order)
            return copy.deepcopy(refund)

    def cancel_order(self, order_id: str | int, reason: str = "customer") -> dict[str, Any]:
        with self._lock:
            order = self.orders[order_id if isinstance(order_id, str) else gid("Order", order_id)]
            if order["cancelled_at"] is None:
                now = datetime.now(UTC).replace(microsecond=0).astimezone(self.shop_tz).isoformat()
                order["cancelled_at"] = now
                order["updated_at"] = now
                order["cancel_reason"] = reason
                for fo in self.fulfillment_orders.values():
                    if fo["orderId"] == order["admin_graphql_api_id"] and fo["status"] in ("OPEN", "IN_PROGRESS"):
                        fo["status"] = "CANCELLED"
                self._emit("ORDERS_CANCELLED", order)
                self._emit("ORDERS_UPDATED", order)
            return copy.deepcopy(order)

    def _q_orders(self, a: dict[str, Any]) -> dict[str, Any]:
        orders = list(self.orders.values())
        for term, op, value in _search_terms(a.get("query")):
            if term in ("created_at", "updated_at", "processed_at"):
                bound = _parse_time(value)
                orders = [o for o in orders if _compare(_parse_time(o[term]), op, bound)]
            elif term == "name":
                orders = [o for o in orders if o["name"].lstrip("#") == value.lstrip("#")]
            elif term == "financial_status":
                orders = [o for o in orders if o["financial_status"] == value]

        def when(field: str):
            return lambda o: _parse_time(o[field]).timestamp()

        keys = {  # https://shopify.dev/docs/api/admin-graphql/2026-01/enums/OrderSortKeys
            "ID": lambda o: 0, "CREATED_AT": when("created_at"), "UPDATED_AT": when("updated_at"),
            "PROCESSED_AT": when("processed_at"), "ORDER_NUMBER": lambda o: o["order_number"],
            "TOTAL_PRICE": lambda o: float(o["total_price"]), "RELEVANCE": lambda o: 0,
        }
        keyed = sort_keyed(orders, a, keys, "orders", lambda o: o["id"])
        return _connection([(k, self._order_obj(o["admin_graphql_api_id"])) for k, o in keyed], a,
                           "OrderConnection", self.max_page)

    def _order_obj(self, ident: Any) -> dict[str, Any] | None:
        o = self.orders.get(ident)
        if o is None:
            return None
        cur = o["currency"]
        ship = sum((_dec(s["price"], "price") for s in o["shipping_lines"]), Decimal(0))
        fos = [fo for fo in self.fulfillment_orders.values() if fo["orderId"] == o["admin_graphql_api_id"]]
        fuls = [f for f in self.fulfillments.values() if f["orderId"] == o["admin_graphql_api_id"]]

        def line_obj(li: dict[str, Any]) -> dict[str, Any]:
            price = _dec(li["price"], "price")
            return {
                "__typename": "LineItem",
                "id": li["admin_graphql_api_id"],
                "sku": li["sku"],
                "title": li["title"],
                "name": li["name"],
                "variantTitle": li["variant_title"],
                "quantity": li["quantity"],
                "currentQuantity": li["current_quantity"],
                "requiresShipping": li["requires_shipping"],
                "vendor": li["vendor"],
                "variant": self._variant_obj(gid("ProductVariant", li["variant_id"])) if li["variant_id"] else None,
                "product": self._product_obj(gid("Product", li["product_id"])) if li["product_id"] else None,
                "originalUnitPriceSet": _money_bag(price, cur),
                "discountedUnitPriceSet": _money_bag(
                    price - _dec(li["total_discount"], "d") / li["quantity"], cur),
                "originalTotalSet": _money_bag(price * li["quantity"], cur),
                "totalDiscountSet": _money_bag(_dec(li["total_discount"], "d"), cur),
                "discountAllocations": [
                    {"__typename": "DiscountAllocation",
                     "allocatedAmountSet": _money_bag(_dec(d["amount"], "d"), cur)}
                    for d in li["discount_allocations"]
                ],
                "taxLines": [
                    {"__typename": "TaxLine", "title": t["title"], "rate": t["rate"],
                     "priceSet": _money_bag(_dec(t["price"], "t"), cur)}
                    for t in li["tax_lines"]
                ],
            }

        return {
            "__typename": "Order",
            "__implements": ("Node",),
            "id": o["admin_graphql_api_id"],
            "legacyResourceId": str(o["id"]),
            "name": o["name"],
            "email": o["email"],
            "createdAt": _iso_utc(_parse_time(o["created_at"])),
            "updatedAt": _iso_utc(_parse_time(o["updated_at"])),
            "processedAt": _iso_utc(_parse_time(o["processed_at"])),
            "cancelledAt": _iso_utc(_parse_time(o["cancelled_at"])) if o["cancelled_at"] else None,
            "cancelReason": o["cancel_reason"].upper() if o["cancel_reason"] else None,
            "closed": False,
            "test": o["test"],
            "currencyCode": cur,
            "presentmentCurrencyCode": o["presentment_currency"],
            "displayFinancialStatus": o["financial_status"].upper() if o["financial_status"] else None,
            "displayFulfillmentStatus": (o["fulfillment_status"] or "unfulfilled").upper(),
            "taxesIncluded": o["taxes_included"],
            "subtotalPriceSet": _money_bag(_dec(o["subtotal_price"], "p"), cur),
            "totalPriceSet": _money_bag(_dec(o["total_price"], "p"), cur),
            "totalTaxSet": _money_bag(_dec(o["total_tax"], "p"), cur),
            "totalDiscountsSet": _money_bag(_dec(o["total_discounts"], "p"), cur),
            "totalShippingPriceSet": _money_bag(ship, cur),
            "shippingAddress": _mailing_address(o["shipping_address"]),
            "billingAddress": _mailing_address(o["billing_address"]),
            "taxLines": [
                {"__typename": "TaxLine", "title": t["title"], "rate": t["rate"],
                 "priceSet": _money_bag(_dec(t["price"], "t"), cur)}
                for t in o["tax_lines"]
            ],
            "lineItems": lambda a: _connection(
                [((li["id"],), line_obj(li)) for li in o["line_items"]], a, "LineItemConnection", self.max_page),
            "shippingLines": lambda a: _connection(
                [((s["id"],), {"__typename": "ShippingLine", "id": gid("ShippingLine", s["id"]),
                               "title": s["title"], "code": s["code"], "source": s["source"],
                               "originalPriceSet": _money_bag(_dec(s["price"], "p"), cur),
                               "discountedPriceSet": _money_bag(_dec(s["discounted_price"], "p"), cur)})
                 for s in o["shipping_lines"]], a, "ShippingLineConnection", self.max_page),
            "fulfillmentOrders": lambda a: _connection(
                [((gid_number(fo["id"]),), self._fo_obj(fo["id"])) for fo in fos], a,
                "FulfillmentOrderConnection", self.max_page),
            "fulfillments": lambda a: [self._fulfillment_obj(f["id"]) for f in fuls][: a.get("first") or None],
        }

    def _fo_obj(self, ident: Any) -> dict[str, Any] | None:
        fo = self.fulfillment_orders.get(ident)
        if fo is None:
            return None
        order = self.orders[fo["orderId"]]
        by_id = {li["admin_graphql_api_id"]: li for li in order["line_items"]}

        def fo_line(fl: dict[str, Any]) -> dict[str, Any]:
            li = by_id[fl["lineItemId"]]
            return {
                "__typename": "FulfillmentOrderLineItem",
                "id": fl["id"],
                "totalQuantity": fl["totalQuantity"],
                "remainingQuantity": fl["remainingQuantity"],
                "sku": li["sku"],
                "lineItem": {
                    "__typename": "LineItem", "id": li["admin_graphql_api_id"], "sku": li["sku"],
                    "quantity": li["quantity"], "title": li["title"],
                    "variant": self._variant_obj(gid("ProductVariant", li["variant_id"])) if li["variant_id"]
                    else None,
                },
            }

        return {
            "__typename": "FulfillmentOrder",
            "__implements": ("Node",),
            "id": fo["id"],
            "status": fo["status"],
            "requestStatus": "UNSUBMITTED",
            "orderId": fo["orderId"],
            "order": lambda a: self._order_obj(fo["orderId"]),
            "assignedLocation": {"__typename": "FulfillmentOrderAssignedLocation",
                                 "name": self.locations[fo["locationId"]]["name"],
                                 "location": self._location_obj(fo["locationId"])},
            "lineItems": lambda a: _connection(
                [((gid_number(fl["id"]),), fo_line(fl)) for fl in fo["lineItems"]], a,
                "FulfillmentOrderLineItemConnection", self.max_page),
        }

    def _fulfillment_obj(self, ident: Any) -> dict[str, Any] | None:
        f = self.fulfillments.get(ident)
        if f is None:
            return None
        return {
            "__typename": "Fulfillment",
            "__implements": ("Node",),
            "id": f["id"],
            "status": f["status"],
            "createdAt": f["createdAt"],
            "trackingInfo": lambda a: [{"__typename": "FulfillmentTrackingInfo", **t} for t in f["trackingInfo"]]
            [: a.get("first") or None],
            "order": lambda a: self._order_obj(f["orderId"]),
        }

    # -- fulfillmentCreate -------------------------------------------------------------------------
    # https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/fulfillmentCreate

    def _m_fulfillment_create(self, a: dict[str, Any]) -> dict[str, Any]:
        data = a.get("fulfillment")
        payload: dict[str, Any] = {"__typename": "FulfillmentCreatePayload", "fulfillment": None, "userErrors": []}
        if not isinstance(data, dict) or not data.get("lineItemsByFulfillmentOrder"):
            raise GraphQLError("Argument 'fulfillment' (FulfillmentInput!) needs lineItemsByFulfillmentOrder",
                               "missingRequiredArguments")
        plan: list[tuple[dict[str, Any], dict[str, Any], int]] = []
        order_ids = set()
        for i, group in enumerate(data["lineItemsByFulfillmentOrder"]):
            fo = self.fulfillment_orders.get(group.get("fulfillmentOrderId"))
            path = ["fulfillment", "lineItemsByFulfillmentOrder", str(i)]
            if fo is None:
                payload["userErrors"] = [_uerr(path + ["fulfillmentOrderId"], "Fulfillment order does not exist.")]
                return payload
            if fo["status"] not in ("OPEN", "IN_PROGRESS"):
                payload["userErrors"] = [_uerr(path, "The fulfillment order is not in an open state.")]
                return payload
            order_ids.add(fo["orderId"])
            wanted = group.get("fulfillmentOrderLineItems") or []
            if not wanted:
                plan.extend((fo, fl, fl["remainingQuantity"]) for fl in fo["lineItems"] if fl["remainingQuantity"])
            for j, w in enumerate(wanted):
                fl = next((x for x in fo["lineItems"] if x["id"] == w.get("id")), None)
                qty = w.get("quantity")
                if fl is None:
                    payload["userErrors"] = [_uerr(path + ["fulfillmentOrderLineItems", str(j), "id"],
                                                   "Fulfillment order line item does not exist.")]
                    return payload
                if not isinstance(qty, int) or qty <= 0 or qty > fl["remainingQuantity"]:
                    payload["userErrors"] = [_uerr(path + ["fulfillmentOrderLineItems", str(j), "quantity"],
                                                   "Invalid fulfillment order line item quantity requested.")]
                    return payload
                plan.append((fo, fl, qty))
        if len(order_ids) != 1:
            payload["userErrors"] = [_uerr(["fulfillment"], "All fulfillment orders must belong to the same order.")]
            return payload
        if not plan:
            payload["userErrors"] = [_uerr(["fulfillment"], "Nothing left to fulfill.")]
            return payload
        tracking = data.get("trackingInfo") or {}
        numbers = tracking.get("numbers") or ([tracking["number"]] if tracking.get("number") else [])
        urls = tracking.get("urls") or ([tracking["url"]] if tracking.get("url") else [])
        infos = [{"company": tracking.get("company"), "number": n, "url": urls[k] if k < len(urls) else None}
                 for k, n in enumerate(numbers)]
        order_id = order_ids.pop()
        for fo, fl, qty in plan:
            fl["remainingQuantity"] -= qty
            fo["status"] = "CLOSED" if all(x["remainingQuantity"] == 0 for x in fo["lineItems"]) else "IN_PROGRESS"
        fid = gid("Fulfillment", self._new_id())
        self.fulfillments[fid] = {
            "id": fid, "orderId": order_id, "status": "SUCCESS", "createdAt": _iso_utc(datetime.now(UTC)),
            "trackingInfo": infos, "notifyCustomer": bool(data.get("notifyCustomer", False)),
            "message": a.get("message"),
            "lineItems": [{"fulfillmentOrderLineItemId": fl["id"], "lineItemId": fl["lineItemId"], "quantity": q}
                          for _fo, fl, q in plan],
        }
        order = self.orders[order_id]
        remaining = sum(fl["remainingQuantity"] for fo in self.fulfillment_orders.values()
                        if fo["orderId"] == order_id for fl in fo["lineItems"])
        order["fulfillment_status"] = "fulfilled" if remaining == 0 else "partial"
        order["updated_at"] = datetime.now(UTC).replace(microsecond=0).astimezone(self.shop_tz).isoformat()
        self._emit("ORDERS_FULFILLED" if remaining == 0 else "ORDERS_PARTIALLY_FULFILLED", order)
        self._emit("ORDERS_UPDATED", order)
        payload["fulfillment"] = self._fulfillment_obj(fid)
        return payload

    # -- in-process (tests, demo) -------------------------------------------------------------------

    def fulfillments_for(self, order_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(f) for f in self.fulfillments.values() if f["orderId"] == order_id]

