"""Supplier orders that wait for our payment too long. A supplier that takes an order and then waits to be
paid (AliExpress without auto-pay, CJdropshipping without payment from balance) closes it unpaid after its
own window; the merchant is told at placement (place_supplier_order) and again, once, when the order has waited
longer than `unpaid_alert_hours` (the supplier's config, else DROPBRIDGE_UNPAID_ALERT_HOURS). Runs periodically."""

from __future__ import annotations

from datetime import timedelta

from dropbridge.domain.model import SupplierOrder
from dropbridge.services.ports import CANNOT_KNOW, Capability, PlacedOrder, Placement

from .payables import balance_charged
from .records import audit, log, raise_alert

ALERT = "supplier_order.payment_overdue"


def _window_hours(ctx, supplier) -> float:
    own = (supplier.config or {}).get("unpaid_alert_hours")
    return float(own) if own is not None else float(ctx.settings.unpaid_alert_hours)


def alert_unpaid_supplier_orders(ctx) -> int:
    """Alert once for each supplier order still awaiting payment past its supplier's window; returns how many
    alerts were raised. Where the supplier can be asked, an order it reports paid is updated instead."""
    now = ctx.clock()
    with ctx.uow(read_only=True) as uow:
        suppliers = {s.id: s for s in uow.suppliers.all()}
        shortest = min((_window_hours(ctx, s) for s in suppliers.values()), default=0.0)
        waiting = [(so.id, so.supplier_id, so.idempotency_key, so.submitted_at)
                   for so in uow.supplier_orders.awaiting_payment(now - timedelta(hours=shortest))]
    raised = 0
    for so_id, supplier_id, key, submitted_at in waiting:
        supplier = suppliers[supplier_id]
        hours = _window_hours(ctx, supplier)
        if now - submitted_at < timedelta(hours=hours):
            continue
        placement = _ask(ctx, supplier, key)
        with ctx.uow() as uow:
            so = uow.get_for_update(SupplierOrder, so_id)
            if so.status != "submitted" or so.placement != Placement.AWAITING_PAYMENT:
                continue
            if placement is not None and placement != Placement.AWAITING_PAYMENT:
                so.placement = str(placement)
                so.updated_at = now
                balance_charged(uow, so, now)
                audit(uow, ctx, "supplier_order.paid", f"supplier_order:{so.id}",
                      {"key": key, "placement": str(placement)}, supplier_id=supplier_id)
                uow.commit()
                continue
            waited = (now - submitted_at).total_seconds() / 3600
            new = uow.alerts.open_by_key(f"{ALERT}:{key}") is None
            raise_alert(uow, ctx, ALERT,
                        f"{key} at {supplier.name} ({so.external_id}) has waited {waited:.0f} h for payment "
                        f"(since {submitted_at:%Y-%m-%d %H:%M} UTC): pay it in your {supplier.name} account, or "
                        f"{supplier.name} closes it unpaid", severity="error", order_id=so.order_id,
                        supplier_id=supplier_id, dedupe_key=f"{ALERT}:{key}")
            uow.commit()
            raised += new  # the same condition again only counts an occurrence
    return raised


def _ask(ctx, supplier, key: str) -> Placement | None:
    """What the supplier says of the order now, where it can be asked (None: it cannot, or did not say)."""
    if not ctx.supplier_can(supplier, Capability.ORDERS):
        return None
    try:
        found = ctx.supplier_connector(supplier, Capability.ORDERS).find_order(key)
    except Exception as exc:  # noqa: BLE001 - the record stands; the alert still goes out
        log.warning("payment check could not ask the supplier", supplier_order=key, error=str(exc))
        return None
    if found is CANNOT_KNOW or not isinstance(found, PlacedOrder):
        return None
    return found.placement
