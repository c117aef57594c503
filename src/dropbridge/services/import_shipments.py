"""Tracking from anywhere, for every supplier kind: a CSV file (`dropbridge shipments import`), one shipment
typed in (`dropbridge shipments add`) or posted (`POST /api/v1/shipments`). Each ends where a supplier's
webhook, an EDI 856 or an emailed tracking CSV ends: `record_shipment`, a `Shipment` and a store
fulfillment.

A file's rows are checked against the supplier's orders first (the order exists and is this supplier's, the
SKU is on it, the quantity is not more than was ordered); bad rows are reported with their line numbers and
the good ones applied."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dropbridge.domain.errors import DropbridgeError, NotFound, ValidationError
from dropbridge.domain.model import Supplier, SupplierOrder
from dropbridge.domain.states import SupplierOrderStatus as S
from dropbridge.services.ports import SupplierOrderItem, TrackingUpdate

from .record_shipment import record_shipment
from .records import audit
from .shipment_files import ShipmentRow, parcels, read_shipment_csv

TAKES_TRACKING = (S.PENDING, S.SUBMITTED, S.PARTIALLY_SHIPPED, S.SHIPPED, S.FAILED)


@dataclass
class ImportOutcome:
    recorded: int = 0  # new shipments
    known: int = 0  # tracking numbers already recorded
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (line, field, reason)
    shipment_ids: list[int] = field(default_factory=list)


def _supplier(uow, name: str) -> Supplier:
    supplier = uow.suppliers.by_name(name)
    if supplier is None:
        raise NotFound(f"no supplier named {name!r}")
    return supplier


def _order_of(uow, supplier: Supplier, reference: str, order_number: str) -> SupplierOrder:
    """The supplier order a row names; ValueError (field, reason) when there is none for this supplier."""
    so = uow.supplier_orders.by_key(reference) if reference else None
    if so is None and order_number:
        so = uow.supplier_orders.by_external_id(supplier.id, order_number)
    if so is None or so.supplier_id != supplier.id:
        named = reference or order_number
        raise ValueError("reference" if reference else "order_number",
                         f"no supplier order {named!r} for {supplier.name}" if named else
                         "names no order (reference or order_number)")
    if so.status not in TAKES_TRACKING:
        raise ValueError("reference", f"{so.idempotency_key} is {so.status}: it takes no tracking")
    return so


def _check_items(so: SupplierOrder, items: list[SupplierOrderItem]) -> tuple[str, str] | None:
    ordered = {}
    for sl in so.lines:
        ordered[sl.supplier_sku] = ordered.get(sl.supplier_sku, 0) + sl.quantity
    for item in items:
        if item.supplier_sku not in ordered:
            return "sku", f"{item.supplier_sku!r} is not on {so.idempotency_key} ({', '.join(sorted(ordered))})"
        if item.quantity > ordered[item.supplier_sku]:
            return "quantity", f"{item.quantity} x {item.supplier_sku} is more than the {ordered[item.supplier_sku]} " \
                               f"ordered on {so.idempotency_key}"
    return None


def import_shipments(ctx, supplier_name: str, data: bytes, source: str = "upload") -> ImportOutcome:
    """Apply a tracking CSV for one supplier. Raises ValidationError (nothing applied) when the file as a whole
    cannot be read; otherwise reports bad rows and records the rest."""
    sheet = read_shipment_csv(data)
    outcome = ImportOutcome(rejected=list(sheet.errors))
    with ctx.uow(read_only=True) as uow:
        supplier = _supplier(uow, supplier_name)
        good: list[ShipmentRow] = []
        orders: dict[int, SupplierOrder] = {}
        for row in sheet.rows:
            try:
                so = _order_of(uow, supplier, row.reference, row.order_number)
            except ValueError as exc:
                outcome.rejected.append((row.line, *exc.args))
                continue
            problem = _check_items(so, [SupplierOrderItem(row.sku, row.quantity or 1)]) if row.sku else None
            if problem:
                outcome.rejected.append((row.line, *problem))
                continue
            orders[row.line] = so
            # One spelling of the order per parcel: rows naming it by number or by reference group together.
            good.append(ShipmentRow(row.line, so.idempotency_key, "", row.carrier, row.tracking_number,
                                    row.tracking_url, row.shipped_at, row.sku, row.quantity))
    for parcel in parcels(good):
        so = orders[parcel.lines[0]]
        problem = _check_items(so, parcel.items)
        if problem:
            outcome.rejected.extend((line, *problem) for line in parcel.lines)
            continue
        update = TrackingUpdate(reference=so.idempotency_key, external_order_id=so.external_id or "",
                                carrier=parcel.carrier, tracking_number=parcel.tracking_number,
                                tracking_url=parcel.tracking_url, shipped_at=parcel.shipped_at, items=parcel.items)
        try:
            shipment_id = record_shipment(ctx, supplier.id, update)
        except DropbridgeError as exc:
            outcome.rejected.extend((line, "tracking_number", str(exc)) for line in parcel.lines)
            continue
        if shipment_id is None:
            outcome.known += 1
        else:
            outcome.recorded += 1
            outcome.shipment_ids.append(shipment_id)
    outcome.rejected.sort()
    with ctx.uow() as uow:
        audit(uow, ctx, "shipments.imported", f"supplier:{supplier_name}",
              {"source": source[:200], "recorded": outcome.recorded, "known": outcome.known,
               "rejected": len(outcome.rejected)}, supplier_id=supplier.id)
        uow.commit()
    return outcome


def add_shipment(ctx, supplier_name: str, order: str, *, carrier: str, tracking_number: str,
                 tracking_url: str | None = None, items: list[SupplierOrderItem] | None = None,
                 shipped_at: datetime | None = None) -> tuple[int | None, str]:
    """One shipment typed in or posted: `order` is our reference or the supplier's order number. Returns
    (shipment id or None when that tracking number was already recorded, the reference). Raises
    ValidationError / NotFound naming the problem; nothing is recorded then."""
    carrier, number = (carrier or "").strip(), (tracking_number or "").replace(" ", "").strip()
    if not number or len(number) > 100:
        raise ValidationError("tracking_number: 1 to 100 characters", "tracking_number")
    if not carrier or len(carrier) > 100:
        raise ValidationError("carrier: 1 to 100 characters", "carrier")
    if tracking_url and not tracking_url.startswith(("http://", "https://")):
        raise ValidationError("tracking_url: not an http(s) URL", "tracking_url")
    items = list(items or [])
    for i, item in enumerate(items):
        if not item.supplier_sku or item.quantity <= 0:
            raise ValidationError(f"lines.{i}: a sku and a positive quantity", f"lines.{i}")
    with ctx.uow(read_only=True) as uow:
        supplier = _supplier(uow, supplier_name)
        try:
            so = _order_of(uow, supplier, order if uow.supplier_orders.by_key(order) else "", order)
        except ValueError as exc:
            if exc.args[1].startswith("no supplier order"):
                raise NotFound(exc.args[1]) from None
            raise ValidationError(exc.args[1], "order") from None
        problem = _check_items(so, items)
        if problem:
            raise ValidationError(problem[1], problem[0])
        key, external = so.idempotency_key, so.external_id or ""
    shipment_id = record_shipment(ctx, supplier.id, TrackingUpdate(
        reference=key, external_order_id=external, carrier=carrier[:100], tracking_number=number,
        tracking_url=tracking_url, shipped_at=shipped_at, items=items))
    return shipment_id, key
