"""Route an order's pending lines to supplier offers, reserve stock atomically, and write the supplier
orders with their idempotency keys and the jobs that send them, all in one transaction."""

from __future__ import annotations

from collections import defaultdict

from dropbridge.domain.ledger import EntryKind, signed
from dropbridge.domain.model import LedgerEntry, Order, Reservation, SupplierOrder, SupplierOrderLine
from dropbridge.domain.money import Money
from dropbridge.domain.routing import Candidate, route_line
from dropbridge.domain.states import LineStatus, OrderStatus, advance

from .records import audit, raise_alert, schedule

ROUTABLE = {OrderStatus.ACCEPTED, OrderStatus.ON_HOLD, OrderStatus.ROUTED, OrderStatus.SUBMITTED,
            OrderStatus.PARTIALLY_SHIPPED}


def supplier_terms(supplier, currency: str) -> tuple[int, Money]:
    """(stock buffer, shipping per supplier order) from the supplier's configuration."""
    cfg = supplier.config or {}
    shipping = Money.parse(str(cfg.get("shipping_per_order", "0")), cfg.get("currency", currency))
    return int(cfg.get("buffer", 0)), shipping


def route_order(ctx, order_id: int) -> str:
    with ctx.uow() as uow:
        order: Order = uow.get_for_update(Order, order_id)
        if order is None or order.status not in ROUTABLE:
            return "nothing to route"
        pending = [ln for ln in order.lines if ln.status == LineStatus.PENDING]
        if not pending:
            return "nothing to route"

        chosen: dict[int, list] = defaultdict(list)  # supplier id -> [(line, offer)]
        suppliers = {}
        unroutable = []
        for line in pending:
            if line.variant_id is None:
                variant = uow.catalog.variant_by_sku(line.sku)
                line.variant_id = variant.id if variant else None
            previous = line.routing or {}
            excluded = frozenset(previous.get("excluded", []))
            decision, offer, supplier = _decide_and_reserve(uow, order, line, excluded)
            line.routing = {**decision.as_dict(), "excluded": sorted(excluded),
                            "attempt": previous.get("attempt", 0) + 1}
            if offer is None:
                line.status = LineStatus.UNROUTABLE
                line.offer_id = None
                unroutable.append(line)
                continue
            uow.add(Reservation(offer_id=offer.id, order_line_id=line.id, quantity=line.quantity,
                                created_at=ctx.clock()))
            line.status = LineStatus.ROUTED
            line.offer_id = offer.id
            chosen[supplier.id].append((line, offer))
            suppliers[supplier.id] = supplier

        for supplier_id, items in chosen.items():
            _write_supplier_order(ctx, uow, order, suppliers[supplier_id], items)

        if unroutable:
            order.status = advance("order", order.status, OrderStatus.ON_HOLD)
            for line in unroutable:
                raise_alert(uow, ctx, "order.unroutable",
                            f"order {order.external_id} line {line.line_no} ({line.sku} x{line.quantity}): "
                            f"{line.routing['reason']}", severity="error", order_id=order.id,
                            store_id=order.store_id)
        elif order.status != OrderStatus.ROUTED and all(ln.status != LineStatus.PENDING for ln in order.lines):
            order.status = advance("order", order.status, OrderStatus.ROUTED)
        order.updated_at = ctx.clock()
        audit(uow, ctx, "order.routed", f"order:{order.id}",
              {"lines": {ln.line_no: (ln.routing or {}).get("reason") for ln in pending},
               "unroutable": [ln.line_no for ln in unroutable]}, store_id=order.store_id)
        uow.commit()
        return "routed" if not unroutable else "on hold"


def _decide_and_reserve(uow, order, line, excluded):
    """Pure decision, then an atomic reservation; if another order took the stock in between, decide
    again with fresh numbers (bounded: each retry sees strictly less stock)."""
    for _ in range(5):
        rows = uow.offers.candidates(line.variant_id) if line.variant_id else []
        candidates, by_offer = [], {}
        for offer, supplier in rows:
            buffer, shipping = supplier_terms(supplier, order.currency)
            candidates.append(Candidate(
                offer_id=offer.id, supplier_id=supplier.id, supplier=supplier.name,
                supplier_sku=offer.supplier_sku, unit_cost=offer.cost, shipping=shipping, stock=offer.stock,
                reserved=offer.reserved, buffer=buffer, lead_time_days=offer.lead_time_days))
            by_offer[offer.id] = (offer, supplier, buffer)
        decision = route_line(line.quantity, order.currency, candidates, excluded=excluded)
        if decision.offer_id is None:
            return decision, None, None
        offer, supplier, buffer = by_offer[decision.offer_id]
        if uow.offers.try_reserve(offer.id, line.quantity, buffer):
            uow.refresh(offer)
            return decision, offer, supplier
        uow.session.expire_all()
    return decision, None, None


def _write_supplier_order(ctx, uow, order, supplier, items) -> SupplierOrder:
    now = ctx.clock()
    seq = uow.supplier_orders.count_for(order.id, supplier.id) + 1
    key = f"db-{order.id}-{supplier.id}-{seq}"  # derived from our ids: the supplier's external reference
    _, shipping = supplier_terms(supplier, order.currency)
    so = SupplierOrder(supplier_id=supplier.id, order_id=order.id, idempotency_key=key,
                       currency=order.currency, shipping_cost_minor=shipping.amount, created_at=now,
                       updated_at=now)
    for line, offer in items:
        so.lines.append(SupplierOrderLine(order_line_id=line.id, supplier_sku=offer.supplier_sku,
                                          quantity=line.quantity, unit_cost_minor=offer.cost_minor,
                                          currency=offer.currency))
    uow.add(so)
    uow.flush()
    # What we expect to pay, recorded at order time; invoices are reconciled against these.
    for line, offer in items:
        cost = offer.cost * line.quantity
        uow.add(LedgerEntry(order_id=order.id, order_line_id=line.id, store_id=order.store_id,
                            supplier_id=supplier.id, kind=EntryKind.SUPPLIER_COST,
                            amount_minor=signed(EntryKind.SUPPLIER_COST, cost).amount, currency=cost.currency,
                            memo=f"{so.idempotency_key}: {line.quantity} x {offer.supplier_sku}", created_at=now))
    if shipping.amount:
        uow.add(LedgerEntry(order_id=order.id, store_id=order.store_id, supplier_id=supplier.id,
                            kind=EntryKind.SUPPLIER_SHIPPING,
                            amount_minor=signed(EntryKind.SUPPLIER_SHIPPING, shipping).amount,
                            currency=shipping.currency, memo=so.idempotency_key, created_at=now))
    schedule(uow, ctx, "submit_supplier_order", f"submit:{key}", {"supplier_order_id": so.id})
    return so
