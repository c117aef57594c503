"""The merchant says a supplier's shipment arrived wrong: a wrong item, an item missing, or damaged. Stored
against the supplier's newest shipment on the order and audited; the vendor report counts these."""

from __future__ import annotations

from dropbridge.domain.errors import NotFound, ValidationError
from dropbridge.domain.model import Order

from .records import audit

DEFECT_KINDS = ("wrong_item", "missing_item", "damaged")
NOTE_MAX = 1000


def report_defect(ctx, order_id: int, supplier_name: str, kind: str, note: str = "") -> dict:
    """The defect stored: {"id", "order_id", "supplier", "shipment_id", "kind"}."""
    if kind not in DEFECT_KINDS:
        raise ValidationError(f"kind is one of {', '.join(DEFECT_KINDS)}", "kind")
    if len(note) > NOTE_MAX:
        raise ValidationError(f"the note is longer than {NOTE_MAX} characters", "note")
    with ctx.uow() as uow:
        order = uow.get(Order, order_id)
        if order is None:
            raise NotFound(f"no order {order_id}")
        supplier = uow.suppliers.by_name(supplier_name)
        if supplier is None:
            raise NotFound(f"no supplier named {supplier_name!r}")
        shipment_id = uow.vendors.latest_shipment(order.id, supplier.id)
        if shipment_id is None:
            raise ValidationError(f"{supplier_name} has shipped nothing on order {order_id}: a defect is "
                                  "reported against a shipment", "order_id")
        now = ctx.clock()
        defect_id = uow.vendors.add_defect(order_id=order.id, supplier_id=supplier.id, shipment_id=shipment_id,
                                           kind=kind, note=note, reported_by=ctx.actor[:100], reported_at=now)
        audit(uow, ctx, "shipment.defect_reported", f"shipment:{shipment_id}",
              {"order_id": order.id, "kind": kind, "note": note[:200], "defect_id": defect_id},
              store_id=order.store_id, supplier_id=supplier.id)
        uow.commit()
    return {"id": defect_id, "order_id": order.id, "supplier": supplier_name, "shipment_id": shipment_id,
            "kind": kind}
