"""Pure translation between Printful's JSON (v1 and v2, contract 1.4-1.9) and dropbridge's boundary types.
Vendor field names stay in this module.

Supplier SKUs say how Printful knows the item:
- `PF-<n>`: catalog variant n, sold blank and printed with the designs attached to our SKU (v2 catalog item);
- `PF-SV-<n>`: the store's sync variant n, when it has no external id (v1 `sync_variant_id`);
- anything else: the external id of a store (sync) variant, the merchant's own SKU (v1 `external_variant_id`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from dropbridge.domain.money import Money
from dropbridge.services.ports import (
    Address,
    InvoiceLine,
    OfferRow,
    PlacedOrder,
    Placement,
    ShippingOption,
    ShippingQuoteRequest,
    SupplierInvoice,
    SupplierOrderItem,
    SupplierOrderLineRequest,
    SupplierOrderRequest,
    TrackingUpdate,
    decimal_money,
)

CATALOG_SKU = re.compile(r"^PF-(\d+)$")
SYNC_SKU = re.compile(r"^PF-SV-(\d+)$")
IN_PRODUCTION = ("pending", "inprocess", "partial", "fulfilled", "onhold")  # confirmed: Printful has it
CHARGED = ("pending", "inprocess", "partial", "fulfilled", "onhold")


def catalog_sku(variant_id: int) -> str:
    return f"PF-{variant_id}"


def sku_kind(sku: str) -> tuple[str, int | str]:
    """("catalog", variant id) | ("sync", sync variant id) | ("external", external variant id)."""
    if m := CATALOG_SKU.match(sku):
        return "catalog", int(m.group(1))
    if m := SYNC_SKU.match(sku):
        return "sync", int(m.group(1))
    return "external", sku


def all_catalog(skus: list[str]) -> bool:
    """Orders and quotes of catalog variants only go through v2; the store's products need v1 (v2 beta has no
    sync items, contract 1.7)."""
    return all(sku_kind(s)[0] == "catalog" for s in skus)


def parse_time(value: Any) -> datetime | None:
    """v1 times are unix seconds (as numbers or digit strings), v2 ISO 8601 (contract 1.2)."""
    if isinstance(value, bool) or value in (None, ""):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value), UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


# ---- offers -------------------------------------------------------------------------------------------------


def _technique(product: dict[str, Any], wanted: str | None) -> str:
    keys = [str(t.get("key", "")).lower() for t in product.get("techniques") or []]
    if wanted and wanted.lower() in keys:
        return wanted.lower()
    default = next((str(t["key"]).lower() for t in product.get("techniques") or [] if t.get("is_default")), None)
    return default or (keys[0] if keys else (wanted or "dtg").lower())


def variant_prices(prices: dict[str, Any]) -> tuple[str, dict[int, dict[str, Decimal]]]:
    """(currency, {variant id: {technique key lowercased: what the store pays}}) from a v2 prices answer."""
    currency = str(prices.get("currency") or "USD")
    out: dict[int, dict[str, Decimal]] = {}
    for variant in prices.get("variants") or []:
        by_technique = {}
        for t in variant.get("techniques") or []:
            amount = t.get("discounted_price") or t.get("price")
            if amount not in (None, ""):
                by_technique[str(t.get("technique_key", "")).lower()] = Decimal(str(amount))
        out[int(variant["id"])] = by_technique
    return currency, out


def _price(by_technique: dict[str, Decimal], technique: str) -> Decimal | None:
    if technique in by_technique:
        return by_technique[technique]
    return next(iter(by_technique.values()), None)


def availability(pages: list[dict[str, Any]], technique: str, region: str) -> dict[int, str]:
    """{variant id: status} for one technique in one selling region, from v2 availability entries."""
    out = {}
    for entry in pages:
        status = "unknown"
        for t in entry.get("techniques") or []:
            named = t.get("technique")
            if named not in (None, "") and str(named).lower() != technique:
                continue  # an entry without a technique applies to all (the published sample has one)
            for r in t.get("selling_regions") or []:
                if r.get("name") == region:
                    status = str(r.get("availability") or "unknown")
        out[int(entry["catalog_variant_id"])] = status
    return out


def catalog_offers(product: dict[str, Any], variants: list[dict[str, Any]], prices: dict[str, Any],
                   stock: list[dict[str, Any]], *, region: str, technique: str | None,
                   quantity: int) -> list[OfferRow]:
    """A catalog product's variants as offers: cost at the chosen technique (what the store pays, one
    placement included), stock `quantity` where Printful reports the variant in stock in `region`."""
    chosen = _technique(product, technique)
    currency, costs = variant_prices(prices)
    statuses = availability(stock, chosen, region)
    discontinued = bool(product.get("is_discontinued"))
    rows = []
    for v in variants:
        vid = int(v["id"])
        amount = _price(costs.get(vid, {}), chosen)
        if amount is None:
            continue  # not priced: not orderable
        status = statuses.get(vid, "unknown")
        options = {k: str(v[f]) for k, f in (("Color", "color"), ("Size", "size")) if v.get(f)}
        images = [u for u in (v.get("image"), product.get("image")) if u]
        rows.append(OfferRow(
            supplier_sku=catalog_sku(vid), stock=quantity if status == "in stock" and not discontinued else 0,
            cost=decimal_money(amount, currency, "price"),
            catalog={"title": product.get("name") or v.get("name"), "parent_sku": f"PF-P{product['id']}",
                     "options": options, "images": list(dict.fromkeys(images)),
                     "description": product.get("description") or None, "category": product.get("type") or None,
                     "brand": product.get("brand") or None, "availability": {region: status},
                     "technique": chosen}))
    return rows


SYNC_AVAILABLE = "active"


def sync_sku(variant: dict[str, Any]) -> str:
    return str(variant.get("external_id") or f"PF-SV-{variant['id']}")


def store_offers(sync_product: dict[str, Any], sync_variants: list[dict[str, Any]],
                 prices_by_product: dict[int, dict[str, Any]], *, technique: str | None,
                 quantity: int) -> list[OfferRow]:
    """The store's own products as offers. Their cost is the catalog price of the variant they are made of
    (one placement included; Printful states the exact cost once an order is placed, as CostReported)."""
    rows = []
    parent = f"PF-SP-{sync_product.get('external_id') or sync_product['id']}"
    for v in sync_variants:
        if v.get("is_ignored") or v.get("synced") is False:
            continue  # not linked to a Printful product: cannot be fulfilled
        base = v.get("product") or {}
        prices = prices_by_product.get(int(base.get("product_id") or 0))
        if not prices:
            continue
        currency, costs = variant_prices(prices)
        amount = _price(costs.get(int(base.get("variant_id") or v.get("variant_id") or 0), {}),
                        (technique or "dtg").lower())
        if amount is None:
            continue
        options = {k: str(v[f]) for k, f in (("Color", "color"), ("Size", "size")) if v.get(f)}
        images = [f.get("preview_url") for f in v.get("files") or [] if f.get("type") == "preview"]
        images += [u for u in (base.get("image"), sync_product.get("thumbnail_url")) if u]
        rows.append(OfferRow(
            supplier_sku=sync_sku(v), stock=quantity if v.get("availability_status", SYNC_AVAILABLE) == SYNC_AVAILABLE
            else 0, cost=decimal_money(amount, currency, "price"),
            catalog={"title": sync_product.get("name") or v.get("name"), "parent_sku": parent, "options": options,
                     "images": list(dict.fromkeys(u for u in images if u)), "description": None,
                     "availability": {"store": str(v.get("availability_status") or SYNC_AVAILABLE)}}))
    return rows


def stock_rows(changes: list[dict[str, Any]], prices_by_product: dict[int, dict[str, Any]], *,
               technique: str | None, quantity: int) -> list[OfferRow]:
    """catalog_stock_updated (v2) as offer rows for the catalog variants it names, priced as a pull prices them."""
    rows = []
    for change in changes:
        prices = prices_by_product.get(int(change.get("catalog_product_id") or 0))
        if not prices:
            continue
        techniques = [str(t).lower() for t in change.get("techniques") or [] if t]
        if technique and techniques and technique.lower() not in techniques:
            continue  # a change for another technique than the one we sell
        currency, costs = variant_prices(prices)
        vid = int(change["catalog_variant_id"])
        amount = _price(costs.get(vid, {}), (technique or (techniques[0] if techniques else "dtg")).lower())
        if amount is None:
            continue
        available = str(change.get("availability")) in ("in stock", "on demand")
        rows.append(OfferRow(catalog_sku(vid), quantity if available else 0, decimal_money(amount, currency, "price")))
    return rows


# ---- orders ---------------------------------------------------------------------------------------------------


def recipient(address: Address, email: str | None = None) -> dict[str, str]:
    fields = {"name": address.name, "company": address.company, "address1": address.address1,
              "address2": address.address2, "city": address.city, "state_code": address.province_code,
              "country_code": address.country_code, "zip": address.postal_code, "phone": address.phone,
              "email": email or ""}
    return {k: v for k, v in fields.items() if v}


def _lines(request: SupplierOrderRequest) -> list[SupplierOrderLineRequest]:
    return list(request.lines) or [SupplierOrderLineRequest(i.supplier_sku, i.quantity) for i in request.items]


def _packing_slip(request: SupplierOrderRequest) -> dict[str, str] | None:
    """White-label packing slip (contract 1.7 customization.packing_slip); Printful wants one of its texts."""
    b = request.branding
    if b is None:
        return None
    slip = {"store_name": b.store_name, "logo_url": b.logo_url or "", "message": b.message,
            "custom_order_id": b.customer_order_number}
    slip = {k: v for k, v in slip.items() if v}
    return slip if any(k in slip for k in ("message", "custom_order_id")) else None


def missing_designs(request: SupplierOrderRequest) -> list[str]:
    """Catalog lines without a print file: Printful has nothing to print on them."""
    return [ln.supplier_sku for ln in _lines(request) if sku_kind(ln.supplier_sku)[0] == "catalog"
            and not ln.print_files]


def order_v2(request: SupplierOrderRequest, default_shipping: str | None, technique: str | None) -> dict[str, Any]:
    """POST /v2/orders: catalog items with their placements (each design file a layer)."""
    items = []
    for ln in _lines(request):
        placements: dict[str, dict[str, Any]] = {}
        for f in ln.print_files:
            entry = placements.setdefault(f.placement, {"placement": f.placement, "layers": []})
            chosen = f.technique or technique
            if chosen:
                entry["technique"] = chosen
            entry["layers"].append({"type": "file", "url": f.url})
        item: dict[str, Any] = {"source": "catalog", "catalog_variant_id": sku_kind(ln.supplier_sku)[1],
                                "quantity": ln.quantity, "placements": list(placements.values())}
        if ln.line_ref:
            item["external_id"] = ln.line_ref
        if ln.title:
            item["name"] = ln.title
        items.append(item)
    body: dict[str, Any] = {"external_id": request.reference, "recipient": recipient(request.ship_to, request.email),
                            "order_items": items}
    method = request.shipping_method or default_shipping
    if method:
        body["shipping"] = method
    slip = _packing_slip(request)
    if slip:
        body["customization"] = {"packing_slip": slip}
    return body


def order_v1(request: SupplierOrderRequest, default_shipping: str | None) -> dict[str, Any]:
    """POST /orders: any item kind; store products by external or sync variant id, catalog ones with files."""
    items = []
    for ln in _lines(request):
        kind, ref = sku_kind(ln.supplier_sku)
        item: dict[str, Any] = {"quantity": ln.quantity}
        item[{"catalog": "variant_id", "sync": "sync_variant_id", "external": "external_variant_id"}[kind]] = ref
        if ln.print_files:  # v1 files name the placement in `type`; v1 has no technique per file
            item["files"] = [{"type": f.placement, "url": f.url} for f in ln.print_files]
        if ln.line_ref:
            item["external_id"] = ln.line_ref
        if ln.title:
            item["name"] = ln.title
        items.append(item)
    body: dict[str, Any] = {"external_id": request.reference, "recipient": recipient(request.ship_to, request.email),
                            "items": items}
    method = request.shipping_method or default_shipping
    if method:
        body["shipping"] = method
    slip = _packing_slip(request)
    if slip:
        body["packing_slip"] = slip
    return body


def costs(order: dict[str, Any]) -> tuple[Money, Money] | None:
    """(goods, shipping) once Printful has computed them: everything it charges but shipping, and shipping.
    v2 says when (`calculation_status`, contract 1.7); v1 orders have no status, so their total counts."""
    c = order.get("costs") or {}
    status = c.get("calculation_status")
    if status not in (None, "done") or c.get("total") in (None, "") or not c.get("currency"):
        return None
    total = Decimal(str(c["total"]))
    ship = Decimal(str(c.get("shipping") or "0"))
    if status is None and total == 0:
        return None
    currency = str(c["currency"])
    return decimal_money(total - ship, currency, "costs.total"), decimal_money(ship, currency, "costs.shipping")


def placed(order: dict[str, Any]) -> PlacedOrder:
    """A v1 or v2 order as placed: a draft waits for the merchant to confirm it (and be charged) in Printful."""
    status = str(order.get("status") or "")
    stated = costs(order)
    return PlacedOrder(external_id=str(order["id"]), reference=str(order.get("external_id") or ""), status=status,
                       cost=stated[0] if stated else None, shipping_cost=stated[1] if stated else None,
                       placement=Placement.AWAITING_PAYMENT if status == "draft" else Placement.ACCEPTED)


def _item_sku(item: dict[str, Any]) -> str:
    if item.get("external_variant_id"):
        return str(item["external_variant_id"])
    if item.get("sync_variant_id"):
        return f"PF-SV-{item['sync_variant_id']}"
    return catalog_sku(int(item.get("variant_id") or item.get("catalog_variant_id")))


def tracking(order: dict[str, Any], reference: str | None = None) -> list[TrackingUpdate]:
    """v1 order shipments (they carry tracking numbers; v2's Shipment may not, contract 1.8 [U])."""
    skus = {int(i["id"]): _item_sku(i) for i in order.get("items") or [] if i.get("id") is not None}
    ref = reference or str(order.get("external_id") or "")
    out = []
    for s in order.get("shipments") or []:
        number = s.get("tracking_number")  # a string by the schema; the published sample shows a number
        if number is None or not str(number).strip():
            continue
        per_sku: dict[str, int] = defaultdict(int)
        for i in s.get("items") or []:
            sku = skus.get(int(i.get("item_id") or 0))
            if sku:
                per_sku[sku] += int(i.get("quantity") or 0)
        out.append(TrackingUpdate(
            reference=ref, external_order_id=str(order["id"]), carrier=str(s.get("carrier") or ""),
            tracking_number=str(number).strip(), tracking_url=s.get("tracking_url") or None,
            shipped_at=parse_time(s.get("shipped_at")) or parse_time(s.get("created")),
            items=[SupplierOrderItem(sku, qty) for sku, qty in per_sku.items()]))
    return out


def tracking_from_event(data: dict[str, Any]) -> TrackingUpdate | None:
    """What shipment_sent itself says (v2: a tracking number, no carrier or URL)."""
    shipment, order = data.get("shipment") or {}, data.get("order") or {}
    if not shipment.get("tracking_number") or order.get("id") is None:
        return None
    return TrackingUpdate(reference=str(order.get("external_id") or ""), external_order_id=str(order["id"]),
                          carrier="", tracking_number=str(shipment["tracking_number"]),
                          shipped_at=parse_time(shipment.get("shipped_at")))


# ---- shipping rates -------------------------------------------------------------------------------------------


def _rate_recipient(request: ShippingQuoteRequest) -> dict[str, str]:
    fields = {"address1": request.address1, "city": request.city, "country_code": request.country_code,
              "state_code": request.province_code, "zip": request.postal_code}
    return {k: v for k, v in fields.items() if v}


def rates_v2(request: ShippingQuoteRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"recipient": _rate_recipient(request),
                            "order_items": [{"source": "catalog", "catalog_variant_id": sku_kind(i.supplier_sku)[1],
                                             "quantity": i.quantity} for i in request.items]}
    if request.currency:
        body["currency"] = request.currency
    return body


def rates_v1(request: ShippingQuoteRequest) -> dict[str, Any]:
    items = []
    for i in request.items:
        kind, ref = sku_kind(i.supplier_sku)
        if kind == "sync":
            raise ValueError(f"{i.supplier_sku}: v1 shipping rates take catalog or external variant ids only")
        items.append({"variant_id" if kind == "catalog" else "external_variant_id": str(ref), "quantity": i.quantity})
    body: dict[str, Any] = {"recipient": _rate_recipient(request), "items": items}
    if request.currency:
        body["currency"] = request.currency
    return body


def options(rates: list[dict[str, Any]]) -> list[ShippingOption]:
    """v2 (snake_case) and v1 (camelCase, contract 1.6) rates alike."""
    out = []
    for r in rates:
        method = r.get("shipping") or r.get("id")
        out.append(ShippingOption(
            method=str(method), name=str(r.get("shipping_method_name") or r.get("name") or method),
            cost=decimal_money(str(r["rate"]), str(r["currency"]), "rate"),
            min_days=r.get("min_delivery_days", r.get("minDeliveryDays")),
            max_days=r.get("max_delivery_days", r.get("maxDeliveryDays"))))
    return out


# ---- invoices ---------------------------------------------------------------------------------------------------


def invoice(order: dict[str, Any], reference: str) -> SupplierInvoice | None:
    """What Printful bills for a v2 order once it is charged (confirmed) and its costs are done. Printful's
    invoice document is a PDF of these figures; the lines are the order's items and costs."""
    c = order.get("costs") or {}
    if order.get("status") not in CHARGED or c.get("calculation_status") != "done" or not c.get("currency"):
        return None
    currency = str(c["currency"])
    external = str(order["id"])
    lines = [InvoiceLine(supplier_sku=catalog_sku(int(i["catalog_variant_id"])) if i.get("catalog_variant_id")
                         else None, quantity=int(i.get("quantity") or 1),
                         unit_price=decimal_money(str(i.get("price") or "0"), currency, "price"), reference=reference,
                         external_order_id=external, description=str(i.get("name") or ""))
             for i in order.get("order_items") or [] if i.get("type", "order_item") == "order_item"]
    for kind, key in (("shipping", "shipping"), ("fee", "digitization"), ("fee", "additional_fee"),
                      ("fee", "fulfillment_fee"), ("fee", "retail_delivery_fee"), ("tax", "tax"), ("tax", "vat")):
        amount = c.get(key)
        if amount not in (None, "") and Decimal(str(amount)):
            lines.append(InvoiceLine(None, 1, decimal_money(str(amount), currency, key), reference=reference,
                                     external_order_id=external, kind=kind, description=key))
    discount = c.get("discount")
    if discount not in (None, "") and Decimal(str(discount)):
        lines.append(InvoiceLine(None, 1, decimal_money(f"-{discount}", currency, "discount"), reference=reference,
                                 external_order_id=external, kind="discount", description="discount"))
    return SupplierInvoice(number=f"PF-{external}", currency=currency, lines=tuple(lines),
                           issued_at=parse_time(order.get("updated_at")),
                           total=decimal_money(str(c["total"]), currency, "total"))
