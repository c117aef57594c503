"""Orders sent to suppliers that confirm later (EDI, email) must not wait silently: a periodic check raises
one alert per supplier order when the supplier's system has not confirmed receipt (an EDI 997) within its
`receipt_hours`, and one when the order itself has not been acknowledged (an 855, a reply) within its
`ack_hours`. Both are keys of the supplier's config (or defaults of its kind's config model); a supplier
whose kind has neither is not checked."""

from __future__ import annotations

from datetime import timedelta

from dropbridge.domain.model import SupplierOrder
from dropbridge.domain.states import SupplierOrderStatus

from .records import audit, raise_alert

WAITING = (SupplierOrderStatus.SUBMITTED,)


def check_acknowledgement_deadlines(ctx) -> int:
    """Returns the alerts raised."""
    now = ctx.clock()
    with ctx.uow(read_only=True) as uow:
        suppliers = {s.id: s for s in uow.suppliers.all()}
        waiting = [(so.id, so.supplier_id) for so in uow.supplier_orders.awaiting_tracking(10_000)
                   if so.placement == "awaiting_ack" and so.status in WAITING]
    raised = 0
    for so_id, supplier_id in waiting:
        supplier = suppliers[supplier_id]
        receipt_hours, ack_hours = _setting(ctx, supplier, "receipt_hours"), _setting(ctx, supplier, "ack_hours")
        if receipt_hours is None and ack_hours is None:
            continue
        with ctx.uow() as uow:
            so = uow.get_for_update(SupplierOrder, so_id)
            if so.status not in WAITING or so.placement != "awaiting_ack" or so.submitted_at is None:
                continue
            late = now - so.submitted_at
            name = suppliers[supplier_id].name
            if (receipt_hours is not None and so.receipt_confirmed_at is None and so.acknowledged_at is None
                    and so.receipt_overdue_alerted_at is None and late > timedelta(hours=float(receipt_hours))):
                so.receipt_overdue_alerted_at = now
                raise_alert(uow, ctx, "supplier_order.receipt_overdue",
                            f"{so.idempotency_key}: {name} has not confirmed receipt (functional acknowledgement) "
                            f"within {receipt_hours} hours of sending; check the partner's connection",
                            order_id=so.order_id, supplier_id=supplier_id)
                audit(uow, ctx, "supplier_order.receipt_overdue", f"supplier_order:{so.id}",
                      {"key": so.idempotency_key, "hours": receipt_hours}, supplier_id=supplier_id)
                raised += 1
            if (ack_hours is not None and so.acknowledged_at is None and so.ack_overdue_alerted_at is None
                    and late > timedelta(hours=float(ack_hours))):
                so.ack_overdue_alerted_at = now
                raise_alert(uow, ctx, "supplier_order.ack_overdue",
                            f"{so.idempotency_key}: {name} has not acknowledged the order within {ack_hours} "
                            "hours of sending", order_id=so.order_id, supplier_id=supplier_id)
                audit(uow, ctx, "supplier_order.ack_overdue", f"supplier_order:{so.id}",
                      {"key": so.idempotency_key, "hours": ack_hours}, supplier_id=supplier_id)
                raised += 1
            uow.commit()
    return raised


def _setting(ctx, supplier, key: str):
    """The supplier's value for `key`, else its kind's default (from the config model's schema)."""
    config = supplier.config or {}
    if key in config:
        return config[key]
    schema = ctx.connectors.info("supplier", supplier.kind).config_schema
    return (schema.get("properties", {}).get(key) or {}).get("default")
