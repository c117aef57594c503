"""Pure translation between headless-store JSON and our boundary types.

Prices travel as decimal strings ("19.99") and are parsed with Decimal, never float. Bad input raises
ValidationError with the exact field path ("lines[0].unit_price") so a merchant can fix their payload.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dropbridge.domain.errors import CurrencyError, ValidationError
from dropbridge.domain.money import Money, exponent
from dropbridge.services.ports import (
    Address,
    ExternalOrder,
    ExternalOrderLine,
    Fulfillment,
    PriceUpdate,
    ProductDraft,
    PublishedProduct,
    StockUpdate,
    decimal_money,
)

ADDRESS_REQUIRED = ("name", "address1", "city", "country_code")
ADDRESS_OPTIONAL = ("address2", "province_code", "postal_code", "phone", "company")


# ---- outbound --------------------------------------------------------------------------------


def money_str(money: Money) -> str:
    """19.99 USD -> "19.99"; JPY 1500 -> "1500"."""
    return f"{money.to_decimal():.{exponent(money.currency)}f}"


def fulfillment_to_json(fulfillment: Fulfillment) -> dict[str, Any]:
    return {
        "order_external_id": fulfillment.order_external_id,
        "carrier": fulfillment.carrier,
        "tracking_number": fulfillment.tracking_number,
        "tracking_url": fulfillment.tracking_url,
        "lines": [{"external_line_id": ln.external_line_id, "quantity": ln.quantity} for ln in fulfillment.lines],
        "notify_customer": fulfillment.notify_customer,
    }


def stock_batch_to_json(updates: list[StockUpdate]) -> dict[str, Any]:
    return {
        "updates": [
            {"sku": u.sku, "external_variant_id": u.external_variant_id, "quantity": u.quantity} for u in updates
        ]
    }


def price_batch_to_json(updates: list[PriceUpdate]) -> dict[str, Any]:
    return {
        "updates": [
            {"sku": u.sku, "external_variant_id": u.external_variant_id, "price": money_str(u.price),
             "currency": u.price.currency,
             "compare_at_price": money_str(u.compare_at_price) if u.compare_at_price is not None else None}
            for u in updates
        ]
    }


def product_to_json(product: ProductDraft) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "title": product.title,
        "description_html": product.description_html,
        "images": list(product.images),
        "vendor": product.vendor,
        "variants": [
            {
                "sku": v.sku,
                "price": money_str(v.price),
                "currency": v.price.currency,
                "compare_at_price": money_str(v.compare_at_price) if v.compare_at_price else None,
                "options": dict(v.options),
                "barcode": v.barcode,
                "quantity": v.quantity,
            }
            for v in product.variants
        ],
    }


def published_from_json(body: dict[str, Any]) -> PublishedProduct:
    return PublishedProduct(
        external_product_id=str(body["product_id"]),
        variant_ids={str(k): str(v) for k, v in (body.get("variant_ids") or {}).items()},
    )


# ---- inbound orders --------------------------------------------------------------------------


def _text(obj: dict[str, Any], key: str, path: str, *, required: bool) -> str:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise ValidationError(f"{path} is required", field=path)
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(f"{path} must be a string", field=path)
    return str(value).strip()


def _money(value: Any, currency: str, path: str) -> Money:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValidationError(f'{path} must be a decimal string such as "19.99"', field=path)
    money = decimal_money(value, currency, path)
    if money.amount < 0:
        raise ValidationError(f"{path} must not be negative", field=path)
    return money


def _optional_money(obj: dict[str, Any], key: str, currency: str, path: str) -> Money | None:
    value = obj.get(key)
    return None if value is None else _money(value, currency, path)


def _address(value: Any, path: str) -> Address:
    if not isinstance(value, dict):
        raise ValidationError(f"{path} is required", field=path)
    fields = {k: _text(value, k, f"{path}.{k}", required=True) for k in ADDRESS_REQUIRED}
    fields.update({k: _text(value, k, f"{path}.{k}", required=False) for k in ADDRESS_OPTIONAL})
    country = fields["country_code"].upper()
    if len(country) != 2 or not country.isalpha():
        raise ValidationError(f"{path}.country_code must be ISO 3166-1 alpha-2", field=f"{path}.country_code")
    fields["country_code"] = country
    return Address(**fields)


def _time(value: Any, path: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{path} must be an ISO 8601 time", field=path) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def order_from_payload(payload: dict[str, Any], cancelled: bool = False) -> ExternalOrder:
    """A headless order JSON (see the package docs) as an ExternalOrder; ValidationError names the field.

    A line without `external_id` is identified by its 1-based position, which fulfillments send back.
    """
    if not isinstance(payload, dict):
        raise ValidationError("order must be a JSON object", field="")
    external_id = _text(payload, "external_id", "external_id", required=True)
    currency = _text(payload, "currency", "currency", required=True).upper()
    try:
        exponent(currency)
    except CurrencyError:
        raise ValidationError(f"not an ISO 4217 currency: {currency!r}", field="currency") from None
    email = _text(payload, "email", "email", required=False) or None
    ship_to = _address(payload.get("ship_to"), "ship_to")
    raw_lines = payload.get("lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise ValidationError("lines must be a non-empty list", field="lines")
    lines = []
    for i, raw in enumerate(raw_lines):
        path = f"lines[{i}]"
        if not isinstance(raw, dict):
            raise ValidationError(f"{path} must be an object", field=path)
        quantity = raw.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            raise ValidationError(f"{path}.quantity must be a positive integer", field=f"{path}.quantity")
        if "unit_price" not in raw or raw["unit_price"] is None:
            raise ValidationError(f"{path}.unit_price is required", field=f"{path}.unit_price")
        lines.append(
            ExternalOrderLine(
                external_id=_text(raw, "external_id", f"{path}.external_id", required=False) or str(i + 1),
                sku=_text(raw, "sku", f"{path}.sku", required=True),
                quantity=quantity,
                unit_price=_money(raw["unit_price"], currency, f"{path}.unit_price"),
                title=_text(raw, "title", f"{path}.title", required=False),
                external_variant_id=_text(raw, "variant_id", f"{path}.variant_id", required=False) or None,
                tax=_optional_money(raw, "tax", currency, f"{path}.tax"),
                discount=_optional_money(raw, "discount", currency, f"{path}.discount"),
            )
        )
    shipping = payload.get("shipping_price")
    return ExternalOrder(
        external_id=external_id,
        currency=currency,
        lines=lines,
        ship_to=ship_to,
        number=_text(payload, "number", "number", required=False),
        email=email,
        shipping_price=_money(shipping, currency, "shipping_price") if shipping is not None else None,
        total_tax=_optional_money(payload, "total_tax", currency, "total_tax"),
        total_discounts=_optional_money(payload, "total_discounts", currency, "total_discounts"),
        total_price=_optional_money(payload, "total_price", currency, "total_price"),
        cancelled=cancelled or payload.get("cancelled") is True,
        created_at=_time(payload.get("created_at"), "created_at"),
        taxes_included=payload["taxes_included"] if isinstance(payload.get("taxes_included"), bool) else None,
    )
