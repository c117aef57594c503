"""Pure translation between BigCommerce v2/v3 JSON and the boundary types in `connectors.base`."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

from dropbridge.domain.errors import PermanentError
from dropbridge.domain.money import exponent as money_exponent
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

INCOMPLETE = 0
CANCELLED = 5
PAID_STATUSES = {
    2,
    3,
    8,
    9,
    10,
    11,
}  # shipped, partially shipped, awaiting pickup/shipment, completed, awaiting fulfillment
REFUNDED = 4
PARTIALLY_REFUNDED = 14
# BigCommerce's shipping_provider enum; any other carrier goes in tracking_carrier (an AfterShip slug).
PROVIDERS = {
    "ups": "ups",
    "usps": "usps",
    "fedex": "fedex",
    "royal mail": "royalmail",
    "royalmail": "royalmail",
    "canada post": "canadapost",
    "canadapost": "canadapost",
    "australia post": "auspost",
    "auspost": "auspost",
    "endicia": "endicia",
}


# v2 addresses name the state ("Kentucky"); Address.province_code wants the ISO 3166-2 subdivision code.
SUBDIVISIONS: dict[str, dict[str, str]] = {
    "US": dict(
        zip(
            (
                "Alabama,Alaska,Arizona,Arkansas,California,Colorado,Connecticut,Delaware,District of Columbia,"
                "Florida,Georgia,Hawaii,Idaho,Illinois,Indiana,Iowa,Kansas,Kentucky,Louisiana,Maine,Maryland,"
                "Massachusetts,Michigan,Minnesota,Mississippi,Missouri,Montana,Nebraska,Nevada,New Hampshire,"
                "New Jersey,New Mexico,New York,North Carolina,North Dakota,Ohio,Oklahoma,Oregon,Pennsylvania,"
                "Rhode Island,South Carolina,South Dakota,Tennessee,Texas,Utah,Vermont,Virginia,Washington,"
                "West Virginia,Wisconsin,Wyoming,Puerto Rico,Guam,American Samoa,Virgin Islands,"
                "Northern Mariana Islands,Armed Forces Americas,Armed Forces Europe,Armed Forces Pacific"
            )
            .lower()
            .split(","),
            [
                "AL",
                "AK",
                "AZ",
                "AR",
                "CA",
                "CO",
                "CT",
                "DE",
                "DC",
                "FL",
                "GA",
                "HI",
                "ID",
                "IL",
                "IN",
                "IA",
                "KS",
                "KY",
                "LA",
                "ME",
                "MD",
                "MA",
                "MI",
                "MN",
                "MS",
                "MO",
                "MT",
                "NE",
                "NV",
                "NH",
                "NJ",
                "NM",
                "NY",
                "NC",
                "ND",
                "OH",
                "OK",
                "OR",
                "PA",
                "RI",
                "SC",
                "SD",
                "TN",
                "TX",
                "UT",
                "VT",
                "VA",
                "WA",
                "WV",
                "WI",
                "WY",
                "PR",
                "GU",
                "AS",
                "VI",
                "MP",
                "AA",
                "AE",
                "AP",
            ],
            strict=True,
        )
    ),
    "CA": dict(
        zip(
            [
                "alberta",
                "british columbia",
                "manitoba",
                "new brunswick",
                "newfoundland and labrador",
                "nova scotia",
                "ontario",
                "prince edward island",
                "quebec",
                "saskatchewan",
                "northwest territories",
                "nunavut",
                "yukon",
            ],
            ["AB", "BC", "MB", "NB", "NL", "NS", "ON", "PE", "QC", "SK", "NT", "NU", "YT"],
            strict=True,
        )
    ),
    "AU": {
        "australian capital territory": "ACT",
        "new south wales": "NSW",
        "northern territory": "NT",
        "queensland": "QLD",
        "south australia": "SA",
        "tasmania": "TAS",
        "victoria": "VIC",
        "western australia": "WA",
    },
}


def province_code(country_code: str, state: str) -> str:
    """The subdivision code for a state name where we know it; otherwise the state as given."""
    return SUBDIVISIONS.get(country_code, {}).get(state.strip().lower(), state)


def _dec(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def parse_date(value: str | None) -> datetime | None:
    """v2 dates are RFC 2822 ("Tue, 20 Nov 2012 00:00:00 +0000")."""
    if not value:
        return None
    return parsedate_to_datetime(value).astimezone(UTC)


def financial_status(status_id: int) -> str:
    if status_id in PAID_STATUSES:
        return "paid"
    if status_id == REFUNDED:
        return "refunded"
    if status_id == PARTIALLY_REFUNDED:
        return "partially_refunded"
    if status_id in (6, 13):
        return "declined" if status_id == 6 else "disputed"
    return "pending"


def _address(data: dict[str, Any] | None) -> Address | None:
    if not data:
        return None
    name = " ".join(p for p in (data.get("first_name", ""), data.get("last_name", "")) if p)
    country = (data.get("country_iso2", "") or "").upper()
    return Address(
        name=name,
        address1=data.get("street_1", "") or "",
        address2=data.get("street_2", "") or "",
        city=data.get("city", "") or "",
        province_code=province_code(country, data.get("state", "") or ""),
        postal_code=data.get("zip", "") or "",
        country_code=country,
        company=data.get("company", "") or "",
        phone=data.get("phone", "") or "",
    )


def order_from_bc(
    order: dict[str, Any], products: list[dict[str, Any]], addresses: list[dict[str, Any]]
) -> ExternalOrder:
    currency = str(order.get("currency_code") or order.get("default_currency_code")).upper()
    lines = []
    for p in products:
        discount = sum((_dec(d.get("amount")) for d in p.get("applied_discounts") or []), Decimal(0))
        lines.append(
            ExternalOrderLine(
                external_id=str(p["id"]),
                sku=p.get("sku") or "",
                quantity=int(p["quantity"]),
                # price_ex_tax: base_price includes tax in stores that enter prices with tax
                unit_price=decimal_money(_dec(p.get("price_ex_tax", p.get("base_price"))), currency,
                                         "products.price_ex_tax"),
                title=p.get("name") or "",
                external_variant_id=str(p["variant_id"]) if p.get("variant_id") else None,
                discount=decimal_money(discount, currency, "products.applied_discounts"),
                tax=decimal_money(_dec(p.get("total_tax")), currency, "products.total_tax"),
            )
        )
    billing = order.get("billing_address") or {}
    status_id = int(order.get("status_id", 0))
    return ExternalOrder(
        external_id=str(order["id"]),
        currency=currency,
        lines=lines,
        ship_to=_address(addresses[0]) if addresses else _address(billing),
        number=str(order["id"]),
        email=billing.get("email") or None,
        shipping_price=decimal_money(_dec(order.get("shipping_cost_ex_tax")), currency, "shipping_cost_ex_tax"),
        total_tax=decimal_money(_dec(order.get("total_tax")), currency, "total_tax"),
        total_discounts=decimal_money(_dec(order.get("discount_amount")), currency, "discount_amount"),
        total_price=decimal_money(_dec(order.get("total_inc_tax")), currency, "total_inc_tax"),
        financial_status=financial_status(status_id),
        cancelled=status_id == CANCELLED,
        created_at=parse_date(order.get("date_created")),
        taxes_included=False,  # prices ex tax and shipping_cost_ex_tax above; the tax is in total_tax
    )


def refund_from_bc(refund: dict[str, Any], products: list[dict[str, Any]], currency: str) -> ExternalRefund:
    """One of GET /v3/orders/{id}/payment_actions/refunds: `total_amount` went back, `total_tax` of it tax.
    PRODUCT items name the order product and a quantity, no amount: their share of the product's
    total_ex_tax and total_tax, in proportion. SHIPPING and ORDER (HANDLING) items carry an amount
    (`requested_amount`); the tax beyond the products' goes with the shipping, else the order. What the total
    holds beyond its items is refunded on the order as a whole."""
    where = f"refund {refund.get('id')}"
    by_id = {str(p["id"]): p for p in products}
    exponent = Decimal(1).scaleb(-money_exponent(currency))

    def money(value: Decimal, field: str):
        return decimal_money(abs(value).quantize(exponent), currency, f"{where}.{field}")

    lines, shipping, other, line_tax = [], Decimal(0), Decimal(0), Decimal(0)
    itemised = Decimal(0)
    for item in refund.get("items") or []:
        kind = item.get("item_type")
        value = _dec(item.get("requested_amount") if item.get("requested_amount") is not None
                     else item.get("amount"))
        if kind == "PRODUCT" and str(item.get("item_id")) in by_id:
            product = by_id[str(item["item_id"])]
            qty = int(item.get("quantity") or 0)
            share = Decimal(qty) / Decimal(int(product["quantity"]))
            net = (_dec(product.get("total_ex_tax")) * share).quantize(exponent)
            tax = (_dec(product.get("total_tax")) * share).quantize(exponent)
            lines.append(ExternalRefundLine(line_external_id=str(product["id"]), quantity=qty,
                                            amount=money(net, "items.amount"),
                                            tax=money(tax, "items.tax") if tax else None))
            line_tax += tax
            itemised += net + tax
        elif kind == "SHIPPING":
            shipping += value
            itemised += value
        else:
            other += value
            itemised += value
    rest_tax = max(_dec(refund.get("total_tax")) - line_tax, Decimal(0))
    other += max(_dec(refund.get("total_amount")) - itemised - rest_tax, Decimal(0))
    return ExternalRefund(
        external_id=str(refund["id"]), order_external_id=str(refund.get("order_id")), currency=currency,
        lines=tuple(lines),
        shipping=money(shipping, "shipping") if shipping else None,
        shipping_tax=money(rest_tax, "total_tax") if rest_tax and shipping else None,
        other=money(other, "other") if other else None,
        other_tax=money(rest_tax, "total_tax") if rest_tax and not shipping else None,
        reason=str(refund.get("reason") or ""),
        created_at=datetime.fromisoformat(refund["created"]) if refund.get("created") else None,
        taxes_included=False)


# ---- catalog -------------------------------------------------------------------------------------


def _num(money) -> Decimal:
    return money.to_decimal()


def is_simple(draft: ProductDraft) -> bool:
    return len(draft.variants) == 1 and not draft.variants[0].options


def product_body(
    draft: ProductDraft, *, weight: Decimal, categories: list[int], idempotency_key: str
) -> dict[str, Any]:
    """One product per call with its variants inline; options come from display-name/label pairs.
    `price` is what the shopper pays; the compare-at price is `retail_price` (shown as "was")."""
    base = min(v.price.to_decimal() for v in draft.variants)
    body: dict[str, Any] = {
        "name": draft.title,
        "type": "physical",
        "weight": weight,
        "price": base,
        "description": draft.description_html,
        "categories": categories,
        "is_visible": True,
        "images": [{"image_url": url, "is_thumbnail": i == 0, "sort_order": i} for i, url in enumerate(draft.images)],
    }
    if draft.vendor:
        body["brand_name"] = draft.vendor
    if is_simple(draft):
        variant = draft.variants[0]
        body.update(sku=variant.sku, inventory_tracking="product", inventory_level=variant.quantity)
        body["price"] = _num(variant.price)
        if variant.compare_at_price is not None:
            body["retail_price"] = _num(variant.compare_at_price)
        if variant.barcode:
            body["upc"] = variant.barcode
        return body
    body.update(sku=draft.sku, inventory_tracking="variant", variants=[variant_body(v) for v in draft.variants])
    return body


def variant_body(variant: ProductVariantDraft) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sku": variant.sku,
        "price": _num(variant.price),
        "inventory_level": variant.quantity,
        "option_values": [{"option_display_name": k, "label": v} for k, v in variant.options.items()],
    }
    if variant.compare_at_price is not None:
        body["retail_price"] = _num(variant.compare_at_price)
    if variant.barcode:
        body["upc"] = variant.barcode
    return body


def inventory_item(update: StockUpdate, location_id: int) -> dict[str, Any]:
    """Products tracked by product are adjusted by product id (`external_inventory_id`), others by variant."""
    if update.external_inventory_id and update.external_inventory_id != update.external_variant_id:
        return {
            "location_id": location_id,
            "product_id": int(update.external_inventory_id),
            "quantity": update.quantity,
        }
    return {"location_id": location_id, "variant_id": int(update.external_variant_id), "quantity": update.quantity}


# ---- shipments -----------------------------------------------------------------------------------


def shipment_body(fulfillment: Fulfillment, order_address_id: int, items: list[dict[str, int]]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_address_id": order_address_id,
        "tracking_number": fulfillment.tracking_number,
        "items": items,
    }
    provider = PROVIDERS.get(fulfillment.carrier.strip().lower())
    if provider:
        body["shipping_provider"] = provider
    else:
        body["shipping_provider"] = ""
        body["tracking_carrier"] = fulfillment.carrier.strip().lower().replace(" ", "-")
    if fulfillment.tracking_url:
        body["tracking_link"] = fulfillment.tracking_url
    return body


def remaining_items(products: list[dict[str, Any]]) -> list[dict[str, int]]:
    return [
        {"order_product_id": int(p["id"]), "quantity": int(p["quantity"]) - int(p.get("quantity_shipped") or 0)}
        for p in products
        if int(p["quantity"]) > int(p.get("quantity_shipped") or 0)
    ]


def same_shipment(existing: dict[str, Any], number: str, items: list[dict[str, int]]) -> bool:
    mine = sorted((i["order_product_id"], i["quantity"]) for i in items)
    theirs = sorted((int(i["order_product_id"]), int(i["quantity"])) for i in existing.get("items") or [])
    return existing.get("tracking_number") == number and mine == theirs


def price_item(update: PriceUpdate) -> dict[str, Any]:
    """A variant batch item: `price` is what the shopper pays, `retail_price` the "was" price (null: none)."""
    return {"id": int(update.external_variant_id), "price": _num(update.price),
            "retail_price": _num(update.compare_at_price) if update.compare_at_price is not None else None}


# ---- variants follow the supplier ------------------------------------------------------------------


def category_path(category: str) -> list[str]:
    """"Apparel > Tees" -> ["Apparel", "Tees"]."""
    return [part.strip() for part in category.split(">") if part.strip()]


def live_product(data: dict[str, Any], categories: list[str] | None = None) -> LiveProduct:
    return LiveProduct(
        external_product_id=str(data["id"]), title=str(data.get("name") or ""),
        retired=not data.get("is_visible", True), categories=list(categories or []),
        variants=[LiveVariant(external_variant_id=str(v["id"]), sku=str(v.get("sku") or ""),
                              options={o.get("option_display_name", ""): o.get("label", "")
                                       for o in v.get("option_values") or []},
                              retired=bool(v.get("purchasing_disabled")))
                  for v in data.get("variants") or []])


def new_variant_body(variant: ProductVariantDraft, option_refs: list[dict[str, int]]) -> dict[str, Any]:
    """POST .../variants: option values by their ids on the product (storefronts.md §3.4)."""
    body = variant_body(variant)
    body["option_values"] = option_refs
    return body


def purchasable_item(variant_id: str, on_sale: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"id": int(variant_id), "purchasing_disabled": not on_sale}
    item["purchasing_disabled_message"] = "" if on_sale else "No longer available"
    return item


def value_renames(variants: list[dict[str, Any]], options: list[dict[str, Any]],
                  renames: list[tuple[str, ProductVariantDraft]]) -> list[tuple[int, int, str]]:
    """(option id, value id, new label) for renamed variants. A BigCommerce variant keeps its option value ids, so
    a rename changes the value's label in place; that is only right when every variant using the value moves to
    the same new label, else PermanentError names the conflict."""
    by_id = {str(v["id"]): v for v in variants}
    wanted: dict[tuple[int, int], str] = {}
    for vid, draft in renames:
        live = by_id.get(str(vid))
        if live is None:
            raise PermanentError(f"bigcommerce variant {vid} not found on its product")
        for ov in live.get("option_values") or []:
            new = draft.options.get(ov.get("option_display_name"))
            if new is None or new == ov.get("label"):
                continue
            key = (int(ov["option_id"]), int(ov["id"]))
            if wanted.get(key, new) != new:
                raise PermanentError(f"option value {ov.get('label')!r} would need two new labels: "
                                     f"{wanted[key]!r} and {new!r}")
            wanted[key] = new
    renamed = {vid for vid, _ in renames}
    for (option_id, value_id), new in wanted.items():
        option = next((o for o in options if int(o["id"]) == option_id), None)
        if option and any(v["label"] == new for v in option.get("option_values") or []):
            raise PermanentError(f"option {option.get('display_name')!r} has a value {new!r} already; a BigCommerce "
                                 "variant cannot be moved to another value")
        for v in variants:
            if str(v["id"]) in renamed:
                continue
            if any(int(ov["id"]) == value_id for ov in v.get("option_values") or []):
                raise PermanentError(f"variant {v.get('sku')} also uses the option value being renamed to {new!r}")
    return [(o, v, label) for (o, v), label in wanted.items()]


def delivery_metafield(update: DeliveryUpdate) -> dict[str, Any]:
    """A variant metafield the storefront may read (`read_and_sf_access`: themes and the GraphQL Storefront
    API see it) holding the window as text, "5-12"."""
    return {"namespace": DELIVERY_NAMESPACE, "key": DELIVERY_KEY, "value": update.value,
            "permission_set": "read_and_sf_access", "description": "delivery window in days (dropbridge)"}
