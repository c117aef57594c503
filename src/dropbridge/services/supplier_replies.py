"""What suppliers tell us after an order was sent: it was acknowledged (all lines, or some rejected or back-
ordered), it failed, what it will cost, what it is billed. Each arrives as a fact from any channel (API
webhook, EDI 855/997/810, an email reply) and is applied here, idempotently."""

from __future__ import annotations

from dropbridge.domain.errors import NotFound
from dropbridge.domain.ledger import EntryKind
from dropbridge.domain.model import LedgerEntry, Order, SupplierOrder
from dropbridge.domain.states import LineStatus, SupplierOrderStatus, advance
from dropbridge.services.ports import CostReported, OrderAcknowledged, OrderFailed, ReceiptConfirmed
from dropbridge.services.ports import SupplierInvoice as InvoiceFact

from .cost_variance import belongs_to, record_cost_variance
from .payables import release_placement
from .reconcile_invoice import store_invoice
from .records import audit, raise_alert, schedule

CLOSED = (SupplierOrderStatus.REJECTED, SupplierOrderStatus.CANCELLED, SupplierOrderStatus.FAILED)


def _locked_order(uow, supplier_id: int, reference: str, external_id: str = "") -> SupplierOrder:
    so = uow.supplier_orders.by_key(reference) if reference else None
    if so is None and external_id:
        so = uow.supplier_orders.by_external_id(supplier_id, external_id)
    if so is None or so.supplier_id != supplier_id:
        raise NotFound(f"no supplier order {reference or external_id} for this supplier")
    return uow.get_for_update(SupplierOrder, so.id)


def acknowledge_supplier_order(ctx, supplier_id: int, fact: OrderAcknowledged) -> str:
    """The supplier took the order. Rejected lines go back to routing with this offer excluded, as an API
    refusal does; backordered lines stay with the supplier and the merchant is told."""
    with ctx.uow() as uow:
        so = _locked_order(uow, supplier_id, fact.reference, fact.external_id)
        if so.status in CLOSED:
            return f"acknowledgement of {so.idempotency_key} ignored: it is {so.status}"
        now = ctx.clock()
        if so.status == SupplierOrderStatus.PENDING:  # acknowledged before our own attempt was recorded
            so.status = advance("supplier order", so.status, SupplierOrderStatus.SUBMITTED)
            so.submitted_at = now
        first = so.acknowledged_at is None
        so.external_id = so.external_id or fact.external_id or None
        so.acknowledged_at = so.acknowledged_at or now
        so.placement = "accepted"
        so.updated_at = now
        if fact.cost is not None:
            so.stated_cost_minor, so.stated_currency = fact.cost.amount, fact.cost.currency
        order = uow.get_for_update(Order, so.order_id)
        rejected = _matching_lines(so, [d for d in fact.lines if d.status == "rejected"])
        backordered = [d for d in fact.lines if d.status == "backordered"]
        outcome = "acknowledged"
        if rejected:
            reason = "; ".join(sorted({d.reason for d in fact.lines if d.status == "rejected" and d.reason})) \
                or "rejected by the supplier"
            return_lines_to_routing(uow, ctx, order, so, rejected, reason)
            outcome = f"acknowledged; {len(rejected)} line(s) rejected and re-routed"
        if fact.cost is not None and so.status != SupplierOrderStatus.REJECTED:
            uow.flush()  # the reversals of rejected lines first: the stated cost is for the lines kept
            record_cost_variance(uow, so, order, now)
        if backordered and first:
            raise_alert(uow, ctx, "supplier_order.backordered",
                        f"{so.idempotency_key}: backordered at the supplier: "
                        + ", ".join(f"{d.supplier_sku} x{d.quantity}" for d in backordered),
                        order_id=order.id, supplier_id=supplier_id)
        audit(uow, ctx, "supplier_order.acknowledged", f"supplier_order:{so.id}",
              {"key": so.idempotency_key, "rejected": [sl.supplier_sku for sl in rejected],
               "backordered": [d.supplier_sku for d in backordered]}, supplier_id=supplier_id, store_id=order.store_id)
        uow.commit()
    return outcome


def _matching_lines(so: SupplierOrder, decisions) -> list:
    """The supplier-order lines a list of line decisions names (by our line ref, else by SKU)."""
    out = []
    for decision in decisions:
        for sl in so.lines:
            named = str(sl.order_line_id) == decision.line_ref if decision.line_ref else \
                sl.supplier_sku == decision.supplier_sku
            if named and sl not in out:
                out.append(sl)
                break
    return out


def return_lines_to_routing(uow, ctx, order: Order, so: SupplierOrder, so_lines: list, reason: str) -> None:
    """Lines the supplier will not ship: release their stock, reverse the costs we expected for them, send
    them back to routing with this offer excluded. All of an order's lines: the supplier order is rejected;
    some: those lines leave it (the rest ship as acknowledged)."""
    now = ctx.clock()
    lines = {ln.id: ln for ln in order.lines}
    for so_line in so_lines:
        line = lines[so_line.order_line_id]
        for res in uow.offers.held_reservations(line.id):
            res.status = "released"
            uow.offers.release(res.offer_id, res.quantity)
        routing = dict(line.routing or {})
        routing["excluded"] = sorted(set(routing.get("excluded", [])) | {line.offer_id})
        routing["rejected_by"] = [*routing.get("rejected_by", []), {"key": so.idempotency_key,
                                                                     "reason": reason[:300]}]
        line.routing, line.status, line.offer_id = routing, LineStatus.PENDING, None
    # Kept apart: partly refused lines leave the supplier order, and the vendor report counts them.
    uow.vendors.add_refusals([{"supplier_order_id": so.id, "supplier_id": so.supplier_id,
                               "order_line_id": sl.order_line_id, "supplier_sku": sl.supplier_sku,
                               "quantity": sl.quantity, "reason": reason[:300], "created_at": now}
                              for sl in so_lines])
    whole = len(so_lines) == len(so.lines)
    partial = None if whole else {sl.order_line_id for sl in so_lines}
    reverse_expected_costs(uow, so, now, "rejected", only_lines=partial)
    if whole:
        so.status = advance("supplier order", so.status, SupplierOrderStatus.REJECTED)
        so.last_error = reason[:1000]
    else:
        for so_line in so_lines:
            so.lines.remove(so_line)
    so.updated_at = now
    raise_alert(uow, ctx, "supplier_order.rejected",
                f"supplier order {so.idempotency_key} rejected{'' if whole else f' {len(so_lines)} line(s)'}: "
                f"{reason[:200]}; re-routing", order_id=order.id, supplier_id=so.supplier_id,
                dedupe_key=f"supplier_order.rejected:{so.idempotency_key}:{len(so.lines)}")
    key = f"route:{order.id}:after:{so.id}" + ("" if whole else ":lines:" + ",".join(
        str(sl.order_line_id) for sl in so_lines))
    schedule(uow, ctx, "route_order", key, {"order_id": order.id})


# What a supplier order costs beyond its goods; reversed with the whole order, never line by line.
ORDER_CHARGES = {EntryKind.SUPPLIER_SHIPPING, EntryKind.SUPPLIER_FEE, EntryKind.COMMISSION, EntryKind.COST_VARIANCE}


def reverse_expected_costs(uow, so: SupplierOrder, now, why: str, only_lines: set[int] | None = None) -> None:
    """Append entries that cancel the costs recorded for a supplier order (or some of its lines) we will not
    pay (append-only: the originals stay, so the ledger shows what was expected and why it no longer is)."""
    release_placement(uow, so, now, why, only_lines)
    for entry in uow.ledger.for_order(so.order_id):
        if not belongs_to(entry, so):
            continue
        wanted = (entry.kind == EntryKind.SUPPLIER_COST and (only_lines is None or entry.order_line_id in only_lines)) \
            or (entry.kind in ORDER_CHARGES and only_lines is None)
        if not wanted:
            continue
        uow.add(LedgerEntry(order_id=entry.order_id, order_line_id=entry.order_line_id, store_id=entry.store_id,
                            supplier_id=entry.supplier_id, kind=entry.kind, amount_minor=-entry.amount_minor,
                            currency=entry.currency, memo=f"reversal of {entry.memo}: {why}", created_at=now))


def confirm_receipt(ctx, supplier_id: int, fact: ReceiptConfirmed) -> str:
    """The supplier's system has what we sent (an EDI 997): the receipt deadline no longer applies."""
    with ctx.uow() as uow:
        so = _locked_order(uow, supplier_id, fact.reference, fact.external_id)
        if so.receipt_confirmed_at is not None:
            return f"receipt of {so.idempotency_key} already confirmed"
        so.receipt_confirmed_at = ctx.clock()
        so.updated_at = so.receipt_confirmed_at
        audit(uow, ctx, "supplier_order.receipt_confirmed", f"supplier_order:{so.id}",
              {"key": so.idempotency_key, "document": fact.document}, supplier_id=supplier_id)
        uow.commit()
    return f"receipt of {so.idempotency_key} confirmed"


def fail_supplier_order(ctx, supplier_id: int, fact: OrderFailed) -> str:
    """The supplier will not fulfil it (its order failed, a 997 rejected our 850): a person decides next."""
    with ctx.uow() as uow:
        so = _locked_order(uow, supplier_id, fact.reference, fact.external_id)
        if so.status in CLOSED or so.status in (SupplierOrderStatus.SHIPPED, SupplierOrderStatus.DELIVERED):
            return f"failure of {so.idempotency_key} ignored: it is {so.status}"
        so.status = advance("supplier order", so.status, SupplierOrderStatus.FAILED)
        so.last_error = fact.reason[:1000]
        so.external_id = so.external_id or fact.external_id or None
        so.updated_at = ctx.clock()
        raise_alert(uow, ctx, "supplier_order.failed", f"{so.idempotency_key} failed at the supplier: "
                    f"{fact.reason[:300]}; `orders retry` or `orders reroute` it", severity="error",
                    order_id=so.order_id, supplier_id=supplier_id)
        audit(uow, ctx, "supplier_order.failed", f"supplier_order:{so.id}", {"reason": fact.reason[:300]},
              supplier_id=supplier_id)
        uow.commit()
    return "supplier order failed"


def record_supplier_cost(ctx, supplier_id: int, fact: CostReported) -> str:
    """What the supplier now says the order costs (e.g. computed after placement), kept beside our estimate."""
    with ctx.uow() as uow:
        so = _locked_order(uow, supplier_id, fact.reference, fact.external_id)
        so.stated_cost_minor, so.stated_currency = fact.cost.amount, fact.cost.currency
        if fact.shipping_cost is not None and fact.shipping_cost.currency == fact.cost.currency:
            so.stated_shipping_minor = fact.shipping_cost.amount
        so.updated_at = ctx.clock()
        record_cost_variance(uow, so, uow.get(Order, so.order_id), so.updated_at)
        audit(uow, ctx, "supplier_order.cost_stated", f"supplier_order:{so.id}",
              {"cost": str(fact.cost), "shipping": str(fact.shipping_cost) if fact.shipping_cost else None},
              supplier_id=supplier_id)
        uow.commit()
    return f"cost {fact.cost} recorded"


def record_invoice(ctx, supplier_id: int, invoice: InvoiceFact, source: str) -> str:
    """Store a supplier's invoice once (by its number) and owe its reconciliation against orders and shipments
    (services/reconcile_invoice.py, a job); a repeat changes nothing."""
    with ctx.uow() as uow:
        stored, new = store_invoice(uow, ctx, supplier_id, invoice, source)
        if not new:
            return f"invoice {invoice.number} already stored"
        schedule(uow, ctx, "reconcile_invoice", f"reconcile:{stored.id}:0",
                 {"supplier_id": supplier_id, "invoice_id": stored.id, "round": 0})
        uow.commit()
    return f"invoice {invoice.number} stored; reconciliation scheduled"
