"""Pure translation between the generic REST supplier's JSON and our boundary types.

Vendor field names (`order_id`, `supplier_sku`, `shipments`, ...) stay in this module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dropbridge.services.ports import (
    Address,
    PlacedOrder,
    SupplierOrderItem,
    SupplierOrderRequest,
    TrackingUpdate,
    decimal_money,
)

ADDRESS_FIELDS = (
    "name",
    "address1",
    "address2",
    "city",
    "province_code",
    "postal_code",
    "country_code",
    "phone",
    "company",
)


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 with Z or an offset; a naive time is taken as UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def address_to_json(address: Address) -> dict[str, str]:
    return {name: getattr(address, name) for name in ADDRESS_FIELDS}


def order_request_to_json(request: SupplierOrderRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reference": request.reference,
        "ship_to": address_to_json(request.ship_to),
        "items": [{"supplier_sku": i.supplier_sku, "quantity": i.quantity} for i in request.items],
    }
    if request.email:
        body["email"] = request.email
    if request.shipping_method:
        body["shipping_method"] = request.shipping_method
    return body


def placed_order_from_json(order: dict[str, Any]) -> PlacedOrder:
    total = order.get("total")
    cost = None
    if isinstance(total, dict) and total.get("amount") is not None and total.get("currency"):
        cost = decimal_money(total["amount"], total["currency"], "total.amount")
    return PlacedOrder(
        external_id=str(order["order_id"]),
        reference=str(order["reference"]),
        status=str(order.get("status", "")),
        cost=cost,
    )


def items_from_json(items: Any) -> list[SupplierOrderItem]:
    return [SupplierOrderItem(str(i["supplier_sku"]), int(i["quantity"])) for i in items or []]


def tracking_from_order(order: dict[str, Any], reference: str | None = None) -> list[TrackingUpdate]:
    """One TrackingUpdate per shipment; none before the order ships."""
    ref = reference or str(order.get("reference", ""))
    return [
        TrackingUpdate(
            reference=ref,
            external_order_id=str(order["order_id"]),
            carrier=str(s.get("carrier") or ""),
            tracking_number=str(s["tracking_number"]),
            tracking_url=s.get("tracking_url") or None,
            shipped_at=parse_time(s.get("shipped_at")),
            items=items_from_json(s.get("items")),
        )
        for s in order.get("shipments") or []
        if s.get("tracking_number")
    ]
