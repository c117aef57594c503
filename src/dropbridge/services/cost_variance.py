"""The supplier's own figure against ours: when a supplier states what an order costs (on acceptance, or
later by webhook), the difference from the costs recorded at routing goes into the ledger as its own entry
(`cost_variance`), so drift shows per order and per supplier. A later statement appends only the change."""

from __future__ import annotations

from decimal import Decimal

from dropbridge.domain.ledger import EntryKind
from dropbridge.domain.model import LedgerEntry, Order, SupplierOrder
from dropbridge.domain.money import Money

ESTIMATED = {EntryKind.SUPPLIER_COST: "goods", EntryKind.SUPPLIER_SHIPPING: "shipping"}


def record_cost_variance(uow, so: SupplierOrder, order: Order, now) -> Money | None:
    """Append the change in (stated - estimated) since the last statement; the entry written, or None (no
    statement, no change, or no rate to bring the supplier's currency to the order's)."""
    if so.stated_cost_minor is None or not so.stated_currency:
        return None
    rate = _rate(order, so.stated_currency)
    if rate is None:
        return None
    stated = Money(so.stated_cost_minor, so.stated_currency)
    if so.stated_shipping_minor is not None:
        stated = stated + Money(so.stated_shipping_minor, so.stated_currency)
    stated_here = Money.from_decimal_rounded(stated.to_decimal() * rate, order.currency)
    estimate, variance_so_far = 0, 0
    for entry in uow.ledger.for_order(order.id):
        if not belongs_to(entry, so):
            continue
        if entry.kind == EntryKind.SUPPLIER_COST or (
                entry.kind == EntryKind.SUPPLIER_SHIPPING and so.stated_shipping_minor is not None):
            estimate -= entry.amount_minor  # costs are recorded negative; reversals positive
        elif entry.kind == EntryKind.COST_VARIANCE:
            variance_so_far += entry.amount_minor
    # Recorded like a cost: negative when the supplier charges more than we expected.
    change = -(stated_here.amount - estimate) - variance_so_far
    if not change:
        return None
    what = "goods and shipping" if so.stated_shipping_minor is not None else "goods"
    entry = LedgerEntry(order_id=order.id, store_id=order.store_id, supplier_id=so.supplier_id,
                        kind=EntryKind.COST_VARIANCE, amount_minor=change, currency=order.currency,
                        memo=f"{so.idempotency_key}: supplier states {stated} for {what}, "
                             f"estimated {Money(estimate, order.currency)}"[:500], created_at=now)
    uow.add(entry)
    return entry.amount


def belongs_to(entry: LedgerEntry, so: SupplierOrder) -> bool:
    """An entry written for this supplier order: its memo is the key, or starts with it and a colon (db-1-2-1
    is not db-1-2-10)."""
    return entry.supplier_id == so.supplier_id and (
        entry.memo == so.idempotency_key or entry.memo.startswith(so.idempotency_key + ":"))


def _rate(order: Order, currency: str) -> Decimal | None:
    if currency == order.currency:
        return Decimal(1)
    noted = (order.fx or {}).get(f"{currency}->{order.currency}")
    return Decimal(noted["rate"]) if noted and noted.get("rate") else None
