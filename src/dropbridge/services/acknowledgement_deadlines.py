"""Orders sent to suppliers whose systems confirm receipt first (EDI: a 997 for our 850) must not wait
silently: a periodic check raises one alert per supplier order when receipt was not confirmed within the
supplier's `receipt_hours` (its config, or its kind's default). Acknowledgement of the order itself (an 855, a
reply) within `ack_hours` is checked with the other supplier-order deadlines in services/alert_checks.py."""

from __future__ import annotations

from datetime import timedelta

from dropbridge.domain.model import SupplierOrder
from dropbridge.domain.states import SupplierOrderStatus

from .connections import supplier_setting
from .records import audit, raise_alert


def check_acknowledgement_deadlines(ctx) -> int:
    """Returns the alerts raised."""
    now = ctx.clock()
    with ctx.uow(read_only=True) as uow:
        suppliers = {s.id: s for s in uow.suppliers.all()}
        waiting = [(so.id, so.supplier_id) for so in uow.supplier_orders.awaiting_tracking(10_000)
                   if so.placement == "awaiting_ack" and so.status == SupplierOrderStatus.SUBMITTED
                   and so.receipt_confirmed_at is None and so.acknowledged_at is None
                   and so.receipt_overdue_alerted_at is None]
    raised = 0
    for so_id, supplier_id in waiting:
        supplier = suppliers[supplier_id]
        receipt_hours = supplier_setting(ctx, supplier, "receipt_hours")
        if receipt_hours is None:
            continue
        with ctx.uow() as uow:
            so = uow.get_for_update(SupplierOrder, so_id)
            if (so.status != SupplierOrderStatus.SUBMITTED or so.placement != "awaiting_ack"
                    or so.submitted_at is None or so.receipt_confirmed_at is not None
                    or so.acknowledged_at is not None or so.receipt_overdue_alerted_at is not None
                    or now - so.submitted_at <= timedelta(hours=float(receipt_hours))):
                continue
            so.receipt_overdue_alerted_at = now
            raise_alert(uow, ctx, "supplier_order.receipt_overdue",
                        f"{so.idempotency_key}: {supplier.name} has not confirmed receipt (functional acknowledgement) "
                        f"within {receipt_hours} hours of sending; check the partner's connection",
                        order_id=so.order_id, supplier_id=supplier_id,
                        dedupe_key=f"supplier_order.receipt_overdue:{so.idempotency_key}")
            audit(uow, ctx, "supplier_order.receipt_overdue", f"supplier_order:{so.id}",
                  {"key": so.idempotency_key, "hours": receipt_hours}, supplier_id=supplier_id)
            raised += 1
            uow.commit()
    return raised
