"""Nothing waits silently: one periodic check over supplier orders still waiting on someone, each kind of
wait with its supplier's patience. An order sent by email or EDI that the supplier has not confirmed within
its `ack_hours`, and a purchase order in the queue for a person longer than its `po_overdue_hours`, raise an
alert: one per order and condition (an open alert already saying so is not repeated)."""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

from dropbridge.services.ports import Placement

from .records import audit, raise_alert


class Patience(NamedTuple):
    config_key: str  # the supplier's config key with the hours
    default_hours: float
    alert: str
    waiting_for: str


WAITS: dict[str, Patience] = {
    Placement.AWAITING_ACK: Patience("ack_hours", 48.0, "supplier_order.unacknowledged", "the supplier to confirm it"),
    Placement.AWAITING_PERSON: Patience("po_overdue_hours", 24.0, "purchase_order.overdue",
                                        "a person to order it (`dropbridge po placed`)"),
}


def check_overdue(ctx) -> int:
    """Raise an alert for each waiting supplier order past its supplier's patience; returns how many."""
    now = ctx.clock()
    raised = 0
    with ctx.uow() as uow:
        suppliers = {s.id: s for s in uow.suppliers.all()}
        for so in uow.supplier_orders.waiting([str(p) for p in WAITS]):
            wait = WAITS[so.placement]
            supplier = suppliers[so.supplier_id]
            hours = float((supplier.config or {}).get(wait.config_key) or wait.default_hours)
            since = so.submitted_at or so.created_at
            if since is None or now - since < timedelta(hours=hours):
                continue
            if uow.alerts.open_matching(wait.alert, order_id=so.order_id, supplier_id=so.supplier_id,
                                        contains=so.idempotency_key):
                continue  # already said, and not yet resolved
            waited = (now - since).total_seconds() / 3600
            raise_alert(uow, ctx, wait.alert,
                        f"{so.idempotency_key} at {supplier.name} has waited {waited:.0f} h for {wait.waiting_for} "
                        f"(its {wait.config_key} is {hours:g})", order_id=so.order_id, supplier_id=so.supplier_id)
            audit(uow, ctx, wait.alert, f"supplier_order:{so.id}", {"key": so.idempotency_key, "hours": hours},
                  supplier_id=so.supplier_id)
            raised += 1
        uow.commit()
    return raised
