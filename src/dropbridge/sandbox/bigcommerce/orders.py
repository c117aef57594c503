"""v2 Orders (storefronts.md §3.2.1, §3.5).

Orders, their products and shipping addresses answer bare objects and arrays with the documented fields
(`order_Resp` in orders.v2.oas2.yml); money is a string with 4 decimals, dates RFC 2822; `GET /v2/orders`
leaves out incomplete (status 0) orders unless asked for them, and answers 204 when a page is empty
(§3.7: documented for shipments, [U] for orders: `empty_orders_204`). A shipment (201) emails the customer
(`notify_on_shipment`) and, [U], moves the order to Shipped (2) or Partially Shipped (3)
(`auto_status_on_shipment`). `GET /v2/orders/count` counts orders per status.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from .errors import BcError

# https://developer.bigcommerce.com/docs/rest-management/orders/order-status (orders.v2.oas2.yml)
STATUSES = {
    0: "Incomplete", 1: "Pending", 2: "Shipped", 3: "Partially Shipped", 4: "Refunded", 5: "Cancelled",
    6: "Declined", 7: "Awaiting Payment", 8: "Awaiting Pickup", 9: "Awaiting Shipment", 10: "Completed",
    11: "Awaiting Fulfillment", 12: "Manual Verification Required", 13: "Disputed", 14: "Partially Refunded",
}
STATUS_ORDER = {0: 0, 1: 1, 7: 2, 11: 3, 9: 4, 8: 5, 3: 6, 10: 7, 2: 8, 5: 9, 6: 10, 4: 11, 13: 12, 12: 13, 14: 14}
SHIPPING_PROVIDERS = {"", "auspost", "canadapost", "endicia", "usps", "fedex", "royalmail", "ups", "upsready",
                      "shipperhq"}
PROVIDER_NAMES = {"ups": "UPS", "upsready": "UPS", "usps": "USPS", "fedex": "FedEx", "royalmail": "Royal Mail",
                  "canadapost": "Canada Post", "auspost": "Australia Post", "endicia": "Endicia"}


def _money(value: Decimal) -> str:
    return f"{value:.4f}"


def _q2(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _rfc2822(dt: datetime) -> str:
    return format_datetime(dt.astimezone(UTC)).replace("-0000", "+0000")


def parse_date(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return parsedate_to_datetime(value).astimezone(UTC)


class OrdersMixin:
    # ---- in-process --------------------------------------------------------------------------

    def order(self, order_id: int | str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.orders[int(order_id)])

    def shipments_of(self, order_id: int | str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self.orders[int(order_id)]["shipments"])

    def fulfillments_of(self, order_id: int | str) -> list[dict[str, Any]]:
        with self._lock:
            out = []
            for s in self.orders[int(order_id)]["shipments"]:
                notified = any(m["shipment_id"] == s["id"] for m in self.emails)
                out.append({
                    "tracking_number": s["tracking_number"],
                    "carrier": PROVIDER_NAMES.get(s["shipping_provider"], s["shipping_provider"])
                    or s["tracking_carrier"],
                    "tracking_url": s["tracking_link"] or s["generated_tracking_link"] or None,
                    "notified": notified,
                })
            return out

    def order_statuses(self) -> list[dict[str, Any]]:
        return [{"id": i, "name": name, "system_label": name, "custom_label": name,
                 "system_description": name, "order": STATUS_ORDER[i]} for i, name in STATUSES.items()]

    def orders_count(self) -> dict[str, Any]:
        """`GET /v2/orders/count`: every status with its count, and the total."""
        counts = {i: 0 for i in STATUSES}
        for order in self.orders.values():
            counts[order["status_id"]] += 1
        statuses = [{"id": i, "name": name, "system_label": name, "custom_label": name,
                     "system_description": name, "count": counts[i], "sort_order": STATUS_ORDER[i]}
                    for i, name in STATUSES.items()]
        return {"statuses": statuses, "count": sum(counts.values())}

    def create_order(
        self,
        lines: list[dict[str, Any]],
        *,
        currency: str | None = None,
        status_id: int = 11,
        email: str = "shopper@example.com",
        shipping_cost: str = "0.00",
        address: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A shopper checks out: lines are {"sku", "quantity", "price"?, "tax"?, "discount"?}."""
        with self._lock:
            self._settle()
            now = datetime.now(UTC)
            oid = 100 + self._next_id()
            addr = {
                "first_name": "Grace",
                "last_name": "Hopper",
                "company": "",
                "street_1": "1 Navy Way",
                "street_2": "",
                "city": "Arlington",
                "state": "Virginia",
                "zip": "22202",
                "country": "United States",
                "country_iso2": "US",
                "phone": "555-0100",
                "email": email,
            }
            addr.update(address or {})
            address_id = self._next_id()
            products = []
            subtotal = tax_total = discount_total = Decimal(0)
            items_total = 0
            for line in lines:
                owner = self._sku_owner(line["sku"])
                if owner is None:
                    raise BcError(400, f"no product with SKU {line['sku']}")
                if owner in self.products:
                    product = self.products[owner]
                    variant = self.variants[product["base_variant_id"]]
                else:
                    variant = self.variants[owner]
                    product = self.products[variant["product_id"]]
                qty = int(line["quantity"])
                default = variant["price"] if variant["price"] is not None else product["price"]
                unit = Decimal(str(line.get("price") or default))
                tax = Decimal(str(line.get("tax", "0")))
                discount = Decimal(str(line.get("discount", "0")))
                total_ex = unit * qty - discount
                products.append(
                    {
                        "id": self._next_id(),
                        "order_id": oid,
                        "product_id": product["id"],
                        "variant_id": variant["id"],
                        "order_address_id": address_id,
                        "name": product["name"],
                        "sku": variant["sku"] or product["sku"],
                        "type": "physical",
                        "base_price": _money(unit),
                        "price_ex_tax": _money(unit),
                        "price_inc_tax": _money(unit + tax / qty),
                        "price_tax": _money(tax / qty),
                        "base_total": _money(unit * qty),
                        "total_ex_tax": _money(total_ex),
                        "total_inc_tax": _money(total_ex + tax),
                        "total_tax": _money(tax),
                        "quantity": qty,
                        "quantity_shipped": 0,
                        "applied_discounts": [
                            {"id": "coupon", "amount": _money(discount), "name": "", "code": None, "target": "order"}
                        ]
                        if discount
                        else [],
                        "product_options": [
                            {
                                "display_name": ov["option_display_name"],
                                "display_value": ov["label"],
                                "option_id": ov["option_id"],
                                "value": str(ov["id"]),
                            }
                            for ov in variant["option_values"]
                        ],
                    }
                )
                subtotal += unit * qty
                tax_total += tax
                discount_total += discount
                items_total += qty
                if self.reduce_stock_on_order and status_id not in (0,):
                    target = product if product["inventory_tracking"] == "product" else variant
                    if product["inventory_tracking"] != "none":
                        target["levels"][self.default_location] = (
                            target["levels"].get(self.default_location, 0) - qty)
            ship = Decimal(shipping_cost)
            base = f"{self.url if self._server else self.api_host}/stores/{self.store_hash}/v2/orders/{oid}"
            order = {
                "id": oid,
                "customer_id": 0,
                "date_created": _rfc2822(now),
                "date_modified": _rfc2822(now),
                "date_shipped": "",
                "status_id": status_id,
                "status": STATUSES[status_id],
                "currency_code": currency or self.currency,
                "default_currency_code": self.currency,
                "subtotal_ex_tax": _money(subtotal),
                "subtotal_inc_tax": _money(subtotal + tax_total),
                "subtotal_tax": _money(tax_total),
                "shipping_cost_ex_tax": _money(ship),
                "shipping_cost_inc_tax": _money(ship),
                "discount_amount": _money(discount_total),
                "coupon_discount": "0.0000",
                "total_ex_tax": _money(subtotal - discount_total + ship),
                "total_inc_tax": _money(subtotal - discount_total + ship + tax_total),
                "total_tax": _money(tax_total),
                "items_total": items_total,
                "items_shipped": 0,
                "payment_status": "captured" if status_id in (11, 9, 10, 2, 3) else "",
                "base_shipping_cost": _money(ship), "shipping_cost_tax": "0.0000", "shipping_cost_tax_class_id": 0,
                "base_handling_cost": "0.0000", "handling_cost_ex_tax": "0.0000", "handling_cost_inc_tax": "0.0000",
                "handling_cost_tax": "0.0000", "handling_cost_tax_class_id": 0, "base_wrapping_cost": "0.0000",
                "wrapping_cost_ex_tax": "0.0000", "wrapping_cost_inc_tax": "0.0000", "wrapping_cost_tax": "0.0000",
                "wrapping_cost_tax_class_id": 0, "payment_method": "Credit Card",
                "payment_provider_id": None, "refunded_amount": "0.0000", "order_is_digital": False,
                "store_credit_amount": "0.0000", "gift_certificate_amount": "0.0000", "ip_address": "127.0.0.1",
                "ip_address_v6": "", "geoip_country": addr["country"], "geoip_country_iso2": addr["country_iso2"],
                "currency_id": 1, "currency_exchange_rate": "1.0000000000", "default_currency_id": 1,
                "store_default_currency_code": self.currency, "store_default_to_transactional_exchange_rate":
                "1.0000000000", "staff_notes": "", "customer_message": "", "is_deleted": False,
                "is_email_opt_in": False, "credit_card_type": None, "ebay_order_id": "0",
                "external_source": None, "external_id": None, "external_merchant_id": None,
                "channel_id": 1, "tax_provider_id": "BasicTaxProvider", "customer_locale": "en",
                "order_source": "www", "cart_id": str(uuid.uuid4()),
                "coupons": {"url": base + "/coupons", "resource": f"/orders/{oid}/coupons"},
                "billing_address": {k: v for k, v in addr.items()},
                "products": {"url": base + "/products", "resource": f"/orders/{oid}/products"},
                "shipping_addresses": {
                    "url": base + "/shipping_addresses",
                    "resource": f"/orders/{oid}/shipping_addresses",
                },
                "_products": products,
                "_addresses": [
                    {
                        "id": address_id,
                        "order_id": oid,
                        **{k: v for k, v in addr.items()},
                        "shipping_method": "Flat Rate",
                        "items_total": items_total,
                        "items_shipped": 0,
                    }
                ],
                "shipments": [],
                "_modified": now,
            }
            self.orders[oid] = order
            self._fire("store/order/created", {"type": "order", "id": oid})
            return self._order_view(order)

    def refund_order(self, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """POST /v3/orders/{id}/payment_actions/refunds (storefronts.md §3.2.2): items [{item_type PRODUCT
        (item_id: the order product id, quantity) | SHIPPING (item_id: the order address id, amount) | ORDER
        (amount)}], payments, reason. The product's tax goes back in proportion to the quantity. Records the
        refund, moves the order to Partially Refunded (14) or Refunded (4) and fires
        store/order/refund/created (then statusUpdated). Answers the v3 refund {"data", "meta"}."""
        with self._lock:
            order = self.orders.get(int(order_id))
            if order is None:
                raise BcError(404, "The requested resource was not found.")
            products = {p["id"]: p for p in order["_products"]}
            items, amount, tax = [], Decimal(0), Decimal(0)
            for spec in body.get("items") or []:
                kind = spec.get("item_type")
                if kind == "PRODUCT":
                    product = products.get(int(spec.get("item_id", 0)))
                    qty = int(spec.get("quantity") or 0)
                    if product is None or not 0 < qty <= product["quantity"]:
                        raise BcError(422, "Invalid refund item.")
                    share = Decimal(qty) / product["quantity"]
                    amount += _q2(Decimal(product["total_ex_tax"]) * share)
                    tax += _q2(Decimal(product["total_tax"]) * share)
                    items.append({"item_type": kind, "item_id": product["id"], "quantity": qty,
                                  "requested_amount": None, "reason": spec.get("reason", "")})
                elif kind in ("SHIPPING", "ORDER", "HANDLING"):
                    value = Decimal(str(spec.get("amount") or "0"))
                    amount += value
                    items.append({"item_type": kind, "item_id": int(spec.get("item_id") or order["id"]),
                                  "quantity": None, "requested_amount": f"{value:.2f}",
                                  "reason": spec.get("reason", "")})
                else:
                    raise BcError(422, f"Invalid item_type {kind!r}.")
            total = amount + tax
            refunded = Decimal(order["refunded_amount"])
            if total <= 0 or refunded + total > Decimal(order["total_inc_tax"]):
                raise BcError(422, "The refund amount is more than the amount available to refund.")
            rid = self._next_id()
            refund = {"id": rid, "order_id": order["id"], "user_id": 0,
                      "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
                      "reason": body.get("reason", ""), "total_amount": float(total), "total_tax": float(tax),
                      "uses_merchant_override_values": False,
                      "payments": [{"id": self._next_id(), "provider_id": p.get("provider_id", "custom"),
                                    "amount": float(p.get("amount", total)), "offline": bool(p.get("offline", True)),
                                    "is_declined": False, "declined_message": ""}
                                   for p in body.get("payments") or [{"amount": float(total)}]],
                      "items": items}
            order.setdefault("_refunds", []).append(refund)
            order["refunded_amount"] = _money(refunded + total)
            self._fire("store/order/refund/created", {"type": "order", "id": order["id"],
                                                      "refund": {"refund_id": rid}})
            full = refunded + total >= Decimal(order["total_inc_tax"])
            self._set_status(order, 4 if full else 14)
            return {"data": copy.deepcopy(refund), "meta": {}}

    def refunds_of(self, order_id: int) -> list[dict[str, Any]]:
        with self._lock:
            order = self.orders.get(int(order_id))
            if order is None:
                raise BcError(404, "The requested resource was not found.")
            return copy.deepcopy(order.get("_refunds", []))

    def _order_view(self, order: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in order.items() if not k.startswith("_") and k != "shipments"}

    def _set_status(self, order: dict[str, Any], status_id: int) -> None:
        if status_id not in STATUSES:
            raise BcError(400, f"The field 'status_id' is invalid: {status_id}")
        previous = order["status_id"]
        if previous == status_id:
            return
        order["status_id"] = status_id
        order["status"] = STATUSES[status_id]
        self._touch(order)
        self._fire(
            "store/order/statusUpdated",
            {
                "type": "order",
                "id": order["id"],
                "status": {"previous_status_id": previous, "new_status_id": status_id},
            },
        )

    def _touch(self, order: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        order["_modified"] = now
        order["date_modified"] = _rfc2822(now)
        self._fire("store/order/updated", {"type": "order", "id": order["id"]})

    def _create_shipment(self, order: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BcError(400, "The request body is not valid JSON.")
        address = next((a for a in order["_addresses"] if a["id"] == body.get("order_address_id")), None)
        if address is None:
            raise BcError(400, "The field 'order_address_id' is invalid or missing.")
        items = body.get("items")
        if not isinstance(items, list) or not items:
            raise BcError(400, "The field 'items' is invalid or missing.")
        number = str(body.get("tracking_number") or "")
        if len(number) > 50:
            raise BcError(400, "The field 'tracking_number' cannot be longer than 50 characters.")
        provider = body.get("shipping_provider", "") or ""
        if provider not in SHIPPING_PROVIDERS and not str(provider).startswith("carrier_"):
            raise BcError(400, f"The field 'shipping_provider' is invalid: {provider}")
        lines = {p["id"]: p for p in order["_products"]}
        for item in items:
            line = lines.get(item.get("order_product_id"))
            qty = item.get("quantity")
            if line is None:
                raise BcError(400, f"The order product {item.get('order_product_id')} does not exist.")
            if not isinstance(qty, int) or qty < 1 or line["quantity_shipped"] + qty > line["quantity"]:
                raise BcError(400, f"The quantity for order product {line['id']} is invalid.")
        for item in items:
            lines[item["order_product_id"]]["quantity_shipped"] += item["quantity"]
        shipped = sum(p["quantity_shipped"] for p in order["_products"])
        order["items_shipped"] = shipped
        address["items_shipped"] = shipped
        generated = f"https://track.example/{provider}/{number}" if provider and number else ""
        shipment = {
            "id": self._next_id(),
            "order_id": order["id"],
            "customer_id": order["customer_id"],
            "order_address_id": address["id"],
            "date_created": _rfc2822(datetime.now(UTC)),
            "tracking_number": number,
            "shipping_method": body.get("shipping_method", ""),
            "shipping_provider": provider,
            "tracking_carrier": body.get("tracking_carrier", "") or "",
            "tracking_link": body.get("tracking_link", "") or "",
            "generated_tracking_link": generated,
            "comments": body.get("comments", "") or "",
            "merchant_shipping_cost": body.get("merchant_shipping_cost", "0.0000"),
            "billing_address": copy.deepcopy(order["billing_address"]),
            "shipping_address": {k: v for k, v in address.items() if k not in ("items_total", "items_shipped")},
            "items": [
                {
                    "order_product_id": i["order_product_id"],
                    "product_id": lines[i["order_product_id"]]["product_id"],
                    "quantity": i["quantity"],
                }
                for i in items
            ],
        }
        order["shipments"].append(shipment)
        if self.notify_on_shipment:
            self.emails.append({"order_id": order["id"], "shipment_id": shipment["id"], "to": address["email"]})
        self._fire("store/shipment/created", {"type": "shipment", "id": shipment["id"], "orderId": order["id"]})
        if self.auto_status_on_shipment:
            self._set_status(order, 2 if shipped >= order["items_total"] else 3)
        else:
            self._touch(order)
        return shipment

