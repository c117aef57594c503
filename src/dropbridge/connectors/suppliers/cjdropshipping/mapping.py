"""Pure translation between CJdropshipping API 2.0 JSON and our boundary types. CJ's field names stay here.

Contract: ../shared/contracts/suppliers.md section 2 (CJ). Prices are USD decimal numbers (or strings, or a
range "3.10 -- 4.20" on product level); times are ISO 8601 with an offset (+08:00)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import InvalidOperation
from typing import Any

from babel import Locale

from dropbridge.domain.errors import PermanentError, ValidationError
from dropbridge.domain.money import Money
from dropbridge.services.ports import (
    InvoiceLine,
    OfferRow,
    PlacedOrder,
    Placement,
    ShippingOption,
    SupplierInvoice,
    SupplierOrderRequest,
    TrackingUpdate,
    decimal_money,
)

CURRENCY = "USD"  # CJ prices and order amounts are US dollars (logisticPriceCn is the CNY twin)
MAX_ORDER_NUMBER = 40  # createOrderV2 orderNumber, contract 2.6 / 7.2
# [U] CJ's orderStatus values (contract 2.7): before payment the order waits; after it, CJ works on it.
UNPAID_STATUSES = frozenset({"CREATED", "IN_CART", "UNPAID", "UNCONFIRMED"})
CANCELLED_STATUSES = frozenset({"CANCELLED", "CANCELED", "CLOSED"})
_AGING = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+))?")
_COUNTRIES = Locale("en").territories


def parse_time(value: Any) -> datetime | None:
    """CJ's "2021-08-18T09:16:33+08:00" (also "2021-08-18 09:16:33", taken as UTC+8, CJ's clock)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        from datetime import timedelta, timezone

        parsed = parsed.replace(tzinfo=timezone(timedelta(hours=8)))
    return parsed.astimezone(UTC)


def usd(value: Any, field: str) -> Money:
    """A CJ price: a number or a decimal string; never through float arithmetic."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValidationError(f"{field}: no price", field)
    try:
        return decimal_money(value if not isinstance(value, str) else value.strip(), CURRENCY, field)
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError(f"{field}: {value!r} is not a price", field) from exc


def usd_or_none(value: Any, field: str) -> Money | None:
    try:
        return usd(value, field)
    except ValidationError:
        return None


# ---- tokens ---------------------------------------------------------------------------------------------


def token_from_json(data: Any) -> dict[str, Any]:
    """getAccessToken / refreshAccessToken `data` -> what we keep (times as ISO UTC)."""
    if not isinstance(data, dict) or not data.get("accessToken"):
        raise PermanentError("CJ token reply has no accessToken")
    expires = parse_time(data.get("accessTokenExpiryDate"))
    refresh_expires = parse_time(data.get("refreshTokenExpiryDate"))
    return {"access_token": str(data["accessToken"]), "refresh_token": str(data.get("refreshToken") or ""),
            "access_expires": expires.isoformat() if expires else None,
            "refresh_expires": refresh_expires.isoformat() if refresh_expires else None,
            "open_id": data.get("openId")}


# ---- catalog ----------------------------------------------------------------------------------------------


def product_ids(page: Any) -> tuple[list[str], int]:
    """listV2 `data` -> (product ids on this page, total pages). Items sit in data.content[].productList[]."""
    if not isinstance(page, dict):
        raise PermanentError("CJ product list reply has no data")
    ids: list[str] = []
    for block in page.get("content") or []:
        for item in (block or {}).get("productList") or []:
            if item.get("id"):
                ids.append(str(item["id"]))
    return ids, int(page.get("totalPages") or 0)


def stock_by_variant(rows: Any, country: str, with_factory: bool) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Stock rows (per variant and warehouse) -> ({vid: units shippable from `country`},
    {vid: {warehouse: units}} for every warehouse, kept as catalog detail)."""
    counts: dict[str, int] = {}
    detail: dict[str, dict[str, int]] = {}
    for row in rows or []:
        vid = str(row.get("vid") or "")
        if not vid:
            continue
        cj = _int(row.get("cjInventoryNum"))
        factory = _int(row.get("factoryInventoryNum"))
        total = _int(row.get("totalInventoryNum")) if row.get("totalInventoryNum") is not None else cj + factory
        where = str(row.get("areaEn") or row.get("countryCode") or row.get("areaId") or "?")
        detail.setdefault(vid, {})[where] = detail.get(vid, {}).get(where, 0) + total
        if str(row.get("countryCode") or "").upper() == country:
            counts[vid] = counts.get(vid, 0) + (cj + factory if with_factory else cj)
    return counts, detail


def _int(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def _images(product: dict[str, Any]) -> list[str]:
    """productImageSet (a list), else productImage (a URL, or a JSON-ish list of URLs as text)."""
    images = product.get("productImageSet")
    if isinstance(images, list) and images:
        return [str(u) for u in images if u]
    one = product.get("productImage")
    if isinstance(one, list):
        return [str(u) for u in one if u]
    if isinstance(one, str) and one.strip():
        text = one.strip()
        if text.startswith("["):
            return [u.strip().strip('"') for u in text.strip("[]").split(",") if u.strip().strip('"')]
        return [text]
    return []


def _options(product: dict[str, Any], variant: dict[str, Any]) -> dict[str, str]:
    """variantKey "Black-M" against the product's property names ("Color-Size"), else one "Variant" option."""
    key = str(variant.get("variantKey") or "").strip()
    if not key:
        return {}
    names = [n.strip() for n in str(product.get("productKeyEn") or "").split("-") if n.strip()]
    values = [v.strip() for v in key.split("-")]
    if names and len(names) == len(values):
        return dict(zip(names, values, strict=True))
    return {"Variant": key}


def offers_from_product(product: Any, stock_rows: Any, *, country: str, with_factory: bool) -> list[OfferRow]:
    """product/query `data` (a product with its variants) and its stock rows -> one OfferRow per variant."""
    if not isinstance(product, dict):
        return []
    counts, detail = stock_by_variant(stock_rows, country, with_factory)
    images = _images(product)
    parent = str(product.get("productSku") or product.get("pid") or "")
    rows = []
    for v in product.get("variants") or []:
        sku = str(v.get("variantSku") or "").strip()
        vid = str(v.get("vid") or "")
        price = usd_or_none(v.get("variantSellPrice"), f"{sku}.variantSellPrice")
        if not sku or price is None:
            continue
        catalog: dict[str, Any] = {
            "title": product.get("productNameEn") or v.get("variantNameEn") or sku,
            "parent_sku": parent or None,
            "options": _options(product, v),
            "images": list(dict.fromkeys(([str(v["variantImage"])] if v.get("variantImage") else []) + images)),
            "description": product.get("description") or None,
            "category": product.get("categoryName") or None,
            "cj_vid": vid,  # the id CJ's freight and stock calls take
            "warehouses": detail.get(vid, {}),
        }
        if v.get("variantWeight") not in (None, ""):
            catalog["weight"], catalog["weight_unit"] = str(v["variantWeight"]), "g"
        rows.append(OfferRow(supplier_sku=sku, stock=counts.get(vid, 0), cost=price, catalog=catalog,
                             ships_from=country))
    return rows


def vid_for_sku(variants: Any, sku: str) -> str | None:
    """variant/query `data` -> the vid of the variant whose variantSku is `sku`."""
    for v in variants or []:
        if str(v.get("variantSku") or "") == sku and v.get("vid"):
            return str(v["vid"])
    return None


# ---- shipping ----------------------------------------------------------------------------------------------


def freight_request(from_country: str, country: str, postal_code: str, items: list[tuple[str, int]]) -> dict:
    return {"startCountryCode": from_country, "endCountryCode": country, "zip": postal_code,
            "products": [{"quantity": qty, "vid": vid} for vid, qty in items]}


def shipping_options(data: Any) -> list[ShippingOption]:
    """freightCalculate `data` -> options, cheapest first. logisticAging is a day range as text ("2-5")."""
    out = []
    for row in data or []:
        name = str(row.get("logisticName") or "").strip()
        price = usd_or_none(row.get("logisticPrice"), f"{name}.logisticPrice")
        if not name or price is None:
            continue
        low = high = None
        match = _AGING.match(str(row.get("logisticAging") or ""))
        if match:
            low = int(match.group(1))
            high = int(match.group(2)) if match.group(2) else low
        out.append(ShippingOption(method=name, name=name, cost=price, min_days=low, max_days=high))
    return sorted(out, key=lambda o: (o.cost.amount, o.max_days or 0, o.name))


# ---- orders ------------------------------------------------------------------------------------------------


def country_name(code: str) -> str:
    """createOrderV2 wants shippingCountry as a name ("United States") beside its code."""
    return _COUNTRIES.get(code.upper(), code.upper())


def order_request_to_json(request: SupplierOrderRequest, *, logistic_name: str, from_country: str,
                          pay_from_balance: bool, sandbox: bool) -> dict[str, Any]:
    if len(request.reference) > MAX_ORDER_NUMBER:
        raise PermanentError(f"reference {request.reference!r} is longer than CJ's {MAX_ORDER_NUMBER} characters")
    a = request.ship_to
    refs = {ln.supplier_sku: ln.line_ref for ln in request.lines}
    body: dict[str, Any] = {
        "orderNumber": request.reference,
        "shippingCustomerName": a.name,
        "shippingCountry": country_name(a.country_code),
        "shippingCountryCode": a.country_code.upper(),
        "shippingProvince": a.province_code or a.city,  # required by CJ; many countries have none
        "shippingCity": a.city,
        "shippingAddress": a.address1,
        "logisticName": logistic_name,
        "fromCountryCode": from_country,
        # 2: created, added to the cart, confirmed and paid from the CJ balance; 3: created only (contract 2.6)
        "payType": 2 if pay_from_balance else 3,
        "products": [{"sku": i.supplier_sku, "quantity": i.quantity,
                      **({"storeLineItemId": refs[i.supplier_sku]} if refs.get(i.supplier_sku) else {})}
                     for i in request.items],
    }
    optional = {"shippingAddress2": a.address2, "shippingZip": a.postal_code, "shippingPhone": a.phone,
                "email": request.email or ""}
    body.update({k: v for k, v in optional.items() if v})
    if sandbox:
        body["isSandbox"] = 1  # [C] contract 2.6
    return body


def placement(status: str) -> Placement:
    return Placement.AWAITING_PAYMENT if status.upper() in UNPAID_STATUSES else Placement.ACCEPTED


def placed_order_from_json(data: Any, reference: str | None = None) -> PlacedOrder:
    """createOrderV2 or getOrderDetail `data` -> PlacedOrder, with what CJ says the goods and the postage cost."""
    if not isinstance(data, dict) or not data.get("orderId"):
        raise PermanentError("CJ order reply has no orderId")
    status = str(data.get("orderStatus") or "")
    return PlacedOrder(
        external_id=str(data["orderId"]),
        reference=str(data.get("orderNumber") or data.get("orderNum") or reference or ""),
        status=status, placement=placement(status),
        cost=usd_or_none(data.get("productAmount"), "productAmount"),
        shipping_cost=usd_or_none(data.get("postageAmount"), "postageAmount"))


def tracking_from_detail(detail: Any, reference: str | None = None) -> list[TrackingUpdate]:
    """getOrderDetail `data` -> the shipment it names (none before CJ gives a tracking number)."""
    if not isinstance(detail, dict) or not detail.get("trackNumber"):
        return []
    return [TrackingUpdate(
        reference=str(reference or detail.get("orderNumber") or detail.get("orderNum") or ""),
        external_order_id=str(detail.get("orderId") or ""),
        carrier=str(detail.get("logisticName") or ""),
        tracking_number=str(detail["trackNumber"]),
        tracking_url=detail.get("trackingUrl") or None,
        shipped_at=parse_time(detail.get("outWarehouseTime")) or parse_time(detail.get("deliveryTime")),
    )]


def invoice_from_detail(detail: Any, reference: str, skus: Mapping[str, str] | None = None) -> SupplierInvoice | None:
    """What CJ charges for an order, from its order amounts (CJ bills the order itself: no separate invoice).
    Its lines name variants by vid; `skus` (vid -> variantSku) names them as our offers do, where known."""
    if not isinstance(detail, dict) or not detail.get("orderId") or placement(str(detail.get("orderStatus") or "")) \
            == Placement.AWAITING_PAYMENT:
        return None
    order_id = str(detail["orderId"])
    skus = skus or {}
    lines = [InvoiceLine(supplier_sku=str(p.get("sku") or p.get("variantSku") or skus.get(str(p.get("vid")), ""))
                         or None,
                         quantity=int(p.get("quantity") or 0), unit_price=usd(p.get("sellPrice"), "sellPrice"),
                         reference=reference, external_order_id=order_id)
             for p in detail.get("productList") or [] if p.get("sellPrice") not in (None, "")]
    postage = usd_or_none(detail.get("postageAmount"), "postageAmount")
    if postage is not None and postage.amount:
        lines.append(InvoiceLine(None, 1, postage, reference=reference, external_order_id=order_id,
                                 kind="shipping", description=str(detail.get("logisticName") or "postage")))
    return SupplierInvoice(number=f"CJ-{order_id}", currency=CURRENCY, lines=tuple(lines),
                           issued_at=parse_time(detail.get("paymentDate")),
                           total=usd_or_none(detail.get("orderAmount"), "orderAmount"))


# ---- webhooks -----------------------------------------------------------------------------------------------


def message_order_key(params: Any) -> str | None:
    """[U] ORDER and LOGISTICS message params (contract 2.8 lists only PRODUCT's): the CJ order id or our
    orderNumber, under the names CJ uses elsewhere; the detail is then read back, as CJ advises."""
    if not isinstance(params, dict):
        return None
    for key in ("orderId", "cjOrderId", "orderNumber", "orderNum"):
        if params.get(key):
            return str(params[key])
    return None


def message_vid(params: Any) -> str | None:
    if isinstance(params, dict):
        for key in ("vid", "variantId"):
            if params.get(key):
                return str(params[key])
    return None
