"""Ledger: append-only money movements per order line; margin is always derived from them."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from .errors import CurrencyError
from .money import Money


class EntryKind(StrEnum):
    REVENUE = "revenue"  # what the customer paid for the line (+)
    SHIPPING_REVENUE = "shipping_revenue"  # what the customer paid for shipping (+)
    SUPPLIER_COST = "supplier_cost"  # item cost charged by the supplier (-)
    SUPPLIER_SHIPPING = "supplier_shipping"  # shipping charged by the supplier (-)
    PAYMENT_FEE = "payment_fee"  # card/payment processor (-)
    PLATFORM_FEE = "platform_fee"  # store platform commission (-)
    COMMISSION = "commission"
    FX_DIFFERENCE = "fx_difference"
    REFUND = "refund"  # money returned to the customer (-)
    SUPPLIER_REFUND = "supplier_refund"  # money the supplier returned to us (+)


COSTS = {
    EntryKind.SUPPLIER_COST,
    EntryKind.SUPPLIER_SHIPPING,
    EntryKind.PAYMENT_FEE,
    EntryKind.PLATFORM_FEE,
    EntryKind.COMMISSION,
    EntryKind.REFUND,
}


def signed(kind: EntryKind, amount: Money) -> Money:
    """Costs are recorded negative, income positive, whatever sign the caller passed."""
    magnitude = Money(abs(amount.amount), amount.currency)
    return -magnitude if kind in COSTS else magnitude


def margin(entries: Iterable[tuple[str, Money]], currency: str) -> dict[str, Money]:
    """Sum (kind, signed amount) pairs: per-kind totals plus `revenue_total`, `cost_total`, `margin`."""
    by_kind: dict[str, Money] = {}
    revenue = Money.zero(currency)
    cost = Money.zero(currency)
    for kind, amount in entries:
        if amount.currency != currency:
            raise CurrencyError(f"ledger entry in {amount.currency} on a {currency} order")
        by_kind[kind] = by_kind.get(kind, Money.zero(currency)) + amount
        # By kind, not sign: a reversal of a cost (positive supplier_cost) lowers costs.
        if kind in COSTS:
            cost = cost - amount
        else:
            revenue = revenue + amount
    return {**by_kind, "revenue_total": revenue, "cost_total": cost, "margin": revenue - cost}
