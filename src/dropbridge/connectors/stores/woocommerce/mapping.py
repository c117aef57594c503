"""Pure translation between WooCommerce REST v3 JSON and the boundary types in `connectors.base`.

Vendor field names stay in this module. Money goes through Decimal only.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from dropbridge.domain.errors import ValidationError
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
    Fulfillment,
    LiveProduct,
    LiveVariant,
    PriceUpdate,
    ProductDraft,
    ProductVariantDraft,
    StockUpdate,
    decimal_money,
)

TRACKING_META = "_wc_shipment_tracking_items"  # the Shipment Tracking extension's order meta
FULFILLMENTS_META = "_dropbridge_fulfillments"  # our record of pushed fulfillments, keyed by idempotency key
IDEMPOTENCY_META = "_dropbridge_idempotency_key"
PAID_STATUSES = ("processing", "completed")


def parse_gmt(value: str | None) -> datetime | None:
    """WooCommerce `*_gmt` dates carry no offset and are UTC."""
    if not value:
        return None
    return datetime.fromisoformat(value[:19]).replace(tzinfo=UTC)


def _dec(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _unit_price(line: dict[str, Any], currency: str) -> Money:
    """Unit price before discounts: subtotal / quantity, exact when it divides (it does for
    prices entered with the currency's decimals); otherwise rounded half-even."""
    qty = int(line.get("quantity") or 0)
    subtotal = _dec(line.get("subtotal"))
    if qty <= 0:
        return decimal_money(line.get("price") or 0, currency, "line_items.price")
    unit = subtotal / qty
    try:
        return decimal_money(unit, currency, "line_items.subtotal")
    except ValidationError:
        return Money.from_decimal_rounded(unit, currency)


def _address(data: dict[str, Any] | None) -> Address | None:
    if not data or not (data.get("address_1") or data.get("city")):
        return None
    name = " ".join(p for p in (data.get("first_name", ""), data.get("last_name", "")) if p)
    return Address(
        name=name,
        address1=data.get("address_1", "") or "",
        address2=data.get("address_2", "") or "",
        city=data.get("city", "") or "",
        province_code=data.get("state", "") or "",
        postal_code=data.get("postcode", "") or "",
        country_code=(data.get("country", "") or "").upper(),
        company=data.get("company", "") or "",
        phone=data.get("phone", "") or "",
    )


def financial_status(data: dict[str, Any]) -> str:
    status = data.get("status")
    if status == "refunded":
        return "refunded"
    if data.get("date_paid_gmt") and status in PAID_STATUSES:
        return "paid"
    if status == "failed":
        return "failed"
    return "pending"


def order_from_wc(data: dict[str, Any]) -> ExternalOrder:
    currency = str(data["currency"]).upper()
    lines = []
    for li in data.get("line_items") or []:
        discount = _dec(li.get("subtotal")) - _dec(li.get("total"))
        variant = li.get("variation_id") or li.get("product_id")
        lines.append(
            ExternalOrderLine(
                external_id=str(li["id"]),
                sku=li.get("sku") or "",
                quantity=int(li["quantity"]),
                unit_price=_unit_price(li, currency),
                title=li.get("name") or "",
                external_variant_id=str(variant) if variant else None,
                discount=decimal_money(discount, currency, "line_items.total"),
                tax=decimal_money(_dec(li.get("total_tax")), currency, "line_items.total_tax"),
            )
        )
    ship_to = _address(data.get("shipping")) or _address(data.get("billing"))
    return ExternalOrder(
        external_id=str(data["id"]),
        currency=currency,
        lines=lines,
        ship_to=ship_to,
        number=str(data.get("number") or data["id"]),
        email=(data.get("billing") or {}).get("email") or None,
        shipping_price=decimal_money(_dec(data.get("shipping_total")), currency, "shipping_total"),
        total_tax=decimal_money(_dec(data.get("total_tax")), currency, "total_tax"),
        total_discounts=decimal_money(_dec(data.get("discount_total")), currency, "discount_total"),
        total_price=decimal_money(_dec(data.get("total")), currency, "total"),
        financial_status=financial_status(data),
        cancelled=data.get("status") == "cancelled",
        created_at=parse_gmt(data.get("date_created_gmt")),
        # WooCommerce reports line totals and shipping without tax whatever `prices_include_tax` says.
        taxes_included=False,
    )


def refund_from_wc(order_id: Any, currency: str, data: dict[str, Any]) -> ExternalRefund:
    """One of GET /orders/{id}/refunds: `amount` (positive) is what went back; its line_items and
    shipping_lines carry negative totals, each naming the order item it refunds in the meta
    `_refunded_item_id`. What the amount holds beyond its lines (a refund typed as an amount alone) is
    refunded on the order as a whole. Totals exclude tax, as on orders."""
    currency = currency.upper()
    where = f"refund {data.get('id')}"

    def amount(value: Any, field: str) -> Money:
        return decimal_money(abs(_dec(value)), currency, f"{where}.{field}")

    def item_of(row: dict[str, Any]) -> str:
        for meta in row.get("meta_data") or []:
            if meta.get("key") == "_refunded_item_id":
                return str(meta.get("value"))
        return str(row.get("id"))

    lines = tuple(ExternalRefundLine(line_external_id=item_of(li), quantity=abs(int(li.get("quantity") or 0)),
                                     amount=amount(li.get("total"), "line_items.total"),
                                     tax=amount(li.get("total_tax"), "line_items.total_tax")
                                     if _dec(li.get("total_tax")) else None)
                  for li in data.get("line_items") or [])
    shipping = sum((_dec(s.get("total")) for s in data.get("shipping_lines") or []), Decimal(0))
    shipping_tax = sum((_dec(s.get("total_tax")) for s in data.get("shipping_lines") or []), Decimal(0))
    itemised = (sum((abs(_dec(li.get("total"))) + abs(_dec(li.get("total_tax")))
                     for li in data.get("line_items") or []), Decimal(0)) + abs(shipping) + abs(shipping_tax))
    rest = _dec(data.get("amount")) - itemised
    return ExternalRefund(
        external_id=str(data["id"]), order_external_id=str(order_id), currency=currency, lines=lines,
        shipping=amount(shipping, "shipping_lines.total") if shipping else None,
        shipping_tax=amount(shipping_tax, "shipping_lines.total_tax") if shipping_tax else None,
        other=amount(rest, "amount") if rest > 0 else None,
        reason=str(data.get("reason") or ""), created_at=parse_gmt(data.get("date_created_gmt")),
        taxes_included=False)


# ---- products ------------------------------------------------------------------------------------


def _prices(variant: ProductVariantDraft) -> dict[str, str]:
    """WooCommerce's regular_price is the "was" price and sale_price the one charged."""
    price = f"{variant.price.to_decimal()}"
    compare = variant.compare_at_price
    if compare is not None and variant.price < compare:
        return {"regular_price": f"{compare.to_decimal()}", "sale_price": price}
    return {"regular_price": price, "sale_price": ""}


def is_simple(draft: ProductDraft) -> bool:
    return len(draft.variants) == 1 and not draft.variants[0].options


def product_body(draft: ProductDraft, idempotency_key: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": draft.title,
        "description": draft.description_html,
        "status": "publish",
        "images": [{"src": url} for url in draft.images],
        "meta_data": [{"key": IDEMPOTENCY_META, "value": idempotency_key}],
    }
    if is_simple(draft):
        variant = draft.variants[0]
        body.update(type="simple", sku=variant.sku, manage_stock=True, stock_quantity=variant.quantity)
        body.update(_prices(variant))
        return body
    names: list[str] = []
    values: dict[str, list[str]] = {}
    for variant in draft.variants:
        for name, value in variant.options.items():
            if name not in values:
                names.append(name)
                values[name] = []
            if value not in values[name]:
                values[name].append(value)
    body.update(
        type="variable",
        sku=draft.sku,
        attributes=[
            {"name": name, "position": i, "visible": True, "variation": True, "options": values[name]}
            for i, name in enumerate(names)
        ],
    )
    return body


def variation_body(variant: ProductVariantDraft) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sku": variant.sku,
        "manage_stock": True,
        "stock_quantity": variant.quantity,
        "attributes": [{"name": name, "option": value} for name, value in variant.options.items()],
    }
    body.update(_prices(variant))
    return body


def variation_attributes(options: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "option": value} for name, value in options.items()]


def extended_attributes(attributes: list[dict[str, Any]], wanted: list[dict[str, str]]) -> list[dict[str, Any]] | None:
    """The parent's attributes with every option value the variations now use (a variation may only use
    values its parent lists, §2.4); None when nothing is missing. Values are only added: other variations
    (a dropped one, kept for its orders) may still use the old ones."""
    out = [dict(a, options=list(a.get("options") or [])) for a in attributes]
    changed = False
    for options in wanted:
        for name, value in options.items():
            attr = next((a for a in out if str(a.get("name", "")).casefold() == name.casefold()), None)
            if attr is None:
                attr = {"name": name, "position": len(out), "visible": True, "variation": True, "options": []}
                out.append(attr)
            if value not in attr["options"]:
                attr["options"].append(value)
                changed = True
    return out if changed else None


def category_path(category: str) -> list[str]:
    """"Apparel > Tees" -> ["Apparel", "Tees"]."""
    return [part.strip() for part in category.split(">") if part.strip()]


def live_product(data: dict[str, Any], variations: list[dict[str, Any]]) -> LiveProduct:
    if data.get("type") != "variable":  # a simple product is its own only variant
        return LiveProduct(str(data["id"]), str(data.get("name") or ""), [
            LiveVariant(str(data["id"]), str(data.get("sku") or ""), {}, data.get("status") != "publish")],
            data.get("status") != "publish", [str(c.get("name")) for c in data.get("categories") or []])
    return LiveProduct(
        external_product_id=str(data["id"]), title=str(data.get("name") or ""),
        retired=data.get("status") != "publish", categories=[str(c.get("name")) for c in data.get("categories") or []],
        variants=[LiveVariant(external_variant_id=str(v["id"]), sku=str(v.get("sku") or ""),
                              options={a.get("name", ""): a.get("option", "") for a in v.get("attributes") or []},
                              retired=v.get("status") not in (None, "publish"))
                  for v in variations])


def stock_item(update: StockUpdate) -> dict[str, Any]:
    return {"id": int(update.external_variant_id), "manage_stock": True, "stock_quantity": update.quantity}


def price_item(update: PriceUpdate) -> dict[str, Any]:
    """regular_price is the "was" price and sale_price the one charged; without a higher compare-at price the
    sale price is cleared, so regular_price alone is what the shopper pays."""
    price = f"{update.price.to_decimal()}"
    compare = update.compare_at_price
    if compare is not None and update.price < compare:
        return {"id": int(update.external_variant_id), "regular_price": f"{compare.to_decimal()}", "sale_price": price}
    return {"id": int(update.external_variant_id), "regular_price": price, "sale_price": ""}


def batch_errors(response: dict[str, Any] | None) -> tuple[int, list[tuple[str, str]]]:
    """(applied, failed) from a batch response: failures answer 200 with a per-item `error`."""
    applied = 0
    failed: list[tuple[str, str]] = []
    for item in (response or {}).get("update") or []:
        error = item.get("error")
        if error:
            failed.append((str(item.get("id")), f"{error.get('code')}: {error.get('message')}"))
        else:
            applied += 1
    return applied, failed


# ---- fulfillment ---------------------------------------------------------------------------------


def meta_value(data: dict[str, Any], key: str) -> Any:
    for meta in data.get("meta_data") or []:
        if meta.get("key") == key:
            return meta.get("value")
    return None


def tracking_id(idempotency_key: str) -> str:
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def tracking_item(fulfillment: Fulfillment, idempotency_key: str, shipped_on: str) -> dict[str, Any]:
    """An item in the Shipment Tracking extension's shape, with a custom provider so any carrier fits."""
    return {
        "tracking_provider": "",
        "custom_tracking_provider": fulfillment.carrier,
        "custom_tracking_link": fulfillment.tracking_url or "",
        "tracking_number": fulfillment.tracking_number,
        "date_shipped": shipped_on,
        "tracking_id": tracking_id(idempotency_key),
    }


def tracking_request(fulfillment: Fulfillment, shipped_on: str) -> dict[str, Any]:
    body = {
        "custom_tracking_provider": fulfillment.carrier,
        "tracking_number": fulfillment.tracking_number,
        "date_shipped": shipped_on,
    }
    if fulfillment.tracking_url:
        body["custom_tracking_link"] = fulfillment.tracking_url
    return body


def customer_note(fulfillment: Fulfillment) -> str:
    text = f"Your order has shipped with {fulfillment.carrier}. Tracking number: {fulfillment.tracking_number}"
    if fulfillment.tracking_url:
        text += f" ({fulfillment.tracking_url})"
    return text


def fully_shipped(order: dict[str, Any], shipped: dict[str, int]) -> bool:
    return all(shipped.get(str(li["id"]), 0) >= int(li["quantity"]) for li in order.get("line_items") or [])


def shipped_quantities(records: list[dict[str, Any]], order: dict[str, Any]) -> dict[str, int]:
    """Quantities shipped per line across our recorded fulfillments; an empty line list is everything."""
    shipped: dict[str, int] = {}
    for record in records:
        lines = record.get("lines") or {str(li["id"]): int(li["quantity"]) for li in order.get("line_items") or []}
        for line_id, qty in lines.items():
            shipped[line_id] = shipped.get(line_id, 0) + int(qty)
    return shipped


DELIVERY_META = f"{DELIVERY_NAMESPACE}_{DELIVERY_KEY}"  # no leading "_": shown among the product's custom fields


def delivery_item(update: DeliveryUpdate) -> dict[str, Any]:
    """A batch `update` item: the window as product/variation meta (update_meta_data replaces it by key)."""
    return {"id": int(update.external_variant_id), "meta_data": [{"key": DELIVERY_META, "value": update.value}]}
