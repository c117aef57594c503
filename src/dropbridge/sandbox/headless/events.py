"""The events a headless store's backend accepts from dropbridge, validated field by field.

There is no platform contract for a headless store: this is OUR definition (README, the `headless`
connector). Errors are `{"error": {"code", "message", "field"?}}`: 422 for a bad body, 413 for a stock
batch over MAX_STOCK_BATCH.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

MAX_STOCK_BATCH = 500  # stock.updated and prices.updated alike


class Invalid(Exception):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


class TooLarge(Exception):
    pass


def string(body: dict, key: str, path: str, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise Invalid(f"{path} must be a non-empty string", path)
    return value


def integer(body: dict, key: str, path: str, minimum: int) -> int:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise Invalid(f"{path} must be an integer >= {minimum}", path)
    return value


def listed(body: dict, key: str, path: str) -> list:
    value = body.get(key)
    if not isinstance(value, list):
        raise Invalid(f"{path} must be a list", path)
    return value


def fulfillment(body: dict[str, Any]) -> dict[str, Any]:
    order_id = string(body, "order_external_id", "order_external_id")
    carrier = string(body, "carrier", "carrier", required=False) or ""
    number = string(body, "tracking_number", "tracking_number")
    url = string(body, "tracking_url", "tracking_url", required=False)
    lines = []
    for i, line in enumerate(listed(body, "lines", "lines")):
        if not isinstance(line, dict):
            raise Invalid("line must be an object", f"lines[{i}]")
        lines.append({"external_line_id": string(line, "external_line_id", f"lines[{i}].external_line_id"),
                      "quantity": integer(line, "quantity", f"lines[{i}].quantity", 1)})
    notify = body.get("notify_customer", True)
    if not isinstance(notify, bool):
        raise Invalid("notify_customer must be a boolean", "notify_customer")
    return {"order_external_id": order_id, "carrier": carrier, "tracking_number": number, "tracking_url": url,
            "lines": lines, "notify_customer": notify}


def _updates(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The batch's updates, each an object, with the path that names it in errors."""
    updates = listed(body, "updates", "updates")
    if len(updates) > MAX_STOCK_BATCH:
        raise TooLarge(f"{len(updates)} updates; at most {MAX_STOCK_BATCH} per call")
    for i, update in enumerate(updates):
        if not isinstance(update, dict):
            raise Invalid("update must be an object", f"updates[{i}]")
    return [(f"updates[{i}]", update) for i, update in enumerate(updates)]


def stock_updates(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"sku": string(u, "sku", f"{at}.sku"),
             "external_variant_id": string(u, "external_variant_id", f"{at}.external_variant_id"),
             "quantity": integer(u, "quantity", f"{at}.quantity", 0)} for at, u in _updates(body)]


def price_updates(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"sku": string(u, "sku", f"{at}.sku"),
             "external_variant_id": string(u, "external_variant_id", f"{at}.external_variant_id"),
             "price": decimal_text(u, "price", f"{at}.price"),
             "currency": string(u, "currency", f"{at}.currency"),
             "compare_at_price": (None if u.get("compare_at_price") is None
                                  else decimal_text(u, "compare_at_price", f"{at}.compare_at_price"))}
            for at, u in _updates(body)]


def decimal_text(body: dict, key: str, path: str) -> str:
    value = string(body, key, path)
    try:
        amount = Decimal(value)
    except ArithmeticError:
        raise Invalid(f"{path} must be a decimal string", path) from None
    if not amount.is_finite() or amount < 0:
        raise Invalid(f"{path} must be a decimal string >= 0", path)
    return value


def product(body: dict[str, Any]) -> tuple[str, dict[str, str]]:
    sku = string(body, "sku", "sku")
    string(body, "title", "title")
    variant_ids: dict[str, str] = {}
    for i, variant in enumerate(listed(body, "variants", "variants")):
        if not isinstance(variant, dict):
            raise Invalid("variant must be an object", f"variants[{i}]")
        vsku = string(variant, "sku", f"variants[{i}].sku")
        string(variant, "price", f"variants[{i}].price")
        variant_ids[vsku] = vsku
    return sku, variant_ids
