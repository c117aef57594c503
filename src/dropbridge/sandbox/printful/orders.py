"""Orders as the emulator keeps them, how requests of either version become one, and how one is shown in
each version (contract 1.7, 1.8). v1 and v2 see the same orders: an order created through one is read,
confirmed or cancelled through the other."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .catalog import CatalogProduct, CatalogVariant, SyncVariant
from .shipping import region_of

EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")  # 1.7 / Orders API: up to 32 digits, letters, - and _
# 1.6: these countries need a state code
STATE_REQUIRED = ("US", "CA", "AU")
EDITABLE = ("draft", "failed")  # OR-1: only these can be changed or confirmed
CANCELLABLE = ("draft", "pending", "failed", "onhold")  # v1 DELETE cancels a pending order or a draft
CENT = Decimal("0.01")


class Invalid(Exception):
    """A request Printful answers 400 to (the message says what and where)."""


@dataclass
class Line:
    id: int
    quantity: int
    variant: CatalogVariant
    product: CatalogProduct
    external_id: str | None = None
    sync: SyncVariant | None = None  # ordered as a store product (v1 sync_variant_id / external_variant_id)
    by_external_variant: bool = False
    placements: list[dict] = field(default_factory=list)  # [{"placement", "technique", "url"}]
    name: str = ""
    retail_price: str | None = None
    unit_price: Decimal = Decimal(0)


@dataclass
class Shipment:
    id: int
    carrier: str
    service: str
    tracking_number: str
    tracking_url: str
    shipped_at: datetime
    items: list[tuple[int, int]]  # (line id, quantity)


@dataclass
class Order:
    id: int
    store_id: int
    status: str
    recipient: dict[str, str]
    lines: list[Line]
    created: datetime
    updated: datetime
    api: str  # the version it was created through
    external_id: str | None = None
    shipping: str = "STANDARD"
    shipping_name: str = ""
    packing_slip: dict[str, str] | None = None
    gift: dict[str, str] | None = None
    costs: dict[str, str] | None = None  # None while calculating (1.7: costs are computed asynchronously)
    costs_due: float | None = None  # monotonic time the calculation finishes
    ship_due: float | None = None
    shipments: list[Shipment] = field(default_factory=list)
    currency: str = "USD"


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(value: Decimal) -> str:
    return str(value.quantize(CENT))


# ---- reading requests -------------------------------------------------------------------------------------


def recipient(body: Any, where: str = "recipient", *, state_required: bool = False) -> dict[str, str]:
    """An address; 1.6 requires a state code for US, CA and AU in shipping rates (orders: not documented)."""
    if not isinstance(body, dict):
        raise Invalid(f"{where} is required")
    out = {}
    for key, value in body.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise Invalid(f"{where}.{key} must be a string")
        out[key] = value
    for key in ("address1", "city", "country_code"):
        if not out.get(key, "").strip():
            raise Invalid(f"{where}.{key} is required")
    if len(out["country_code"]) != 2:
        raise Invalid(f"{where}.country_code must be a 2-letter country code")
    if state_required and out["country_code"].upper() in STATE_REQUIRED and not out.get("state_code"):
        raise Invalid(f"{where}.state_code is required for {out['country_code'].upper()}")
    return out


def quantity(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
        raise Invalid(f"{where}.quantity must be an integer from 1 to 1000")
    return value


def external_id(value: Any, where: str = "external_id") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not EXTERNAL_ID.match(value):
        raise Invalid(f"{where}: up to 32 digits, letters, dashes and underscores")
    return value


def v2_placements(item: dict, product: CatalogProduct, where: str) -> list[dict]:
    placements = item.get("placements")
    if not isinstance(placements, list) or not placements:
        raise Invalid(f"{where}.placements: at least one placement with a file is required")
    out = []
    techniques = {t.key for t in product.techniques}
    for i, p in enumerate(placements):
        here = f"{where}.placements[{i}]"
        if not isinstance(p, dict) or p.get("placement") not in product.placements:
            raise Invalid(f"{here}.placement must be one of {', '.join(product.placements)}")
        technique = str(p.get("technique") or product.default_technique).lower()
        if technique not in techniques:
            raise Invalid(f"{here}.technique must be one of {', '.join(sorted(techniques))}")
        layers = p.get("layers")
        urls = [layer.get("url") for layer in layers or [] if isinstance(layer, dict) and layer.get("type") == "file"]
        if not urls or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls):
            raise Invalid(f"{here}.layers: a file layer with an http(s) url is required")
        out.append({"placement": p["placement"], "technique": technique, "url": urls[0]})
    return out


def v1_files(item: dict, where: str) -> list[dict]:
    files = item.get("files") or []
    if not isinstance(files, list):
        raise Invalid(f"{where}.files must be an array")
    out = []
    for i, f in enumerate(files):
        url = f.get("url") if isinstance(f, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise Invalid(f"{where}.files[{i}].url is required")
        out.append({"placement": str(f.get("type") or "default"), "technique": None, "url": url})
    return out


def line_price(line: Line) -> Decimal:
    """What Printful charges per unit: the variant's price covers one placement, each further placement costs
    the product's placement price (1.4: additional placement prices)."""
    printed = [p for p in line.placements if p["placement"] != "preview"]
    return line.variant.price + line.product.placement_price * max(0, len(printed) - 1)


# ---- showing orders ---------------------------------------------------------------------------------------


def v1_costs(order: Order) -> dict[str, str]:
    zero = "0.00"
    base = {"currency": order.currency, "subtotal": zero, "discount": zero, "shipping": zero, "digitization": zero,
            "additional_fee": zero, "fulfillment_fee": zero, "retail_delivery_fee": zero, "tax": zero, "vat": zero,
            "total": zero}
    return {**base, **(order.costs or {})}  # v1 shows zeros while the calculation runs (unverified)


def v2_costs(order: Order) -> dict[str, Any]:
    if order.costs is None:
        keys = ("subtotal", "discount", "shipping", "digitization", "additional_fee", "fulfillment_fee",
                "retail_delivery_fee", "vat", "tax", "total")
        return {"calculation_status": "calculating", "currency": None, **{k: None for k in keys}}
    return {"calculation_status": "done", **order.costs}


def v1_item(line: Line) -> dict[str, Any]:
    item: dict[str, Any] = {"id": line.id, "variant_id": line.variant.id, "quantity": line.quantity,
                            "price": money(line.unit_price), "name": line.name or line.variant.name,
                            "product": {"variant_id": line.variant.id, "product_id": line.product.id,
                                        "image": line.variant.image, "name": line.variant.name},
                            "files": [{"type": p["placement"], "id": 9000 + line.id * 10 + n, "url": p["url"],
                                       "status": "ok", "visible": True, "is_temporary": False}
                                      for n, p in enumerate(line.placements)],
                            "options": [], "discontinued": False,
                            "out_of_stock": line.variant.status("worldwide") != "in stock"}
    if line.external_id is not None:
        item["external_id"] = line.external_id
    if line.retail_price is not None:
        item["retail_price"] = line.retail_price
    if line.sync is not None:
        item["sync_variant_id"] = line.sync.id
        item["external_variant_id"] = line.sync.external_id
        item["sku"] = line.sync.sku
    return item


def v1_shipment(order: Order, s: Shipment) -> dict[str, Any]:
    stamp = int(s.shipped_at.timestamp())
    return {"id": s.id, "carrier": s.carrier, "service": s.service, "tracking_number": s.tracking_number,
            "tracking_url": s.tracking_url, "created": stamp, "ship_date": s.shipped_at.date().isoformat(),
            "shipped_at": str(stamp), "reshipment": False,  # the published schema types shipped_at as a string
            "items": [{"item_id": line_id, "quantity": qty} for line_id, qty in s.items]}


def v1_order(order: Order) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": order.id, "store": order.store_id, "status": order.status, "shipping": order.shipping,
        "shipping_service_name": order.shipping_name, "created": int(order.created.timestamp()),
        "updated": int(order.updated.timestamp()), "recipient": dict(order.recipient),
        "items": [v1_item(ln) for ln in order.lines], "branding_items": [], "incomplete_items": [],
        "costs": v1_costs(order), "retail_costs": {"currency": order.currency, "subtotal": None, "discount": None,
                                                   "shipping": None, "tax": None, "vat": None, "total": None},
        "pricing_breakdown": [], "shipments": [v1_shipment(order, s) for s in order.shipments]}
    if order.external_id is not None:
        body["external_id"] = order.external_id
    if order.packing_slip:
        body["packing_slip"] = dict(order.packing_slip)
    if order.gift:
        body["gift"] = dict(order.gift)
    return body


def v2_item(base: str, order: Order, line: Line) -> dict[str, Any]:
    # Items ordered as store products show here as their catalog variant: this snapshot's v2 has no sync
    # item summary ("unsynced items are visible only in v1"; unverified how v2 shows synced ones).
    return {"id": line.id, "type": "order_item", "source": "catalog", "catalog_variant_id": line.variant.id,
            "external_id": line.external_id, "quantity": line.quantity, "name": line.name or line.variant.name,
            "price": money(line.unit_price), "retail_price": line.retail_price or "0.00",
            "currency": order.currency, "retail_currency": order.currency,
            "_links": {"self": {"href": f"{base}/v2/orders/{order.id}/order-items/{line.id}"}}}


def v2_order(base: str, order: Order) -> dict[str, Any]:
    href = f"{base}/v2/orders/{order.id}"
    body: dict[str, Any] = {
        "id": order.id, "external_id": order.external_id, "store_id": order.store_id, "shipping": order.shipping,
        "status": order.status, "created_at": iso(order.created), "updated_at": iso(order.updated),
        "recipient": dict(order.recipient), "costs": v2_costs(order),
        "retail_costs": {"calculation_status": "done" if order.costs else "calculating", "currency": order.currency,
                         "subtotal": None, "discount": "0.00", "shipping": "0.00", "vat": "0.00", "tax": "0.00",
                         "total": None},
        "order_items": [v2_item(base, order, ln) for ln in order.lines],
        "_links": {"self": {"href": href}, "order_confirmation": {"href": f"{href}/confirmation"},
                   "order_invoices": {"href": f"{href}/invoices"}, "order_items": {"href": f"{href}/order-items"},
                   "shipments": {"href": f"{href}/shipments"}}}
    customization = {}
    if order.packing_slip:
        customization["packing_slip"] = dict(order.packing_slip)
    if order.gift:
        customization["gift"] = dict(order.gift)
    if customization:
        body["customization"] = customization
    return body


def v2_shipment(base: str, order: Order, s: Shipment, with_tracking_number: bool) -> dict[str, Any]:
    lines = {ln.id: ln for ln in order.lines}
    body: dict[str, Any] = {
        "id": s.id, "order_id": order.id, "order_external_id": order.external_id, "carrier": s.carrier,
        "service": s.service, "shipment_status": "shipped", "shipped_at": iso(s.shipped_at),
        "delivery_status": "in_transit", "delivered_at": None,
        "departure_address": {"country_name": "United States", "country_code": "US", "state_code": "NC"},
        "is_reshipment": False, "tracking_url": s.tracking_url,
        "tracking_events": [{"triggered_at": iso(s.shipped_at), "description": "Shipping label created"}],
        "estimated_delivery": None,
        "shipment_items": [{"id": s.id * 100 + n, "order_item_id": line_id,
                            "order_item_external_id": lines[line_id].external_id,
                            "order_item_name": lines[line_id].name or lines[line_id].variant.name, "quantity": qty,
                            "_links": {"order_item": {"href": f"{base}/v2/orders/{order.id}/order-items/{line_id}"}}}
                           for n, (line_id, qty) in enumerate(s.items)],
        "_links": {"self": {"href": f"{base}/v2/shipments/{s.id}"}, "order": {"href": f"{base}/v2/orders/{order.id}"}}}
    if with_tracking_number:  # contract 1.8 [U]: this snapshot's Shipment has none; a setting
        body["tracking_number"] = s.tracking_number
    return body


def region_status(line: Line, country: str) -> str:
    return line.variant.status(region_of(country))
