"""A store cancels an order: supplier orders not yet shipped are cancelled (at the supplier when they
already landed there), stock is released, and the ledger records the refund and the costs we no longer
owe. Lines already shipped stay shipped; the merchant is alerted to settle those by hand."""

from __future__ import annotations

from dropbridge.domain.errors import NotFound, PermanentError
from dropbridge.domain.ledger import EntryKind
from dropbridge.domain.model import LedgerEntry, Order, Supplier, SupplierOrder
from dropbridge.domain.states import LineStatus, OrderStatus, SupplierOrderStatus, advance, can_advance
from dropbridge.services.ports import Cancellation, Capability

from .records import audit, raise_alert, schedule
from .supplier_replies import reverse_expected_costs


def cancel_order(ctx, order_id: int, reason: str = "cancelled by the store") -> str:
    with ctx.uow() as uow:
        # Locks in the order every other writer takes them (placement, replies, shipments): the order's
        # supplier orders first, by id, then the order. The other way round deadlocked on PostgreSQL against
        # a placement finishing at the same moment.
        for so in sorted(uow.supplier_orders.for_order(order_id), key=lambda so: so.id):
            uow.get_for_update(SupplierOrder, so.id)
        order: Order = uow.get_for_update(Order, order_id)
        if order is None:
            raise NotFound(f"no order {order_id}")
        if order.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
            return "already cancelled"
        now = ctx.clock()
        shipped_lines = {ln.id for ln in order.lines if ln.status == LineStatus.SHIPPED}
        for so in uow.supplier_orders.for_order(order.id):
            if so.status in (SupplierOrderStatus.PENDING, SupplierOrderStatus.FAILED):
                # Never sent (or given up on): a job that wakes up for it sees the status and does nothing.
                so.status = advance("supplier order", so.status, SupplierOrderStatus.CANCELLED)
                reverse_expected_costs(uow, so, now, "cancelled before it reached the supplier")
            elif so.status == SupplierOrderStatus.SUBMITTED:
                schedule(uow, ctx, "cancel_supplier_order", f"cancel:{so.idempotency_key}",
                         {"supplier_order_id": so.id})
            so.updated_at = now
        for line in order.lines:
            if line.id in shipped_lines:
                continue
            for res in uow.offers.held_reservations(line.id):
                res.status = "released"
                uow.offers.release(res.offer_id, res.quantity)
            line.status = LineStatus.CANCELLED
        # The customer gets back what they paid for what never shipped, and the tax on it (which then is
        # no longer owed: a tax entry the other way, never part of the refund's cost).
        refund, tax = 0, 0
        for entry in uow.ledger.for_order(order.id):
            unshipped = entry.order_line_id not in shipped_lines if entry.order_line_id else not shipped_lines
            if entry.kind in (EntryKind.REVENUE, EntryKind.SHIPPING_REVENUE, EntryKind.REFUND) and unshipped:
                refund += entry.amount_minor  # less what the store refunded already (record_refund)
            elif entry.kind == EntryKind.TAX_COLLECTED and unshipped:
                tax += entry.amount_minor
        refund, tax = max(refund, 0), max(tax, 0)
        if refund:
            uow.add(LedgerEntry(order_id=order.id, store_id=order.store_id, kind=EntryKind.REFUND,
                                amount_minor=-refund, currency=order.currency, memo=reason[:200], created_at=now))
        if tax:
            uow.add(LedgerEntry(order_id=order.id, store_id=order.store_id, kind=EntryKind.TAX_COLLECTED,
                                amount_minor=-tax, currency=order.currency, memo=f"tax refunded: {reason}"[:200],
                                created_at=now))
        if shipped_lines:
            raise_alert(uow, ctx, "order.cancel_after_shipping",
                        f"order {order.external_id} was cancelled but {len(shipped_lines)} line(s) already "
                        "shipped: arrange the return or refund by hand", order_id=order.id, store_id=order.store_id)
        if can_advance("order", order.status, OrderStatus.CANCELLED):
            order.status = OrderStatus.CANCELLED
        order.hold_reason = None
        order.updated_at = now
        audit(uow, ctx, "order.cancelled", f"order:{order.id}", {"reason": reason, "refund_minor": refund},
              store_id=order.store_id)
        uow.commit()
    return "cancelled"


def cancel_supplier_order(ctx, supplier_order_id: int, late: bool = False) -> str:
    """Ask the supplier to cancel an order it holds. A supplier that cannot (already shipped, or no
    cancel API) gets the merchant an alert instead. `late`: the order landed after we had cancelled it."""
    with ctx.uow(read_only=True) as uow:
        so = uow.get(SupplierOrder, supplier_order_id)
        supplier = uow.get(Supplier, so.supplier_id)
        wanted = SupplierOrderStatus.CANCELLED if late else SupplierOrderStatus.SUBMITTED
        if so.status != wanted or not so.external_id:
            return f"nothing to cancel ({so.status})"
    problem = None
    if not ctx.supplier_can(supplier, Capability.CANCEL):
        problem = f"{supplier.name} has no cancellation API: cancel {so.external_id} with the supplier by hand"
    else:
        desk: Cancellation = ctx.supplier_connector(supplier, Capability.CANCEL)
        try:
            desk.cancel_order(so.external_id)
        except PermanentError as exc:
            problem = f"{supplier.name} refused to cancel: {exc}"
    with ctx.uow() as uow:
        so = uow.get_for_update(SupplierOrder, supplier_order_id)
        if problem:
            raise_alert(uow, ctx, "supplier_order.cancel_failed", f"{so.idempotency_key}: {problem}",
                        severity="error", order_id=so.order_id, supplier_id=so.supplier_id,
                        dedupe_key=f"supplier_order.cancel_failed:{so.idempotency_key}")
        elif so.status == SupplierOrderStatus.SUBMITTED:
            so.status = advance("supplier order", so.status, SupplierOrderStatus.CANCELLED)
            so.updated_at = ctx.clock()
            reverse_expected_costs(uow, so, ctx.clock(), "cancelled at the supplier")
        audit(uow, ctx, "supplier_order.cancel", f"supplier_order:{so.id}", {"problem": problem},
              supplier_id=so.supplier_id)
        uow.commit()
    return problem or "cancelled"

