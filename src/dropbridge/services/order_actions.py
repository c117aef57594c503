"""What a merchant does with an order that needs a person: retry it, re-route it, cancel it."""

from __future__ import annotations

import uuid

from dropbridge.domain.errors import Conflict, NotFound
from dropbridge.domain.model import Order
from dropbridge.domain.states import LineStatus, OrderStatus, SupplierOrderStatus, advance

from .records import audit, schedule
from .supplier_replies import reverse_expected_costs


def retry_order(ctx, order_id: int, *, accept_low_margin: bool = False) -> list[str]:
    """Route held lines again and resend supplier orders whose jobs gave up. Returns what was done."""
    done = []
    with ctx.uow() as uow:
        order: Order = uow.get_for_update(Order, order_id)
        if order is None:
            raise NotFound(f"no order {order_id}")
        now = ctx.clock()
        if accept_low_margin:
            order.flags = {**(order.flags or {}), "accept_low_margin": True}
            done.append("margin floor waived for this order")
        for line in order.lines:
            if line.status == LineStatus.UNROUTABLE:
                line.status = LineStatus.PENDING
        if order.status == OrderStatus.ON_HOLD or any(ln.status == LineStatus.PENDING for ln in order.lines):
            schedule(uow, ctx, "route_order", f"route:{order.id}:retry:{uuid.uuid4().hex[:8]}",
                     {"order_id": order.id})
            done.append("routing again")
        for so in uow.supplier_orders.for_order(order.id):
            if so.status == SupplierOrderStatus.FAILED:
                so.status = advance("supplier order", so.status, SupplierOrderStatus.PENDING)
                so.resend_allowed = True  # the merchant's word: a supplier that cannot be asked is sent again
            if so.status == SupplierOrderStatus.PENDING:
                job_id = uow.job_admin.requeue(f"submit:{so.idempotency_key}", now)
                if job_id is not None:
                    uow.after_commit(lambda j=job_id: ctx.enqueue(j, 0))
                    done.append(f"resending {so.idempotency_key} (asks the supplier first)")
        order.updated_at = now
        audit(uow, ctx, "order.retried", f"order:{order.id}", {"actions": done}, store_id=order.store_id)
        uow.commit()
    return done or ["nothing to retry"]


def reroute_order(ctx, order_id: int, *, exclude: list[str] = ()) -> list[str]:
    """Send lines whose supplier order has not reached a supplier (or was refused) back to routing,
    optionally excluding suppliers for them. Lines already at a supplier must be cancelled there first."""
    done = []
    with ctx.uow() as uow:
        order: Order = uow.get_for_update(Order, order_id)
        if order is None:
            raise NotFound(f"no order {order_id}")
        now = ctx.clock()
        suppliers = {s.name: s.id for s in uow.suppliers.all()}
        unknown = [n for n in exclude if n not in suppliers]
        if unknown:
            raise NotFound(f"no supplier named {', '.join(unknown)}")
        excluded_ids = {suppliers[n] for n in exclude}
        open_orders = {}
        for so in uow.supplier_orders.for_order(order.id):
            for sl in so.lines:
                open_orders[sl.order_line_id] = so
        for line in order.lines:
            if line.status in (LineStatus.SHIPPED, LineStatus.CANCELLED):
                continue
            so = open_orders.get(line.id)
            at_supplier = (SupplierOrderStatus.SUBMITTED, SupplierOrderStatus.PARTIALLY_SHIPPED)
            if so is not None and so.status in at_supplier:
                raise Conflict(f"line {line.line_no} is with supplier order {so.idempotency_key} ({so.status}): "
                               "cancel it at the supplier first")
            if so is not None and so.status in (SupplierOrderStatus.PENDING, SupplierOrderStatus.FAILED):
                so.status = advance("supplier order", so.status, SupplierOrderStatus.CANCELLED)
                reverse_expected_costs(uow, so, now, "re-routed by the merchant")
            for res in uow.offers.held_reservations(line.id):
                res.status = "released"
                uow.offers.release(res.offer_id, res.quantity)
            routing = dict(line.routing or {})
            extra = {c["offer_id"] for c in routing.get("candidates", [])
                     if any(c["supplier"] == n for n in exclude)} if excluded_ids else set()
            routing["excluded"] = sorted(set(routing.get("excluded", [])) | extra)
            line.routing, line.status, line.offer_id = routing, LineStatus.PENDING, None
            done.append(f"line {line.line_no} back to routing"
                        + (f", excluding {', '.join(exclude)}" if exclude else ""))
        if done:
            schedule(uow, ctx, "route_order", f"route:{order.id}:reroute:{uuid.uuid4().hex[:8]}",
                     {"order_id": order.id})
        audit(uow, ctx, "order.rerouted", f"order:{order.id}", {"actions": done, "exclude": list(exclude)},
              store_id=order.store_id)
        uow.commit()
    return done or ["nothing to re-route"]
