"""Tracking from a supplier (webhook, poll, EDI 856, CSV) becomes a Shipment, once, and a job that
pushes the fulfillment to the store, which notifies the customer."""

from __future__ import annotations

from datetime import timedelta

from dropbridge.domain.errors import NotFound, ValidationError
from dropbridge.domain.model import Order, Shipment, Store, Supplier, SupplierOrder
from dropbridge.domain.states import LineStatus, OrderStatus, SupplierOrderStatus, advance, can_advance
from dropbridge.domain.tracking import carrier_for_platform, check_tracking
from dropbridge.services.ports import Capability, Fulfillment, FulfillmentLine, TrackingSource, TrackingUpdate

from .records import audit, log, raise_alert, schedule, schedule_delivery


def record_shipment(ctx, supplier_id: int, update: TrackingUpdate) -> int | None:
    """Returns the shipment id, or None when this tracking number was already recorded.

    The number is checked before anything reaches the customer (domain/tracking.py): the carrier is told from
    the number where it can be, the URL built when the supplier gave none; a number whose check digit is
    wrong is recorded but held (no fulfillment pushed) with an alert."""
    check = check_tracking(update.tracking_number, update.carrier)
    number = check.number or update.tracking_number
    carrier = (check.carrier or update.carrier or "")[:100]
    url = update.tracking_url or check.url
    with ctx.uow() as uow:
        so = uow.supplier_orders.by_key(update.reference) if update.reference else None
        if so is None and update.external_order_id:
            so = uow.supplier_orders.by_external_id(supplier_id, update.external_order_id)
        if so is None or so.supplier_id != supplier_id:
            raise NotFound(f"no supplier order {update.reference or update.external_order_id} for this supplier")
        so = uow.get_for_update(SupplierOrder, so.id)
        if uow.shipments.find(so.id, number):
            return None
        now = ctx.clock()
        by_sku = {ln.supplier_sku: ln for ln in so.lines}
        if update.items:
            lines = [{"order_line_id": by_sku[i.supplier_sku].order_line_id, "quantity": i.quantity}
                     for i in update.items if i.supplier_sku in by_sku]
        else:
            lines = [{"order_line_id": ln.order_line_id, "quantity": ln.quantity} for ln in so.lines]
        shipment = uow.add(Shipment(supplier_order_id=so.id, carrier=carrier, tracking_number=number,
                                    tracking_url=url, lines=lines, shipped_at=update.shipped_at or now,
                                    created_at=now, hold_reason=None if check.valid else check.reason[:500]))
        if so.status in (SupplierOrderStatus.PENDING, SupplierOrderStatus.FAILED):
            # Tracking for an order we never saw confirmed (or could not tell had arrived): it evidently landed.
            so.status = advance("supplier order", so.status, SupplierOrderStatus.SUBMITTED)
            so.external_id = so.external_id or update.external_order_id or None
            so.submitted_at = so.submitted_at or now
        uow.flush()
        shipped_qty = _shipped_quantities(uow, so)
        whole = all(shipped_qty.get(ln.order_line_id, 0) >= ln.quantity for ln in so.lines)
        target = SupplierOrderStatus.SHIPPED if whole else SupplierOrderStatus.PARTIALLY_SHIPPED
        if so.status != target:  # a further number for a shipped order (a correction) changes nothing here
            so.status = advance("supplier order", so.status, target)
            if target == SupplierOrderStatus.SHIPPED:
                # The supplier's measured lead time may have moved: windows are pushed again once an hour at
                # most (the job of this hour runs at its end, after every shipment of the hour).
                hour = now.replace(minute=0, second=0, microsecond=0)
                schedule_delivery(uow, ctx, f"lead:{supplier_id}:{hour:%Y%m%d%H}",
                                  delay=(hour + timedelta(hours=1) - now).total_seconds() + 1)
            if target == SupplierOrderStatus.SHIPPED and _states_invoices(ctx, uow.get(Supplier, supplier_id)):
                # A supplier whose API states what it bills (Printful's costs, CJ's order amounts): ask once
                # shipped, and reconcile what it says like any invoice.
                schedule(uow, ctx, "fetch_invoice", f"fetch_invoice:{so.id}", {"supplier_order_id": so.id})
        so.updated_at = now

        order = uow.get_for_update(Order, so.order_id)
        for line in order.lines:
            if line.status == LineStatus.ROUTED and shipped_qty.get(line.id, 0) >= line.quantity:
                line.status = LineStatus.SHIPPED
        live = [ln for ln in order.lines if ln.status != LineStatus.CANCELLED]
        target = OrderStatus.SHIPPED if all(ln.status == LineStatus.SHIPPED for ln in live) \
            else OrderStatus.PARTIALLY_SHIPPED
        if order.status != target and can_advance("order", order.status, target):
            order.status = target
        order.updated_at = now
        uow.flush()
        if check.valid:
            schedule(uow, ctx, "push_fulfillment", f"fulfill:{shipment.id}", {"shipment_id": shipment.id})
        else:
            raise_alert(uow, ctx, "shipment.tracking_invalid",
                        f"{so.idempotency_key}: tracking number held, not sent to the store: {check.reason}; "
                        "ask the supplier for the right number", severity="error", order_id=order.id,
                        supplier_id=supplier_id)
        audit(uow, ctx, "shipment.recorded", f"shipment:{shipment.id}",
              {"supplier_order": so.idempotency_key, "carrier": carrier, "tracking_number": number,
               "held": None if check.valid else check.reason}, supplier_id=supplier_id, store_id=order.store_id)
        uow.commit()
        return shipment.id


def _states_invoices(ctx, supplier) -> bool:
    try:
        return ctx.supplier_can(supplier, Capability.INVOICES)
    except ValidationError:  # a kind no longer registered: its invoices come as files, if at all
        return False


def _shipped_quantities(uow, so) -> dict[int, int]:
    """Units shipped per order line across every shipment of this supplier order (the new one included)."""
    totals: dict[int, int] = {}
    for shipment in uow.shipments.for_order(so.order_id):
        if shipment.supplier_order_id == so.id:
            for ln in shipment.lines:
                totals[ln["order_line_id"]] = totals.get(ln["order_line_id"], 0) + ln["quantity"]
    return totals


def push_fulfillment(ctx, shipment_id: int) -> str:
    with ctx.uow(read_only=True) as uow:
        shipment = uow.get(Shipment, shipment_id)
        if shipment is None:
            raise NotFound(f"no shipment {shipment_id}")
        if shipment.pushed_at is not None:
            return "already pushed"
        if shipment.hold_reason:
            return f"held: {shipment.hold_reason}"
        so = uow.get(SupplierOrder, shipment.supplier_order_id)
        order = uow.get(Order, so.order_id)
        store = uow.get(Store, order.store_id)
        line_ids = {ln.id: ln.external_id for ln in order.lines}
        fulfillment = Fulfillment(
            order_external_id=order.external_id,
            carrier=carrier_for_platform(store.platform, shipment.carrier),
            tracking_number=shipment.tracking_number,
            tracking_url=shipment.tracking_url,
            lines=[FulfillmentLine(line_ids[ln["order_line_id"]], ln["quantity"]) for ln in shipment.lines],
        )
    external_id = ctx.store_connector(store).push_fulfillment(fulfillment, f"db-fulfillment-{shipment_id}")
    with ctx.uow() as uow:
        shipment = uow.get_for_update(Shipment, shipment_id)
        shipment.pushed_at = ctx.clock()
        audit(uow, ctx, "fulfillment.pushed", f"shipment:{shipment_id}",
              {"store_fulfillment_id": external_id, "tracking_number": shipment.tracking_number},
              store_id=store.id)
        uow.commit()
    return "pushed"


def poll_tracking(ctx, limit: int = 200) -> int:
    """Ask suppliers about orders still waiting for tracking; returns shipments recorded."""
    with ctx.uow(read_only=True) as uow:
        waiting = [(so.id, so.supplier_id, so.external_id, so.idempotency_key)
                   for so in uow.supplier_orders.awaiting_tracking(limit)]
        suppliers = {s.id: s for s in uow.suppliers.all()}
    recorded = 0
    for _, supplier_id, external_id, key in waiting:
        supplier = suppliers[supplier_id]
        if not ctx.supplier_can(supplier, Capability.TRACKING):
            continue  # its shipments arrive by event, file, email or a person
        try:
            source: TrackingSource = ctx.supplier_connector(supplier, Capability.TRACKING)
            updates = source.fetch_tracking(external_id, key)
            for update in updates:
                if record_shipment(ctx, supplier_id, update) is not None:
                    recorded += 1
        except Exception as exc:  # one supplier's failure must not stop the others
            log.warning("tracking poll failed", supplier_order=key, error=str(exc))
    return recorded

