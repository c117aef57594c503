"""The purchase-order queue: supplier orders seen as POs, for suppliers one orders from by hand (`po list`,
`po export`, `po placed`). A PO of a `manual` supplier waits (placement `awaiting_person`) until a person has
ordered it on the supplier's site and says so with its order number; tracking then comes by `shipments
import|add` like any other.

The status a PO shows is derived from its supplier order: `pending` (not yet queued or sent), `waiting` (in
the queue for a person), `sent` (emailed or sent by EDI, not yet confirmed), `placed` (the supplier has it),
`partially_shipped`, `shipped`, `delivered`, `cancelled`, `rejected`, `failed`."""

from __future__ import annotations

from dataclasses import dataclass

from dropbridge.domain.errors import Conflict, DropbridgeError, NotFound, ValidationError
from dropbridge.domain.model import Order, Supplier, SupplierOrder
from dropbridge.domain.money import Money
from dropbridge.domain.states import SupplierOrderStatus as S
from dropbridge.domain.states import advance
from dropbridge.services.ports import OrderAcknowledged, Placement, SupplierOrderRequest

from .place_supplier_order import order_request
from .records import audit
from .supplier_replies import acknowledge_supplier_order

WAITING = (Placement.AWAITING_PERSON, Placement.AWAITING_ACK)
# PO status -> (supplier-order statuses, placements it must have, placements it must not have)
FILTERS: dict[str, tuple[list[str], list[str] | None, list[str] | None]] = {
    "pending": ([S.PENDING], None, None),
    "waiting": ([S.SUBMITTED], [Placement.AWAITING_PERSON], None),
    "sent": ([S.SUBMITTED], [Placement.AWAITING_ACK], None),
    "placed": ([S.SUBMITTED], None, list(WAITING)),
    "partially_shipped": ([S.PARTIALLY_SHIPPED], None, None),
    "shipped": ([S.SHIPPED], None, None),
    "delivered": ([S.DELIVERED], None, None),
    "cancelled": ([S.CANCELLED], None, None),
    "rejected": ([S.REJECTED], None, None),
    "failed": ([S.FAILED], None, None),
    "all": ([], None, None),
}
STATUSES = tuple(FILTERS)


def po_status(so: SupplierOrder) -> str:
    if so.status == S.SUBMITTED:
        return {Placement.AWAITING_PERSON: "waiting", Placement.AWAITING_ACK: "sent"}.get(so.placement, "placed")
    return str(so.status)


def _supplier(uow, name: str) -> Supplier:
    supplier = uow.suppliers.by_name(name)
    if supplier is None:
        raise NotFound(f"no supplier named {name!r}")
    return supplier


def list_purchase_orders(ctx, *, supplier: str | None = None, status: str = "waiting", limit: int = 200) -> list[dict]:
    if status not in FILTERS:
        raise ValidationError(f"unknown PO status {status!r}; one of {', '.join(STATUSES)}", "status")
    statuses, placements, not_placements = FILTERS[status]
    with ctx.uow(read_only=True) as uow:
        supplier_id = _supplier(uow, supplier).id if supplier else None
        names = {s.id: s.name for s in uow.suppliers.all()}
        rows = []
        for so in uow.supplier_orders.listing(supplier_id=supplier_id, statuses=statuses, placements=placements,
                                              exclude_placements=not_placements, limit=limit):
            order = uow.get(Order, so.order_id)
            rows.append({"id": so.id, "reference": so.idempotency_key, "supplier": names[so.supplier_id],
                         "status": po_status(so), "order": order.external_id,
                         "lines": ", ".join(f"{sl.quantity} x {sl.supplier_sku}" for sl in so.lines),
                         "ship_to": ", ".join(p for p in (order.ship_to.get("name"), order.ship_to.get("city"),
                                                          order.ship_to.get("country_code")) if p),
                         "external_id": so.external_id or "",
                         "since": (so.submitted_at or so.created_at).isoformat(timespec="minutes")})
    return rows


@dataclass
class Export:
    supplier: str
    requests: list[SupplierOrderRequest]
    ids: list[int]


def waiting_purchase_orders(ctx, supplier: str) -> Export:
    """What a person has to order from `supplier`: its POs waiting in the queue, with where each ships and its
    packing slip's branding (rendered by the caller as CSV or PDF)."""
    with ctx.uow() as uow:
        record = _supplier(uow, supplier)
        waiting = uow.supplier_orders.listing(supplier_id=record.id, statuses=[S.SUBMITTED],
                                              placements=[Placement.AWAITING_PERSON], limit=10_000)
        requests = [order_request(uow, so, uow.get(Order, so.order_id)) for so in waiting]
        audit(uow, ctx, "po.exported", f"supplier:{supplier}", {"references": [so.idempotency_key for so in waiting]},
              supplier_id=record.id)
        uow.commit()
        return Export(supplier, requests, [so.id for so in waiting])


def _find(uow, po: str) -> SupplierOrder:
    so = uow.get(SupplierOrder, int(po)) if po.isdigit() else uow.supplier_orders.by_key(po)
    if so is None:
        raise NotFound(f"no purchase order {po!r} (give the id `po list` shows, or its reference)")
    return so


def mark_placed(ctx, po: str, external_id: str, cost: str | None = None) -> str:
    """A person ordered the PO at the supplier (or confirms the supplier has it): record the supplier's order
    number and, when given, what it cost (the supplier's currency of that order). Idempotent for the same
    number; a PO already placed under another number, or closed, is refused and nothing changes."""
    external_id = (external_id or "").strip()
    if not external_id or len(external_id) > 100:
        raise ValidationError("--external-id: the supplier's order number, 1 to 100 characters", "external_id")
    with ctx.uow(read_only=True) as uow:
        so = _find(uow, po)
        key, supplier_id, currency = so.idempotency_key, so.supplier_id, so.currency
        status, placement, known = so.status, so.placement, so.external_id
    amount = None
    if cost is not None:
        try:
            amount = Money.parse(cost, currency, field="cost")
        except DropbridgeError as exc:
            raise ValidationError(f"--cost {cost!r}: {exc}", "cost") from None
        if amount.amount < 0:
            raise ValidationError(f"--cost {cost!r} is negative", "cost")
    if status in (S.SHIPPED, S.PARTIALLY_SHIPPED, S.DELIVERED, S.SUBMITTED) and placement not in WAITING:
        if known == external_id:
            return f"{key} is already placed as {external_id}"
        raise Conflict(f"{key} is already {po_status(so)} as {known or 'an order without a number'}")
    if status == S.FAILED:
        # The outcome of sending it was unknown and the merchant found that it did arrive.
        with ctx.uow() as uow:
            locked = uow.get_for_update(SupplierOrder, so.id)
            if locked.status == S.FAILED:
                locked.status = advance("supplier order", locked.status, S.SUBMITTED)
                locked.submitted_at = locked.submitted_at or ctx.clock()
                locked.last_error = None
                uow.commit()
    elif status != S.SUBMITTED:
        raise Conflict(f"{key} is {po_status(so)}: only a PO waiting in the queue, sent, or failed can be placed")
    outcome = acknowledge_supplier_order(ctx, supplier_id, OrderAcknowledged(reference=key, external_id=external_id,
                                                                             cost=amount))
    with ctx.uow() as uow:
        audit(uow, ctx, "po.placed", f"supplier_order:{so.id}", {"key": key, "external_id": external_id,
                                                                 "cost": str(amount) if amount else None},
              supplier_id=supplier_id)
        uow.commit()
    return f"{key} placed as {external_id}" + (f", cost {amount}" if amount else "") + f" ({outcome})"
