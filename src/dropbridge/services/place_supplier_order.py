"""Send a supplier order exactly once.

The order row and its key were written with the routing decision. Before any repeat attempt we ask the
supplier whether the earlier one landed (`find_order(key)`), because a timeout or a crash after the
request left tells us nothing. Retryable failures propagate to the job runner (backoff, Retry-After);
a rejection (out of stock, refused) releases the stock and re-routes the lines to the next offer."""

from __future__ import annotations

from dropbridge.domain.errors import PermanentError
from dropbridge.domain.ledger import EntryKind
from dropbridge.domain.model import LedgerEntry, Order, Supplier, SupplierOrder
from dropbridge.domain.states import LineStatus, OrderStatus, SupplierOrderStatus, advance
from dropbridge.services.ports import Address, SupplierOrderItem, SupplierOrderRequest

from .records import audit, raise_alert, schedule


def place_supplier_order(ctx, supplier_order_id: int, attempt: int = 1) -> str:
    with ctx.uow(read_only=True) as uow:
        so: SupplierOrder = uow.get(SupplierOrder, supplier_order_id)
        if so is None or so.status != SupplierOrderStatus.PENDING:
            return "already handled"
        supplier = uow.get(Supplier, so.supplier_id)
        order = uow.get(Order, so.order_id)
        request = SupplierOrderRequest(
            reference=so.idempotency_key,
            ship_to=Address(**{k: v for k, v in order.ship_to.items() if k in Address.__dataclass_fields__}),
            items=[SupplierOrderItem(ln.supplier_sku, ln.quantity) for ln in so.lines],
            email=order.email,
        )
        first_try = attempt <= 1 and so.last_error is None
    connector = ctx.supplier_connector(supplier)

    placed = None if first_try else connector.find_order(so.idempotency_key)
    found_earlier = placed is not None
    if placed is None:
        try:
            placed = connector.place_order(request)
        except PermanentError as exc:
            _reject(ctx, supplier_order_id, str(exc))
            return "rejected"
        except Exception as exc:
            _note_error(ctx, supplier_order_id, exc)
            raise

    with ctx.uow() as uow:
        so = uow.get_for_update(SupplierOrder, supplier_order_id)
        if so.status == SupplierOrderStatus.CANCELLED and not so.external_id:
            # The store cancelled while our request was in flight: the supplier holds an order we no
            # longer want. Remember its id and ask the supplier to cancel it.
            so.external_id = placed.external_id
            schedule(uow, ctx, "cancel_supplier_order", f"cancel:{so.idempotency_key}:late",
                     {"supplier_order_id": so.id, "late": True})
            uow.commit()
            return "landed after cancellation: cancelling at the supplier"
        if so.status != SupplierOrderStatus.PENDING:
            return "already handled"
        now = ctx.clock()
        so.status = advance("supplier order", so.status, SupplierOrderStatus.SUBMITTED)
        so.external_id = placed.external_id
        so.submitted_at = now
        so.updated_at = now
        so.last_error = None
        order = uow.get_for_update(Order, so.order_id)
        _maybe_mark_submitted(uow, order, now)
        audit(uow, ctx, "supplier_order.submitted", f"supplier_order:{so.id}",
              {"key": so.idempotency_key, "external_id": placed.external_id, "found_earlier": found_earlier},
              supplier_id=so.supplier_id, store_id=order.store_id)
        uow.commit()
    return "found earlier attempt" if found_earlier else "submitted"


def _maybe_mark_submitted(uow, order: Order, now) -> None:
    sos = uow.supplier_orders.for_order(order.id)
    live = [s for s in sos if s.status not in (SupplierOrderStatus.REJECTED, SupplierOrderStatus.CANCELLED)]
    lines_done = all(ln.status != LineStatus.PENDING for ln in order.lines)
    if (order.status == OrderStatus.ROUTED and lines_done
            and all(s.status != SupplierOrderStatus.PENDING for s in live)):
        order.status = advance("order", order.status, OrderStatus.SUBMITTED)
        order.updated_at = now


def _note_error(ctx, supplier_order_id: int, exc: Exception) -> None:
    """Remember that an attempt was made, so the next one looks the order up first."""
    with ctx.uow() as uow:
        so = uow.get(SupplierOrder, supplier_order_id)
        so.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        so.updated_at = ctx.clock()
        uow.commit()


def _reject(ctx, supplier_order_id: int, reason: str) -> None:
    """The supplier refused: release stock, reverse the expected costs, send the lines back to routing
    with this supplier's offers excluded."""
    with ctx.uow() as uow:
        so = uow.get_for_update(SupplierOrder, supplier_order_id)
        if so.status != SupplierOrderStatus.PENDING:
            return
        now = ctx.clock()
        so.status = advance("supplier order", so.status, SupplierOrderStatus.REJECTED)
        so.last_error = reason[:1000]
        so.updated_at = now
        order = uow.get_for_update(Order, so.order_id)
        lines = {ln.id: ln for ln in order.lines}
        for so_line in so.lines:
            line = lines[so_line.order_line_id]
            for res in uow.offers.held_reservations(line.id):
                res.status = "released"
                uow.offers.release(res.offer_id, res.quantity)
            routing = dict(line.routing or {})
            routing["excluded"] = sorted(set(routing.get("excluded", [])) | {line.offer_id})
            routing["rejected_by"] = [*routing.get("rejected_by", []), {"key": so.idempotency_key,
                                                                         "reason": reason[:300]}]
            line.routing = routing
            line.status = LineStatus.PENDING
            line.offer_id = None
        reverse_expected_costs(uow, so, now, "rejected")
        raise_alert(uow, ctx, "supplier_order.rejected",
                    f"supplier order {so.idempotency_key} rejected: {reason[:200]}; re-routing",
                    order_id=order.id, supplier_id=so.supplier_id,
                    dedupe_key=f"supplier_order.rejected:{so.idempotency_key}")
        audit(uow, ctx, "supplier_order.rejected", f"supplier_order:{so.id}", {"reason": reason[:300]},
              supplier_id=so.supplier_id, store_id=order.store_id)
        schedule(uow, ctx, "route_order", f"route:{order.id}:after:{so.id}", {"order_id": order.id})
        uow.commit()


def reverse_expected_costs(uow, so: SupplierOrder, now, why: str) -> None:
    """Append entries that cancel the costs recorded for a supplier order we will not pay (append-only:
    the originals stay, so the ledger shows what was expected and why it no longer is)."""
    for entry in uow.ledger.for_order(so.order_id):
        if entry.supplier_id == so.supplier_id and entry.memo.startswith(so.idempotency_key) \
                and entry.kind in (EntryKind.SUPPLIER_COST, EntryKind.SUPPLIER_SHIPPING):
            uow.add(LedgerEntry(order_id=entry.order_id, order_line_id=entry.order_line_id, store_id=entry.store_id,
                                supplier_id=entry.supplier_id, kind=entry.kind, amount_minor=-entry.amount_minor,
                                currency=entry.currency, memo=f"reversal of {entry.memo}: {why}", created_at=now))
