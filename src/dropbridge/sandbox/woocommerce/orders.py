"""Orders, order notes and shipment tracking (storefronts.md §2.2, §2.5).

An order answers the documented shape in full (https://woocommerce.github.io/woocommerce-rest-api-docs/
#order-properties, plus `currency_symbol`, `payment_url`, `is_editable`, `needs_payment`,
`needs_processing` of current versions): totals are strings with 2 decimals, line `price` a JSON number,
dates without offset (§2.2). Status `completed` sends the "Completed order" email and a customer note
(`customer_note: true`) emails the customer (§2.5). The Shipment Tracking extension (§2.5 option 2) is
emulated when `shipment_tracking_plugin` is on; its items live in order meta `_wc_shipment_tracking_items`.
"""

from __future__ import annotations

import copy
import hashlib
import time
from decimal import Decimal
from typing import Any

from .catalog import merge_meta
from .errors import WooError, woo_json
from .shapes import money, now, wp_date

ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash")
TRACKING_META = "_wc_shipment_tracking_items"
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "$", "AUD": "$", "CHF": "CHF"}
DEFAULT_ADDRESS = {
    "first_name": "Ada", "last_name": "Lovelace", "company": "", "address_1": "12 St James's Square",
    "address_2": "", "city": "London", "state": "", "postcode": "SW1Y 4JH", "country": "GB", "phone": "",
}


class OrdersMixin:
    # ---- in-process --------------------------------------------------------------------------

    def order(self, order_id: int | str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.orders[int(order_id)])

    def order_notes(self, order_id: int | str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self.notes.get(int(order_id), []))

    def tracking_items(self, order_id: int | str) -> list[dict[str, Any]]:
        with self._lock:
            order = self.orders[int(order_id)]
            for meta in order["meta_data"]:
                if meta["key"] == TRACKING_META and isinstance(meta["value"], list):
                    return copy.deepcopy(meta["value"])
            return []

    def fulfillments_of(self, order_id: int | str) -> list[dict[str, Any]]:
        """Tracking items of an order, each with whether an email to the customer carried it."""
        with self._lock:
            mails = [m for m in self.emails if m["order_id"] == int(order_id)]
            out = []
            for item in self.tracking_items(order_id):
                number = item.get("tracking_number", "")
                carrier = item.get("custom_tracking_provider") or item.get("tracking_provider", "")
                link = item.get("custom_tracking_link") or item.get("tracking_link") or None
                # The "Completed order" email lists the tracking items the order had at that moment.
                notified = any(number and number in m["body"] for m in mails)
                out.append({"tracking_number": number, "carrier": carrier,
                            "tracking_url": link.replace("%1$s", number) if link else None, "notified": notified})
            return out

    def create_order(
        self,
        lines: list[dict[str, Any]],
        *,
        currency: str | None = None,
        status: str = "processing",
        email: str = "shopper@example.com",
        shipping: dict[str, str] | None = None,
        shipping_total: str = "0.00",
        created_via: str = "checkout",
    ) -> dict[str, Any]:
        """A shopper checks out: lines are {"sku", "quantity", "price"?, "tax"?, "discount"?}."""
        with self._lock:
            stamp = wp_date(now())
            address = {**DEFAULT_ADDRESS, **(shipping or {})}
            items = []
            subtotal = total_tax = discount = Decimal(0)
            for line in lines:
                product = next((p for p in self.products.values() if p["sku"] == line["sku"]), None)
                if product is None:
                    raise WooError(400, "woocommerce_rest_invalid_product", f"no product with SKU {line['sku']}")
                qty = int(line["quantity"])
                unit = Decimal(str(line.get("price") or product["price"]))
                line_sub = unit * qty
                line_disc = Decimal(str(line.get("discount", "0")))
                line_tax = Decimal(str(line.get("tax", "0")))
                line_total = line_sub - line_disc
                is_var = product["type"] == "variation"
                parent = self.products[product["parent_id"]] if is_var else None
                image = (product.get("image") if is_var else None) or (
                    (parent or product)["images"][0] if (parent or product)["images"] else None)
                items.append({
                    "id": self._next_item_id(),
                    "name": parent["name"] if is_var else product["name"],
                    "product_id": product["parent_id"] if is_var else product["id"],
                    "variation_id": product["id"] if is_var else 0,
                    "quantity": qty,
                    "tax_class": "",
                    "subtotal": money(line_sub),
                    "subtotal_tax": money(line_tax),
                    "total": money(line_total),
                    "total_tax": money(line_tax),
                    "taxes": [{"id": 1, "total": money(line_tax), "subtotal": money(line_tax)}] if line_tax else [],
                    "meta_data": [{"id": self._next_meta_id(), "key": a.get("name", ""), "value": a.get("option", ""),
                                   "display_key": a.get("name", ""), "display_value": a.get("option", "")}
                                  for a in product["attributes"]] if is_var else [],
                    "sku": product["sku"],
                    "price": line_total / qty,  # a JSON number (§2.2)
                    "image": {"id": image["id"], "src": image["src"]} if image else {"id": "", "src": ""},
                    "parent_name": parent["name"] if is_var else None,
                })
                subtotal += line_sub
                discount += line_disc
                total_tax += line_tax
                if self.reduce_stock_on_order and status in ("processing", "completed") and product["manage_stock"]:
                    product["stock_quantity"] -= qty
                    product["total_sales"] += qty
                    product["stock_status"] = "instock" if product["stock_quantity"] > 0 else "outofstock"
            ship = Decimal(shipping_total)
            paid = status in ("processing", "completed")
            oid = self._next_id()
            order_key = "wc_order_" + hashlib.sha1(str(oid).encode()).hexdigest()[:13]
            currency = currency or self.currency
            order = {
                "id": oid, "parent_id": 0, "number": str(oid), "order_key": order_key, "created_via": created_via,
                "version": self.wc_version, "status": status, "currency": currency,
                "currency_symbol": SYMBOLS.get(currency, currency), "date_created": stamp,
                "date_created_gmt": stamp, "date_modified": stamp, "date_modified_gmt": stamp,
                "discount_total": money(discount), "discount_tax": "0.00", "shipping_total": money(ship),
                "shipping_tax": "0.00", "cart_tax": money(total_tax),
                "total": money(subtotal - discount + ship + total_tax), "total_tax": money(total_tax),
                "prices_include_tax": False, "customer_id": 0, "customer_ip_address": "127.0.0.1",
                "customer_user_agent": "Mozilla/5.0", "customer_note": "",
                "billing": {**address, "email": email}, "shipping": address,
                "payment_method": "bacs", "payment_method_title": "Direct bank transfer", "transaction_id": "",
                "date_paid": stamp if paid else None, "date_paid_gmt": stamp if paid else None,
                "date_completed": None, "date_completed_gmt": None,
                "cart_hash": hashlib.md5(repr(lines).encode()).hexdigest(),
                "meta_data": [], "line_items": items,
                "tax_lines": [{"id": self._next_item_id(), "rate_code": "TAX-1", "rate_id": 1, "label": "Tax",
                               "compound": False, "tax_total": money(total_tax), "shipping_tax_total": "0.00",
                               "rate_percent": 0, "meta_data": []}] if total_tax else [],
                "shipping_lines": [{"id": self._next_item_id(), "method_title": "Flat rate", "method_id": "flat_rate",
                                    "instance_id": "1", "total": money(ship), "total_tax": "0.00", "taxes": [],
                                    "meta_data": []}],
                "fee_lines": [], "coupon_lines": [], "refunds": [],
                "payment_url": f"{self.site_url.rstrip('/')}/checkout/order-pay/{oid}/?pay_for_order=true"
                               f"&key={order_key}",
                "is_editable": status in ("pending", "on-hold", "auto-draft"),
                "needs_payment": status in ("pending", "failed"),
                "needs_processing": True,
            }
            self.orders[oid] = order
            self.notes[oid] = []
            self._trigger("order", "created", oid)
            return copy.deepcopy(order)

    def refund_order(self, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """POST /orders/{id}/refunds (storefronts.md §2.2.1): `amount` (required), `reason`, `line_items`
        [{id, quantity?, refund_total, refund_tax: [{id, refund_total}]}] where an id may be a product line
        or a shipping line. With api_refund false (the default here: no gateway) it only records the refund.
        The order gains {id, reason, total: "-amount"} in `refunds`, `refunded` status when fully
        refunded, and an order.updated delivery (woocommerce_order_refunded)."""
        with self._lock:
            order = self.orders.get(int(order_id))
            if order is None:
                raise WooError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            try:
                amount = Decimal(str(body.get("amount")))
            except Exception:  # noqa: BLE001 - any unreadable amount is the same error
                raise WooError(400, "woocommerce_rest_cannot_create_order_refund",
                               "Refund amount must be greater than zero.") from None
            refunded = sum((-Decimal(r["total"]) for r in order["refunds"]), Decimal(0))
            if amount <= 0:
                raise WooError(400, "woocommerce_rest_cannot_create_order_refund",
                               "Refund amount must be greater than zero.")
            if amount > Decimal(order["total"]) - refunded:
                raise WooError(400, "woocommerce_rest_cannot_create_order_refund", "Invalid refund amount.")
            products = {li["id"]: li for li in order["line_items"]}
            ships = {sl["id"]: sl for sl in order["shipping_lines"]}
            line_items, shipping_lines = [], []
            for spec in body.get("line_items") or []:
                item_id = int(spec["id"])
                total = Decimal(str(spec.get("refund_total") or "0"))
                tax = sum((Decimal(str(t.get("refund_total") or "0")) for t in spec.get("refund_tax") or []),
                          Decimal(0))
                meta = [{"id": self._next_meta_id(), "key": "_refunded_item_id", "value": str(item_id),
                         "display_key": "_refunded_item_id", "display_value": str(item_id)}]
                if item_id in products:
                    li = products[item_id]
                    qty = int(spec.get("quantity") or 0)
                    line_items.append({
                        "id": self._next_item_id(), "name": li["name"], "product_id": li["product_id"],
                        "variation_id": li["variation_id"], "quantity": -qty, "tax_class": "",
                        "subtotal": money(-total), "subtotal_tax": money(-tax), "total": money(-total),
                        "total_tax": money(-tax),
                        "taxes": [{"id": 1, "total": money(-tax), "subtotal": money(-tax)}] if tax else [],
                        "meta_data": meta, "sku": li["sku"], "price": float(-total / qty) if qty else 0.0,
                        "refund_total": float(total)})
                elif item_id in ships:
                    shipping_lines.append({
                        "id": self._next_item_id(), "method_title": ships[item_id]["method_title"],
                        "method_id": ships[item_id]["method_id"], "instance_id": ships[item_id]["instance_id"],
                        "total": money(-total), "total_tax": money(-tax), "taxes": [], "meta_data": meta})
                else:
                    raise WooError(400, "woocommerce_rest_cannot_create_order_refund",
                                   f"Invalid line item ID {item_id}.")
            stamp = wp_date(now())
            rid = self._next_id()
            refund = {"id": rid, "date_created": stamp, "date_created_gmt": stamp, "amount": money(amount),
                      "reason": str(body.get("reason") or ""), "refunded_by": 1, "refunded_payment": False,
                      "meta_data": [], "line_items": line_items, "shipping_lines": shipping_lines,
                      "tax_lines": [], "fee_lines": []}
            self.refunds.setdefault(order["id"], []).insert(0, refund)  # newest first, as listed
            order["refunds"].insert(0, {"id": rid, "reason": refund["reason"], "total": money(-amount)})
            if refunded + amount >= Decimal(order["total"]):
                self._set_order_status(order, "refunded")
            order["date_modified"] = order["date_modified_gmt"] = stamp
            self._trigger("order", "updated", order["id"])
            return copy.deepcopy(refund)

    # ---- helpers -----------------------------------------------------------------------------

    def _order_view(self, order: dict[str, Any], base: str | None = None) -> dict[str, Any]:
        api = f"{(base or self.site_url).rstrip('/')}/wp-json/wc/v3"
        view = woo_json(copy.deepcopy(order))
        view["_links"] = {"self": [{"href": f"{api}/orders/{order['id']}"}],
                          "collection": [{"href": f"{api}/orders"}]}
        return view

    def _set_order_status(self, order: dict[str, Any], status: str) -> None:
        if status not in ORDER_STATUSES:
            raise WooError(400, "rest_invalid_param", "Invalid parameter(s): status",
                           params={"status": f"status is not one of {', '.join(ORDER_STATUSES)}."})
        if status == order["status"]:
            return
        order["status"] = status
        order["is_editable"] = status in ("pending", "on-hold", "auto-draft")
        order["needs_payment"] = status in ("pending", "failed")
        stamp = wp_date(now())
        if status in ("processing", "completed") and not order["date_paid_gmt"]:
            order["date_paid"] = order["date_paid_gmt"] = stamp
        if status == "completed":
            order["date_completed"] = order["date_completed_gmt"] = stamp
            tracking = ", ".join(i.get("tracking_number", "") for i in self.tracking_items(order["id"]))
            self._email(order["id"], "completed_order", f"Your order is complete. {tracking}".strip())

    def _email(self, order_id: int, kind: str, body: str) -> None:
        self.emails.append({"order_id": order_id, "kind": kind, "body": body, "at": time.monotonic()})

    def _add_tracking(self, order: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        for meta in order["meta_data"]:
            if meta["key"] == TRACKING_META:
                meta["value"].append(item)
                return item
        order["meta_data"].append({"id": self._next_meta_id(), "key": TRACKING_META, "value": [item]})
        return item

    def _update_order(self, order: dict[str, Any], body: dict[str, Any]) -> None:
        if "meta_data" in body:
            merge_meta(order["meta_data"], body["meta_data"] or [], self._next_meta_id)
        if "status" in body:
            self._set_order_status(order, body["status"])
        if "customer_note" in body:
            order["customer_note"] = body["customer_note"]
        for part in ("billing", "shipping"):
            if isinstance(body.get(part), dict):
                order[part].update({k: str(v) for k, v in body[part].items() if k in order[part]})
        order["date_modified"] = order["date_modified_gmt"] = wp_date(now())
