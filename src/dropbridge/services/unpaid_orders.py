"""Orders a supplier took but holds until it is paid (placement `awaiting_payment`: CJdropshipping without
payment from balance, AliExpress past its payment window). The merchant is alerted when one is placed; this
periodic check asks the supplier again once the order has waited `unpaid_alert_hours` (supplier config,
default 24): paid meanwhile, it is marked accepted; still unpaid, the merchant is alerted again, once."""

from __future__ import annotations

from datetime import timedelta

from dropbridge.domain.model import Supplier, SupplierOrder
from dropbridge.services.ports import CANNOT_KNOW, Capability, OrderDesk, Placement

from .records import audit, log, raise_alert

DEFAULT_ALERT_HOURS = 24.0


def check_unpaid_orders(ctx, limit: int = 200) -> dict[str, int]:
    """Returns {"paid": n, "alerted": n} for this pass; one supplier's failure does not stop the others."""
    now = ctx.clock()
    with ctx.uow(read_only=True) as uow:
        waiting = uow.supplier_orders.awaiting_payment(limit)
        suppliers = {s.id: s for s in uow.suppliers.all()}
    out = {"paid": 0, "alerted": 0}
    for so in waiting:
        supplier: Supplier = suppliers[so.supplier_id]
        hours = float((supplier.config or {}).get("unpaid_alert_hours") or DEFAULT_ALERT_HOURS)
        if so.submitted_at is None or now - so.submitted_at < timedelta(hours=hours):
            continue
        placed = None
        if ctx.supplier_can(supplier, Capability.ORDERS):
            try:
                desk: OrderDesk = ctx.supplier_connector(supplier, Capability.ORDERS)
                placed = desk.find_order(so.idempotency_key)
            except Exception as exc:  # noqa: BLE001 - asked again on the next pass; the alert still goes out
                log.warning("unpaid check: supplier not reachable", supplier=supplier.name, error=str(exc))
        paid = placed is not None and placed is not CANNOT_KNOW and placed.placement != Placement.AWAITING_PAYMENT
        out["paid" if paid else "alerted"] += _settle(ctx, so.id, supplier, paid, hours)
    return out


def _settle(ctx, supplier_order_id: int, supplier: Supplier, paid: bool, hours: float) -> int:
    with ctx.uow() as uow:
        so = uow.get_for_update(SupplierOrder, supplier_order_id)
        if so.placement != Placement.AWAITING_PAYMENT or so.payment_alerted_at is not None:
            return 0  # another pass (or a webhook) got here first
        now = ctx.clock()
        if paid:
            so.placement = str(Placement.ACCEPTED)
            audit(uow, ctx, "supplier_order.paid", f"supplier_order:{so.id}", {"key": so.idempotency_key},
                  supplier_id=so.supplier_id)
        else:
            so.payment_alerted_at = now
            raise_alert(uow, ctx, "supplier_order.unpaid",
                        f"{so.idempotency_key} ({so.external_id}) still waits for payment at {supplier.name} after "
                        f"{hours:g} h: pay it there, or cancel it", severity="error", order_id=so.order_id,
                        supplier_id=so.supplier_id)
        so.updated_at = now
        uow.commit()
        return 1
