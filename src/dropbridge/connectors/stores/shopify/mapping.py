"""Pure translation between Shopify's shapes and ours. No I/O; vendor field names stop here.

Orders arrive two ways and must map to the same ExternalOrder: the REST-shaped webhook body (numeric ids,
money as "199.00" strings in shop currency) and GraphQL order nodes (gid ids, MoneyBag `shopMoney`
amounts as Decimal strings like "199.0"). Ids are kept as GraphQL gids everywhere.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from dropbridge.domain.money import Money
from dropbridge.services.ports import (
    DELIVERY_KEY,
    DELIVERY_NAMESPACE,
    Address,
    DeliveryUpdate,
    ExternalOrder,
    ExternalOrderLine,
    ExternalRefund,
    ExternalRefundLine,
    LiveProduct,
    LiveVariant,
    PriceUpdate,
    ProductDraft,
    ProductVariantDraft,
    StockUpdate,
    decimal_money,
)

# Namespace for idempotency keys we derive for Shopify's @idempotent directive (UUIDs recommended).
IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0c3f0e-9b7e-4c55-a1b4-5e0b8f2f7a11")


def gid(kind: str, value: Any) -> str:
    text = str(value)
    return text if text.startswith("gid://") else f"gid://shopify/{kind}/{text}"


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def _sum(values: Iterable[str | Decimal | int], currency: str, field: str) -> Money:
    total = Money.zero(currency)
    for v in values:
        total = total + decimal_money(v, currency, field)
    return total


def _or_none(money: Money | None) -> Money | None:
    return money if money is not None and money.amount != 0 else None


# -- REST webhook body -> ExternalOrder -----------------------------------------------------------


def _address_rest(addr: dict[str, Any] | None) -> Address | None:
    if not addr:
        return None
    name = addr.get("name") or " ".join(x for x in (addr.get("first_name"), addr.get("last_name")) if x)
    return Address(
        name=name or "",
        address1=addr.get("address1") or "",
        address2=addr.get("address2") or "",
        city=addr.get("city") or "",
        province_code=addr.get("province_code") or "",
        postal_code=addr.get("zip") or "",
        country_code=(addr.get("country_code") or "").upper(),
        company=addr.get("company") or "",
        phone=addr.get("phone") or "",
    )


def order_from_rest(body: dict[str, Any]) -> ExternalOrder:
    """The webhook body (orders/create, orders/paid, orders/updated, orders/cancelled)."""
    currency = body["currency"]
    lines = []
    for i, li in enumerate(body.get("line_items") or []):
        where = f"line_items[{i}]"
        discount = _sum((d["amount"] for d in li.get("discount_allocations") or []), currency, where + ".discount")
        tax = _sum((t["price"] for t in li.get("tax_lines") or []), currency, where + ".tax_lines")
        lines.append(
            ExternalOrderLine(
                external_id=li.get("admin_graphql_api_id") or gid("LineItem", li["id"]),
                sku=li.get("sku") or "",
                quantity=int(li["quantity"]),
                unit_price=decimal_money(li["price"], currency, where + ".price"),
                title=li.get("name") or li.get("title") or "",
                external_variant_id=gid("ProductVariant", li["variant_id"]) if li.get("variant_id") else None,
                discount=_or_none(discount),
                tax=_or_none(tax) if li.get("tax_lines") else None,
            )
        )
    shipping = _sum((s["price"] for s in body.get("shipping_lines") or []), currency, "shipping_lines")
    return ExternalOrder(
        external_id=body.get("admin_graphql_api_id") or gid("Order", body["id"]),
        currency=currency,
        lines=lines,
        ship_to=_address_rest(body.get("shipping_address")),
        number=body.get("name") or str(body.get("order_number") or ""),
        email=body.get("email") or None,
        shipping_price=shipping,
        total_tax=decimal_money(body.get("total_tax") or "0", currency, "total_tax"),
        total_discounts=decimal_money(body.get("total_discounts") or "0", currency, "total_discounts"),
        total_price=decimal_money(body["total_price"], currency, "total_price"),
        financial_status=body.get("financial_status"),
        cancelled=body.get("cancelled_at") is not None,
        created_at=parse_time(body.get("created_at")),
        taxes_included=body.get("taxes_included") if isinstance(body.get("taxes_included"), bool) else None,
        refunds=tuple(refund_from_rest(r, currency, body.get("taxes_included"))
                      for r in body.get("refunds") or []),
    )


def _refund_currency(body: dict[str, Any]) -> str | None:
    for t in body.get("transactions") or []:
        if t.get("currency"):
            return t["currency"]
    for item in (body.get("refund_line_items") or []) + (body.get("order_adjustments") or []):
        for key in ("subtotal_set", "amount_set"):
            code = ((item.get(key) or {}).get("shop_money") or {}).get("currency_code")
            if code:
                return code
    return None


def refund_from_rest(body: dict[str, Any], currency: str | None = None,
                     taxes_included: Any = None) -> ExternalRefund:
    """A refund (the refunds/create webhook body, or one of an order's `refunds`): refund_line_items name
    the line (`subtotal` what was refunded for it, `total_tax` its tax); order_adjustments of kind
    shipping_refund are shipping, other kinds (refund_discrepancy) the order as a whole; their amounts are
    negative. Shop money throughout, as in orders."""
    cur = currency or _refund_currency(body)
    if not cur:
        raise ValueError(f"refund {body.get('id')}: no currency in its transactions or amounts")
    lines = []
    for i, rl in enumerate(body.get("refund_line_items") or []):
        where = f"refund_line_items[{i}]"
        line_id = (rl.get("line_item") or {}).get("admin_graphql_api_id") or gid("LineItem", rl["line_item_id"])
        tax = decimal_money(rl.get("total_tax") or "0", cur, where + ".total_tax")
        lines.append(ExternalRefundLine(line_external_id=line_id, quantity=int(rl.get("quantity") or 0),
                                        amount=decimal_money(rl.get("subtotal") or "0", cur, where + ".subtotal"),
                                        tax=_or_none(tax)))
    shipping = shipping_tax = other = other_tax = Money.zero(cur)
    for i, adj in enumerate(body.get("order_adjustments") or []):
        where = f"order_adjustments[{i}]"
        amount = decimal_money(adj.get("amount") or "0", cur, where + ".amount")
        tax = decimal_money(adj.get("tax_amount") or "0", cur, where + ".tax_amount")
        amount, tax = Money(abs(amount.amount), cur), Money(abs(tax.amount), cur)
        if adj.get("kind") == "shipping_refund":
            shipping, shipping_tax = shipping + amount, shipping_tax + tax
        else:
            other, other_tax = other + amount, other_tax + tax
    return ExternalRefund(
        external_id=str(body.get("admin_graphql_api_id") or gid("Refund", body["id"])),
        order_external_id=gid("Order", body["order_id"]),
        currency=cur, lines=tuple(lines),
        shipping=_or_none(shipping), shipping_tax=_or_none(shipping_tax),
        other=_or_none(other), other_tax=_or_none(other_tax),
        reason=str(body.get("note") or ""),
        created_at=parse_time(body.get("created_at")),
        taxes_included=taxes_included if isinstance(taxes_included, bool) else None,
    )


# -- GraphQL order node -> ExternalOrder ----------------------------------------------------------

MONEY = "shopMoney { amount currencyCode }"

# https://shopify.dev/docs/api/admin-graphql/2026-01/objects/Order (fields selected for mapping)
ORDER_FIELDS = f"""
  id name email createdAt updatedAt cancelledAt displayFinancialStatus currencyCode taxesIncluded
  totalPriceSet {{ {MONEY} }} totalTaxSet {{ {MONEY} }} totalDiscountsSet {{ {MONEY} }}
  shippingAddress {{ name firstName lastName company address1 address2 city provinceCode zip countryCodeV2 phone }}
  shippingLines(first: 5) {{ nodes {{ title originalPriceSet {{ {MONEY} }} }} }}
"""

# https://shopify.dev/docs/api/admin-graphql/2026-01/objects/LineItem
LINE_ITEM_FIELDS = f"""
  id sku name quantity variant {{ id }}
  originalUnitPriceSet {{ {MONEY} }}
  discountAllocations {{ allocatedAmountSet {{ {MONEY} }} }}
  taxLines {{ priceSet {{ {MONEY} }} }}
"""


def _shop_amount(money_bag: dict[str, Any] | None) -> str:
    if not money_bag:
        return "0"
    return money_bag["shopMoney"]["amount"]


def _address_graphql(addr: dict[str, Any] | None) -> Address | None:
    if not addr:
        return None
    name = addr.get("name") or " ".join(x for x in (addr.get("firstName"), addr.get("lastName")) if x)
    return Address(
        name=name or "",
        address1=addr.get("address1") or "",
        address2=addr.get("address2") or "",
        city=addr.get("city") or "",
        province_code=addr.get("provinceCode") or "",
        postal_code=addr.get("zip") or "",
        country_code=(addr.get("countryCodeV2") or "").upper(),
        company=addr.get("company") or "",
        phone=addr.get("phone") or "",
    )


def order_from_graphql(node: dict[str, Any], line_nodes: list[dict[str, Any]]) -> ExternalOrder:
    """An `Order` node selected with ORDER_FIELDS, and all its line items (LINE_ITEM_FIELDS)."""
    currency = node["currencyCode"]
    lines = []
    for i, li in enumerate(line_nodes):
        where = f"lineItems[{i}]"
        discount = _sum(
            (_shop_amount(d["allocatedAmountSet"]) for d in li.get("discountAllocations") or []),
            currency, where + ".discount",
        )
        taxes = li.get("taxLines") or []
        tax = _sum((_shop_amount(t["priceSet"]) for t in taxes), currency, where + ".taxLines")
        lines.append(
            ExternalOrderLine(
                external_id=li["id"],
                sku=li.get("sku") or "",
                quantity=int(li["quantity"]),
                unit_price=decimal_money(_shop_amount(li["originalUnitPriceSet"]), currency, where + ".price"),
                title=li.get("name") or "",
                external_variant_id=(li.get("variant") or {}).get("id"),
                discount=_or_none(discount),
                tax=_or_none(tax) if taxes else None,
            )
        )
    shipping_nodes = (node.get("shippingLines") or {}).get("nodes") or []
    status = node.get("displayFinancialStatus")
    return ExternalOrder(
        external_id=node["id"],
        currency=currency,
        lines=lines,
        ship_to=_address_graphql(node.get("shippingAddress")),
        number=node.get("name") or "",
        email=node.get("email") or None,
        shipping_price=_sum((_shop_amount(s["originalPriceSet"]) for s in shipping_nodes), currency, "shipping"),
        total_tax=decimal_money(_shop_amount(node.get("totalTaxSet")), currency, "totalTax"),
        total_discounts=decimal_money(_shop_amount(node.get("totalDiscountsSet")), currency, "totalDiscounts"),
        total_price=decimal_money(_shop_amount(node.get("totalPriceSet")), currency, "totalPrice"),
        financial_status=status.lower() if status else None,
        cancelled=node.get("cancelledAt") is not None,
        created_at=parse_time(node.get("createdAt")),
        taxes_included=node.get("taxesIncluded") if isinstance(node.get("taxesIncluded"), bool) else None,
    )


# -- our drafts -> GraphQL inputs -----------------------------------------------------------------


def handle_for(sku: str) -> str:
    """A stable product handle from our parent SKU: the upsert key that makes publishing idempotent."""
    handle = re.sub(r"[^a-z0-9]+", "-", sku.lower()).strip("-")
    return handle or "product"


def money_input(money: Money) -> str:
    """Shopify's Money scalar is a decimal string."""
    return str(money.to_decimal())


def product_set_input(product: ProductDraft, location_id: str | None) -> dict[str, Any]:
    """ProductSetInput: https://shopify.dev/docs/api/admin-graphql/2026-01/input-objects/ProductSetInput"""
    option_names: list[str] = []
    for v in product.variants:
        for name in v.options:
            if name not in option_names:
                option_names.append(name)
    data: dict[str, Any] = {
        "title": product.title,
        "handle": handle_for(product.sku),
        "descriptionHtml": product.description_html,
        "status": "ACTIVE",
    }
    if product.vendor:
        data["vendor"] = product.vendor
    if product.category:
        data["productType"] = product_type(product.category)
    if option_names:
        data["productOptions"] = [
            {
                "name": name,
                "position": i + 1,
                "values": [{"name": value} for value in dict.fromkeys(v.options[name] for v in product.variants)],
            }
            for i, name in enumerate(option_names)
        ]
    data["files"] = [{"originalSource": url, "contentType": "IMAGE", "alt": product.title} for url in product.images]
    variants = []
    for v in product.variants:
        entry: dict[str, Any] = {
            "optionValues": [{"optionName": n, "name": v.options[n]} for n in option_names],
            "sku": v.sku,
            "price": money_input(v.price),
            "compareAtPrice": money_input(v.compare_at_price) if v.compare_at_price is not None else None,
            "inventoryItem": {"tracked": True},
        }
        if v.barcode:
            entry["barcode"] = v.barcode
        if location_id:
            entry["inventoryQuantities"] = [{"locationId": location_id, "name": "available", "quantity": v.quantity}]
        variants.append(entry)
    data["variants"] = variants
    return data


def product_type(category: str) -> str:
    """Shopify's product type is one flat text: the leaf of our category path ("Apparel > Tees" -> "Tees")."""
    return category.split(">")[-1].strip()[:255]


def collection_titles(category: str) -> list[str]:
    """The collections a category path files a product in: one per level ("Apparel > Tees" -> Apparel, Tees)."""
    titles = [level.strip()[:255] for level in category.split(">")]
    return list({t.casefold(): t for t in titles if t}.values())


def collection_query(title: str) -> str:
    """A collections search for `title` (quotes dropped: the search only narrows, titles are compared after)."""
    return 'title:"' + title.replace('"', " ").replace("\\", " ") + '"'


def option_values(options: dict[str, str], names: list[str] | None = None) -> list[dict[str, str]]:
    return [{"optionName": n, "name": options[n]} for n in (names or list(options)) if n in options]


def variant_create_input(v: ProductVariantDraft, location_id: str) -> dict[str, Any]:
    """ProductVariantsBulkInput for productVariantsBulkCreate (storefronts.md §1.4: the SKU goes in
    inventoryItem.sku; inventoryQuantities only on create):
    https://shopify.dev/docs/api/admin-graphql/2026-01/input-objects/ProductVariantsBulkInput"""
    entry: dict[str, Any] = {
        "optionValues": option_values(v.options),
        "price": money_input(v.price),
        "compareAtPrice": money_input(v.compare_at_price) if v.compare_at_price is not None else None,
        "inventoryItem": {"sku": v.sku, "tracked": True},
        "inventoryPolicy": "DENY",
        "inventoryQuantities": [{"locationId": location_id, "availableQuantity": v.quantity}],
    }
    if v.barcode:
        entry["barcode"] = v.barcode
    return entry


def _filed_under(node: dict[str, Any]) -> list[str]:
    """The product's category as far as the store has it: its type, once the product is also in the collection of
    that name (a product typed before it was filed in collections is filed again)."""
    kind = node.get("productType") or ""
    titles = {(c.get("title") or "").strip().casefold() for c in (node.get("collections") or {}).get("nodes", [])}
    return [kind] if kind and kind.strip().casefold() in titles else []


def live_product(node: dict[str, Any], variants: list[dict[str, Any]]) -> LiveProduct:
    return LiveProduct(
        external_product_id=node["id"], title=node.get("title") or "", retired=node.get("status") == "ARCHIVED",
        categories=_filed_under(node),
        variants=[LiveVariant(external_variant_id=v["id"], sku=v.get("sku") or "",
                              options={o["name"]: o["value"] for o in v.get("selectedOptions") or []
                                       if o.get("name") != "Title" or o.get("value") != "Default Title"})
                  for v in variants])


def stock_key(idempotency_key: str, batch: int, attempt: int = 0) -> str:
    """The @idempotent key of one batch: a UUID derived from our key, the batch number and the attempt."""
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{idempotency_key}#{batch}#{attempt}"))


def stock_input(
    updates: list[tuple[StockUpdate, str]],
    location_id: str,
    api_version: str,
    idempotency_key: str,
) -> dict[str, Any]:
    """InventorySetQuantitiesInput for (update, inventory item id) pairs, per the version's CAS rules:
    https://shopify.dev/changelog/compare-and-swap-redesign-for-inventory-set-quantities
    https://shopify.dev/changelog/finalizing-compare-and-swap-redesign-for-inventory-set-quantities
    We are the source of truth for available stock, so we opt out of compare-and-set explicitly."""
    quantities = []
    for update, item_id in updates:
        q: dict[str, Any] = {"inventoryItemId": item_id, "locationId": location_id, "quantity": update.quantity}
        if api_version >= "2026-01":
            q["changeFromQuantity"] = None
        quantities.append(q)
    data: dict[str, Any] = {
        "name": "available",
        "reason": "correction",
        "referenceDocumentUri": "gid://dropbridge/StockPush/" + quote(idempotency_key, safe=""),
        "quantities": quantities,
    }
    if api_version < "2026-01":
        data["ignoreCompareQuantity"] = True
    return data


def user_error_index(field: list[str] | None) -> int | None:
    """["input", "quantities", "3", "locationId"] -> 3."""
    if field and len(field) >= 3 and field[1] == "quantities" and str(field[2]).isdigit():
        return int(field[2])
    return None


def price_variants_input(updates: list[PriceUpdate]) -> list[dict[str, Any]]:
    """ProductVariantsBulkInput with only id, price and compareAtPrice (null clears the "was" price):
    https://shopify.dev/docs/api/admin-graphql/2026-01/input-objects/ProductVariantsBulkInput"""
    return [{"id": u.external_variant_id, "price": money_input(u.price),
             "compareAtPrice": money_input(u.compare_at_price) if u.compare_at_price is not None else None}
            for u in updates]


def delivery_metafields(updates: list[DeliveryUpdate]) -> list[dict[str, Any]]:
    """MetafieldsSetInput per variant (storefronts.md §1.9): the window as single-line text, "5-12"."""
    return [{"ownerId": u.external_variant_id, "namespace": DELIVERY_NAMESPACE, "key": DELIVERY_KEY,
             "type": "single_line_text_field", "value": u.value} for u in updates]


def bulk_error_index(field: list[str] | None) -> int | None:
    """["variants", "3", "price"] -> 3."""
    if field and len(field) >= 2 and field[0] == "variants" and str(field[1]).isdigit():
        return int(field[1])
    return None


def fulfillment_input(
    fulfillment_order_lines: list[tuple[str, str, int]],
    carrier: str,
    tracking_number: str,
    tracking_url: str | None,
    notify_customer: bool,
) -> dict[str, Any]:
    """FulfillmentInput from (fulfillment order id, fulfillment order line item id, quantity):
    https://shopify.dev/docs/api/admin-graphql/2026-01/input-objects/FulfillmentInput"""
    groups: dict[str, list[dict[str, Any]]] = {}
    for fo_id, line_id, qty in fulfillment_order_lines:
        groups.setdefault(fo_id, []).append({"id": line_id, "quantity": qty})
    tracking: dict[str, Any] = {"company": carrier, "number": tracking_number}
    if tracking_url:
        tracking["url"] = tracking_url
    return {
        "notifyCustomer": notify_customer,
        "trackingInfo": tracking,
        "lineItemsByFulfillmentOrder": [
            {"fulfillmentOrderId": fo_id, "fulfillmentOrderLineItems": lines} for fo_id, lines in groups.items()
        ],
    }
