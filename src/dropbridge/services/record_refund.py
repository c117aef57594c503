"""A store refunds (part of) an order: the ledger records what went back to the customer, per line where the
platform names the line, shipping apart, and the tax refunded as tax no longer owed (a negative
tax_collected entry, never part of the refund's cost). Nothing changes on the supplier side: the goods were
bought and may have shipped; a return or a supplier credit is its own matter.

Each platform refund is recorded once, whichever way it arrives (its own webhook, an order update that
lists it, the periodic pull): its entries carry the refund id, looked for under the order's row lock."""

from __future__ import annotations

from dropbridge.domain.errors import ValidationError
from dropbridge.domain.ledger import EntryKind
from dropbridge.domain.model import LedgerEntry, Order
from dropbridge.domain.money import Money
from dropbridge.domain.states import OrderStatus
from dropbridge.services.ports import ExternalRefund

from .records import audit


def refund_tag(external_id: str) -> str:
    return f"[refund {external_id}]"


def record_refund(ctx, store, refund: ExternalRefund) -> str:
    """Returns "refund recorded", "refund already recorded" or "refund for an order we do not know"."""
    with ctx.uow(read_only=True) as uow:
        known = uow.orders.by_external_id(store.id, refund.order_external_id)
    if known is None:
        return "refund for an order we do not know"
    tag = refund_tag(refund.external_id)
    with ctx.uow() as uow:
        order: Order = uow.get_for_update(Order, known.id)
        if order.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
            # The cancellation already gave back everything unshipped (cancel_order): not twice.
            return "refund on a cancelled order: recorded by the cancellation"
        if any(e.memo.startswith(tag) for e in uow.ledger.for_order(order.id)):
            return "refund already recorded"
        if refund.currency.upper() != order.currency:
            raise ValidationError(f"refund {refund.external_id} is in {refund.currency}, order "
                                  f"{order.external_id} in {order.currency}", "currency")
        included = (refund.taxes_included if refund.taxes_included is not None
                    else bool((store.config or {}).get("taxes_included")))
        now = ctx.clock()
        lines = {ln.external_id: ln for ln in order.lines if ln.external_id}
        entries: list[LedgerEntry] = []

        def add(kind: EntryKind, minor: int, line_id: int | None, memo: str) -> None:
            if minor:
                entries.append(LedgerEntry(order_id=order.id, order_line_id=line_id, store_id=order.store_id,
                                           kind=kind, amount_minor=-abs(minor), currency=order.currency,
                                           memo=f"{tag} {memo}"[:500], created_at=now))

        def part(amount: Money | None, tax: Money | None, line_id: int | None, what: str) -> int:
            gross = abs(amount.amount) if amount is not None else 0
            tax_minor = abs(tax.amount) if tax is not None else 0
            net = gross - tax_minor if included else gross
            add(EntryKind.REFUND, net, line_id, what + (f" {refund.reason}" if refund.reason else ""))
            add(EntryKind.TAX_COLLECTED, tax_minor, line_id, f"tax refunded on {what}")
            return net

        total = 0
        for rl in refund.lines:
            line = lines.get(rl.line_external_id)
            what = f"{rl.quantity} x {line.sku}" if line else f"line {rl.line_external_id} (not on our order)"
            total += part(rl.amount, rl.tax, line.id if line else None, what)
        total += part(refund.shipping, refund.shipping_tax, None, "shipping")
        total += part(refund.other, refund.other_tax, None, "order")
        if not entries:
            return "refund of nothing"
        for e in entries:
            uow.add(e)
        order.updated_at = now
        audit(uow, ctx, "order.refunded", f"order:{order.id}",
              {"refund": refund.external_id, "refund_minor": total, "reason": refund.reason},
              store_id=order.store_id)
        uow.commit()
    return "refund recorded"
