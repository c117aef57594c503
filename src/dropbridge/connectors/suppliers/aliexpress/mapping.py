"""Pure translation between AliExpress DS API bodies and our boundary types. Vendor field names stay here.

Sources: the DS method pages (ds.product.get, ds.freight.query, ds.order.create, trade.ds.order.get,
ds.order.tracking.get) as summarised in shared/contracts/suppliers.md section 3, with their example bodies in
tests/connectors/aliexpress/fixtures/. Two quirks run through all of them:
- with `simplify=false` a list arrives wrapped in an object with one key (`{"ae_item_sku_info_d_t_o": [...]}`,
  `{"number": [...]}`); `listed()` takes either form (and a lone object as a list of one);
- numbers arrive as numbers or as strings, field by field and version by version.

Our SKU for an AliExpress SKU is `<product_id>:<sku_id>`: both ids are stable; `sku_attr`, which an order
needs, is read from ds.product.get when the order is placed (it changes when a seller edits the listing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from dropbridge.domain.catalog import gtin_key
from dropbridge.domain.errors import PermanentError, RetryableError
from dropbridge.services.ports import (
    Address,
    OfferRow,
    PlacedOrder,
    Placement,
    ShippingOption,
    SupplierOrderItem,
    TrackingUpdate,
    decimal_money,
)

from . import errors

ON_SALE = "onSelling"
PRODUCT_GONE = {"602", "605"}  # 602 not allowed to this country, 605 ITEM_ID_NOT_FOUND (ds.product.get docs)
SHIPS_FROM_PROPERTY = "200007763"  # the "Ships From" SKU property
AUTOPAY_FAILED = "autopayfail"  # is_success true, error_msg "OrderCreated, autoPay fail:..." [U] (spaces dropped)
UNPAID_STATUSES = {"PLACE_ORDER_SUCCESS", "PAYMENT_PROCESSING", "WAIT_BUYER_PAY"}

# "Ships From" values as AliExpress spells them -> ISO 3166-1 alpha-2.
SHIPS_FROM = {
    "CHINA": "CN", "CHINA MAINLAND": "CN", "UNITED STATES": "US", "USA": "US", "SPAIN": "ES", "FRANCE": "FR",
    "GERMANY": "DE", "ITALY": "IT", "POLAND": "PL", "CZECH REPUBLIC": "CZ", "UNITED KINGDOM": "GB",
    "RUSSIAN FEDERATION": "RU", "RUSSIA": "RU", "BRAZIL": "BR", "AUSTRALIA": "AU", "TURKEY": "TR",
    "SAUDI ARABIA": "SA", "UNITED ARAB EMIRATES": "AE", "ISRAEL": "IL", "KOREA": "KR", "SOUTH KOREA": "KR",
    "BELGIUM": "BE", "NETHERLANDS": "NL", "MEXICO": "MX", "CHILE": "CL", "HUNGARY": "HU", "VIETNAM": "VN",
}

# AliExpress validates US addresses by state name ("Please select a State/Province/County"); the docs'
# examples send "California", "New Jersey". Elsewhere the code we hold goes as it is.
US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
    "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
    "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "PR": "Puerto Rico",
}
CALLING_CODES = {"US": "+1", "CA": "+1", "GB": "+44", "DE": "+49", "FR": "+33", "ES": "+34", "IT": "+39",
                 "NL": "+31", "BE": "+32", "PL": "+48", "AU": "+61", "BR": "+55", "MX": "+52", "IL": "+972"}


# ---- envelopes and lists ---------------------------------------------------------------------------


def response_key(method: str) -> str:
    return method.replace(".", "_") + "_response"


def unwrap(body: dict[str, Any], method: str) -> dict[str, Any]:
    """The `<method>_response` object of a /sync answer (or the body itself when it is not wrapped)."""
    inner = body.get(response_key(method))
    if isinstance(inner, dict):
        return inner
    wrapped = [v for k, v in body.items() if k.endswith("_response") and isinstance(v, dict)]
    if len(wrapped) == 1:
        return wrapped[0]
    return body


def listed(value: Any) -> list[Any]:
    """A list as AliExpress sends it: bare, wrapped in a one-key object, or a lone object."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if len(value) == 1:
            (inner,) = value.values()
            if isinstance(inner, list):
                return inner
            if isinstance(inner, dict):
                return [inner]
        return [value] if value else []
    return [value]


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError):
        return default


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


# ---- SKUs ------------------------------------------------------------------------------------------


def supplier_sku(product_id: Any, sku_id: Any) -> str:
    return f"{product_id}:{sku_id}"


def split_sku(sku: str) -> tuple[str, str]:
    """`<product_id>:<sku_id>` -> the two ids; PermanentError for anything else (not an AliExpress SKU)."""
    product_id, sep, sku_id = sku.partition(":")
    if not sep or not product_id.isdigit() or not sku_id:
        raise PermanentError(f"{sku!r} is not an AliExpress SKU (<product_id>:<sku_id>)")
    return product_id, sku_id


@dataclass(frozen=True)
class Product:
    """What ds.product.get says of one product, for one ship-to country and currency."""

    product_id: str
    result: dict[str, Any]

    @property
    def base(self) -> dict[str, Any]:
        return self.result.get("ae_item_base_info_dto") or {}

    @property
    def skus(self) -> list[dict[str, Any]]:
        return [s for s in listed(self.result.get("ae_item_sku_info_dtos")) if isinstance(s, dict)]

    @property
    def on_sale(self) -> bool:
        status = self.base.get("product_status_type")
        return status in (None, "", ON_SALE)

    def sku(self, sku_id: str) -> dict[str, Any] | None:
        return next((s for s in self.skus if _text(s.get("sku_id")) == sku_id), None)


def product_from_body(body: dict[str, Any], product_id: str) -> Product | None:
    """The product, or None when AliExpress says it is gone or not sold to that country (602, 605)."""
    inner = unwrap(body, "aliexpress.ds.product.get")
    code = _text(inner.get("rsp_code") or "200")
    if code in PRODUCT_GONE:
        return None
    result = inner.get("result")
    if code != "200" or not isinstance(result, dict):
        raise RetryableError(f"aliexpress product {product_id}: rsp_code {code}: {_text(inner.get('rsp_msg'))}")
    return Product(product_id, result)


def sku_stock(sku: dict[str, Any]) -> int:
    for key in ("sku_available_stock", "s_k_u_available_stock", "ipm_sku_stock"):
        if sku.get(key) not in (None, ""):
            return max(0, _int(sku[key]))
    return 0


def sku_attr(sku: dict[str, Any]) -> str:
    """The attribute key an order names the SKU by ("" for a product with one SKU; `id` is its old name)."""
    return _text(sku.get("sku_attr") or sku.get("id"))


def _properties(sku: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in listed(sku.get("ae_sku_property_dtos") or sku.get("aeop_s_k_u_propertys"))
            if isinstance(p, dict)]


def _gtin(sku: dict[str, Any]) -> str | None:
    """The SKU's EAN as a GTIN-14 (as feed rows carry it), when it is one (sellers fill it with anything)."""
    for key in ("ean_code", "barcode"):
        found = gtin_key(_text(sku.get(key)))
        if found:
            return found
    return None


def offer_rows(product: Product, fallback_currency: str) -> list[OfferRow]:
    """One OfferRow per SKU: the price we pay (offer_sale_price, else sku_price) and the stock for the
    ship-to country asked, with the product's catalog data (as feed rows carry it)."""
    base, result = product.base, product.result
    images = [u.strip() for u in _text((result.get("ae_multimedia_info_dto") or {}).get("image_urls")).split(";")
              if u.strip()]
    store = result.get("ae_store_info") or {}
    lead = _int((result.get("logistics_info_dto") or {}).get("delivery_time"), 0) or None
    rows = []
    for sku in product.skus:
        sku_id = _text(sku.get("sku_id"))
        price = _text(sku.get("offer_sale_price")) or _text(sku.get("sku_price"))
        if not sku_id or not price:
            continue
        currency = _text(sku.get("currency_code")) or fallback_currency
        options, ships_from = {}, None
        for prop in _properties(sku):
            name = _text(prop.get("sku_property_name"))
            value = _text(prop.get("property_value_definition_name")) or _text(prop.get("sku_property_value"))
            if name and value:
                options[name] = value
            if _text(prop.get("sku_property_id")) == SHIPS_FROM_PROPERTY or name.lower() == "ships from":
                ships_from = SHIPS_FROM.get(_text(prop.get("sku_property_value")).upper())
        sku_images = [_text(p.get("sku_image")) for p in _properties(sku) if _text(p.get("sku_image"))]
        catalog = {
            "title": _text(base.get("subject")) or None,
            "parent_sku": f"AE-{product.product_id}",
            "options": options,
            "images": list(dict.fromkeys(sku_images + images)),
            "description": _text(base.get("detail") or base.get("mobile_detail")) or None,
            "category": _text(base.get("category_id")) or None,
        }
        rows.append(OfferRow(
            supplier_sku=supplier_sku(product.product_id, sku_id),
            stock=sku_stock(sku) if product.on_sale else 0,
            cost=decimal_money(price, currency, "offer_sale_price"),
            lead_time_days=lead, gtin=_gtin(sku), catalog=catalog,
            ships_from=ships_from or (_text(store.get("store_country_code")).upper() or None)))
    return rows


# ---- shipping ----------------------------------------------------------------------------------------


def province_name(country_code: str, province_code: str) -> str:
    if country_code.upper() == "US":
        return US_STATES.get(province_code.upper(), province_code)
    return province_code


def freight_request(product_id: str, sku_id: str, quantity: int, country: str, currency: str, language: str,
                    province: str = "", city: str = "") -> dict[str, Any]:
    """`queryDeliveryReq` of ds.freight.query (its documented keys)."""
    req = {"quantity": quantity, "shipToCountry": country, "productId": product_id, "selectedSkuId": sku_id,
           "language": language, "locale": language, "currency": currency}
    if province:
        req["provinceCode"] = province_name(country, province)
    if city:
        req["cityCode"] = city
    return req


def freight_options(body: dict[str, Any], currency: str) -> list[ShippingOption]:
    """The delivery options of a ds.freight.query answer; [] when it does not deliver there (505)."""
    result = unwrap(body, "aliexpress.ds.freight.query").get("result") or {}
    if result.get("success") in (False, "false"):
        code = _text(result.get("code"))
        if code in ("505",) or "NOT_AVAILABLE" in _text(result.get("msg")).upper():
            return []
        raise RetryableError(f"aliexpress freight query: {code}: {_text(result.get('msg'))}")
    out = []
    for option in listed(result.get("delivery_options")):
        if not isinstance(option, dict) or not _text(option.get("code")):
            continue
        free = option.get("free_shipping") in (True, "true")
        # The docs' example sends "shipping_fee_cent": "172.71" with shipping_fee_format "US $172.71": an amount
        # in major units despite the name.
        fee = "0" if free else (_text(option.get("shipping_fee_cent")) or "0")
        cur = _text(option.get("shipping_fee_currency")) or currency
        out.append(ShippingOption(
            method=_text(option["code"]), name=_text(option.get("company")) or _text(option["code"]),
            cost=decimal_money(fee, cur, "shipping_fee_cent"),
            min_days=_int(option.get("min_delivery_days"), 0) or None,
            max_days=_int(option.get("max_delivery_days"), 0) or None))
    return out


def combine_options(per_item: list[list[ShippingOption]]) -> list[ShippingOption]:
    """Methods every item can ship by, with their costs added (each product ships as its own parcel)."""
    if not per_item or any(not options for options in per_item):
        return []
    common = set.intersection(*({o.method for o in options} for options in per_item))
    out = []
    for method in sorted(common):
        chosen = [next(o for o in options if o.method == method) for options in per_item]
        if len({o.cost.currency for o in chosen}) != 1:
            continue
        total = chosen[0].cost
        for option in chosen[1:]:
            total = total + option.cost
        mins = [o.min_days for o in chosen if o.min_days is not None]
        maxes = [o.max_days for o in chosen if o.max_days is not None]
        out.append(ShippingOption(method=method, name=chosen[0].name, cost=total,
                                  min_days=max(mins) if mins else None, max_days=max(maxes) if maxes else None))
    return sorted(out, key=lambda o: (o.cost.amount, o.max_days or 999, o.method))


# ---- orders ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderItem:
    product_id: str
    quantity: int
    sku_attr: str
    logistics_service_name: str | None


def logistics_address(address: Address) -> dict[str, str]:
    """`logistics_address` of the order DTO (ds.order.create's documented keys)."""
    country = address.country_code.upper()
    phone = "".join(ch for ch in address.phone if ch.isdigit())
    prefix = CALLING_CODES.get(country, "")
    if prefix and address.phone.strip().startswith(prefix) and phone.startswith(prefix[1:]):
        phone = phone[len(prefix) - 1:]
    out = {"address": address.address1, "city": address.city, "country": country,
           "province": province_name(country, address.province_code), "zip": address.postal_code,
           "contact_person": address.name, "full_name": address.name}
    if address.address2:
        out["address2"] = address.address2
    if phone:
        out["mobile_no"] = phone
        out["phone_country"] = prefix
    return out


def order_params(reference: str, address: Address, items: list[OrderItem], *, auto_pay: bool,
                 pay_currency: str) -> dict[str, Any]:
    """The two JSON-string parameters of ds.order.create. Our reference goes in `out_order_id` (AliExpress
    refuses a second order with it for 24 h) and, for people matching orders by eye, in each item's memo."""
    dto = {"out_order_id": reference, "logistics_address": logistics_address(address),
           "product_items": [{"product_id": int(i.product_id), "product_count": i.quantity, "sku_attr": i.sku_attr,
                              **({"logistics_service_name": i.logistics_service_name}
                                 if i.logistics_service_name else {}),
                              "order_memo": reference} for i in items]}
    extend = {"payment": {"try_to_pay": "true" if auto_pay else "false", "pay_currency": pay_currency},
              "trade_extra_param": {"business_model": "retail"}}
    return {"param_place_order_request4_open_api_d_t_o": dto, "ds_extend_request": extend}


def placed_order(body: dict[str, Any], reference: str, *, auto_pay: bool,
                 shipping_cost=None) -> PlacedOrder:
    """A ds.order.create answer as a PlacedOrder; raises the refusal it carries. AliExpress makes one order per
    seller: several ids are kept together, comma-separated, as the supplier order's id."""
    result = unwrap(body, "aliexpress.ds.order.create").get("result") or {}
    success = result.get("is_success") in (True, "true")
    message = _text(result.get("error_msg"))
    ids = [_text(i) for i in listed(result.get("order_list")) if _text(i)]
    if not success:
        raise errors.order_refusal(_text(result.get("error_code")), message, reference)
    if not ids:  # success without an order id: it may exist, and we cannot tell which
        raise RetryableError(f"aliexpress accepted {reference} without an order id ({message or 'no message'})")
    paid = auto_pay and AUTOPAY_FAILED not in message.lower().replace("-", "").replace(" ", "")
    return PlacedOrder(external_id=",".join(ids), reference=reference,
                       status=message or ("paid" if paid else "PLACE_ORDER_SUCCESS"),
                       placement=Placement.ACCEPTED if paid else Placement.AWAITING_PAYMENT,
                       shipping_cost=shipping_cost)


# ---- tracking ----------------------------------------------------------------------------------------


def tracking_updates(body: dict[str, Any], ae_order_id: str, reference: str) -> list[TrackingUpdate]:
    """One update per parcel of a ds.order.tracking.get answer; [] before it ships (an empty list) and for
    an order it has no data on (`ret: false`, code 1001)."""
    result = unwrap(body, "aliexpress.ds.order.tracking.get").get("result") or {}
    if result.get("ret") in (False, "false"):
        if _text(result.get("code")) == "1001":
            return []
        raise RetryableError(f"aliexpress tracking of {ae_order_id}: {_text(result.get('code'))}: "
                             f"{_text(result.get('msg'))}")
    data = result.get("data") or {}
    out = []
    for line in listed(data.get("tracking_detail_line_list")):
        if not isinstance(line, dict) or not _text(line.get("mail_no")):
            continue
        stamps = [_int(n.get("time_stamp")) for n in listed(line.get("detail_node_list")) if isinstance(n, dict)]
        stamps = [s for s in stamps if s > 0]
        shipped = datetime.fromtimestamp(min(stamps) / 1000, UTC) if stamps else None
        out.append(TrackingUpdate(reference=reference, external_order_id=ae_order_id,
                                  carrier=_text(line.get("carrier_name")), tracking_number=_text(line["mail_no"]),
                                  shipped_at=shipped, items=[]))
    return out


def parcel_products(body: dict[str, Any]) -> dict[str, set[str]]:
    """Tracking number -> the AliExpress product ids its parcel holds (package_item_list item_id)."""
    result = unwrap(body, "aliexpress.ds.order.tracking.get").get("result") or {}
    out: dict[str, set[str]] = {}
    for line in listed((result.get("data") or {}).get("tracking_detail_line_list")):
        if isinstance(line, dict) and _text(line.get("mail_no")):
            out[_text(line["mail_no"])] = {_text(i.get("item_id")) for i in listed(line.get("package_item_list"))
                                           if isinstance(i, dict) and _text(i.get("item_id"))}
    return out


def order_items(body: dict[str, Any]) -> list[SupplierOrderItem]:
    """The SKUs and counts of one AliExpress order (trade.ds.order.get child_order_list), as our SKUs."""
    result = unwrap(body, "aliexpress.trade.ds.order.get").get("result") or {}
    return [SupplierOrderItem(supplier_sku(_text(c.get("product_id")), _text(c.get("sku_id"))),
                              _int(c.get("product_count"), 1))
            for c in listed(result.get("child_order_list")) if isinstance(c, dict) and _text(c.get("sku_id"))]


def with_items(updates: list[TrackingUpdate], parcels: dict[str, set[str]],
               items: list[SupplierOrderItem]) -> list[TrackingUpdate]:
    """Name what each parcel carries, when one supplier order became several AliExpress orders: the items of
    the parcel's AliExpress order, narrowed to the products the parcel lists when it lists any."""
    out = []
    for update in updates:
        held = parcels.get(update.tracking_number) or set()
        mine = [i for i in items if not held or i.supplier_sku.partition(":")[0] in held]
        out.append(TrackingUpdate(reference=update.reference, external_order_id=update.external_order_id,
                                  carrier=update.carrier, tracking_number=update.tracking_number,
                                  tracking_url=update.tracking_url, shipped_at=update.shipped_at,
                                  items=mine or list(items)))
    return out


# ---- tokens ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None


def token_set(body: dict[str, Any], now: datetime, previous_refresh: str | None) -> TokenSet:
    """What /auth/token/refresh (or create) answers: the new pair and when the access token expires. A
    missing refresh_token keeps the previous one (never lose the way to renew)."""
    inner = unwrap(body, "/auth/token/refresh")
    access = _text(inner.get("access_token"))
    if not access:
        raise RetryableError("aliexpress token renewal answered without an access_token")
    expires = None
    if _int(inner.get("expire_time")) > 0:
        expires = datetime.fromtimestamp(_int(inner["expire_time"]) / 1000, UTC)
    elif _int(inner.get("expires_in")) > 0:
        expires = now + timedelta(seconds=_int(inner["expires_in"]))
    return TokenSet(access, _text(inner.get("refresh_token")) or previous_refresh, expires)


def parse_expiry(value: Any) -> datetime | None:
    """A stored expiry: ISO 8601, or epoch milliseconds as AliExpress gives `expire_time`."""
    text = _text(value)
    if not text:
        return None
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
