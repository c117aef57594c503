"""Ledger: append-only money movements per order line; margin is always derived from them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from .errors import CurrencyError
from .money import Money


class EntryKind(StrEnum):
    REVENUE = "revenue"  # what the customer paid for the line, net of discounts and tax (+)
    SHIPPING_REVENUE = "shipping_revenue"  # what the customer paid for shipping, net of tax (+)
    TAX_COLLECTED = "tax_collected"  # tax collected on the merchant's behalf, owed onward (+); never revenue
    SUPPLIER_COST = "supplier_cost"  # item cost charged by the supplier (-)
    SUPPLIER_SHIPPING = "supplier_shipping"  # shipping charged by the supplier (-)
    SUPPLIER_FEE = "supplier_fee"  # a supplier's per-order or handling fee (-)
    COST_VARIANCE = "cost_variance"  # the supplier's stated cost minus our estimate at routing (- costs more)
    PAYMENT_FEE = "payment_fee"  # card/payment processor (-)
    PLATFORM_FEE = "platform_fee"  # the store platform's transaction fee (-)
    COMMISSION = "commission"  # a marketplace's or agent's commission (-)
    FX_DIFFERENCE = "fx_difference"
    REFUND = "refund"  # money returned to the customer for goods and shipping (-)
    SUPPLIER_REFUND = "supplier_refund"  # money the supplier returned to us (+)


COSTS = {
    EntryKind.SUPPLIER_COST,
    EntryKind.SUPPLIER_SHIPPING,
    EntryKind.SUPPLIER_FEE,
    EntryKind.COST_VARIANCE,
    EntryKind.PAYMENT_FEE,
    EntryKind.PLATFORM_FEE,
    EntryKind.COMMISSION,
    EntryKind.REFUND,
}
# Money that passes through the merchant's hands to someone else: neither revenue nor cost.
PASS_THROUGH = {EntryKind.TAX_COLLECTED}


def signed(kind: EntryKind, amount: Money) -> Money:
    """Costs are recorded negative, income positive, whatever sign the caller passed."""
    magnitude = Money(abs(amount.amount), amount.currency)
    return -magnitude if kind in COSTS else magnitude


def margin(entries: Iterable[tuple[str, Money]], currency: str) -> dict[str, Money]:
    """Sum (kind, signed amount) pairs: per-kind totals plus `revenue_total`, `cost_total`, `margin` and
    `tax_total` (tax collected, kept out of revenue and margin)."""
    by_kind: dict[str, Money] = {}
    revenue = Money.zero(currency)
    cost = Money.zero(currency)
    tax = Money.zero(currency)
    for kind, amount in entries:
        if amount.currency != currency:
            raise CurrencyError(f"ledger entry in {amount.currency} on a {currency} order")
        by_kind[kind] = by_kind.get(kind, Money.zero(currency)) + amount
        # By kind, not sign: a reversal of a cost (positive supplier_cost) lowers costs.
        if kind in PASS_THROUGH:
            tax = tax + amount
        elif kind in COSTS:
            cost = cost - amount
        else:
            revenue = revenue + amount
    return {**by_kind, "revenue_total": revenue, "cost_total": cost, "margin": revenue - cost, "tax_total": tax}


# -- what a sale puts in the ledger at intake ------------------------------------------------------


@dataclass(frozen=True)
class SaleLine:
    """One order line as the platform reports it: `gross` is unit price x quantity as the store priced it
    (tax included when the order's prices include tax), `discount` what the platform allocated to it."""

    line_no: int
    gross: Money
    discount: Money | None = None
    tax: Money | None = None


@dataclass(frozen=True)
class FeeTerms:
    """percent of a base plus a fixed amount (gateway terms, a platform's transaction fee, a commission)."""

    percent: Decimal
    fixed: Money

    def of(self, base: Money) -> Money:
        return base.percent(self.percent) + self.fixed if (self.percent or self.fixed.amount) else Money.zero(
            base.currency)

    def describe(self) -> str:
        return f"{self.percent}% + {self.fixed}"


@dataclass(frozen=True)
class SaleEntry:
    kind: EntryKind
    amount: Money  # signed as recorded
    line_no: int | None  # None: the order as a whole
    memo: str = ""


def allocate(amount: int, weights: list[int]) -> list[int]:
    """Split `amount` minor units over `weights` in proportion, exactly (largest remainder, earlier first)."""
    total = sum(weights)
    if not weights:
        return []
    if total <= 0:
        return [amount] + [0] * (len(weights) - 1)
    shares = [amount * w // total for w in weights]
    rest = amount - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in order[:rest]:
        shares[i] += 1
    return shares


def sale_entries(lines: list[SaleLine], currency: str, *, shipping: Money | None = None,
                 order_tax: Money | None = None, order_discount: Money | None = None,
                 taxes_included: bool = False, payment: FeeTerms | None = None,
                 platform: FeeTerms | None = None, commission: FeeTerms | None = None,
                 memos: dict[int, str] | None = None) -> list[SaleEntry]:
    """Revenue, tax and the store's fees of one sale, per line where the platform says per line.

    Discounts: each line's own, as the platform allocated it; an order discount beyond those is spread over
    the lines in proportion to what they cost the customer. Tax: each line's own; the order's tax beyond
    the lines' (shipping tax, mostly) is recorded on the order, and where prices include tax it comes out
    of the shipping price first, then out of the lines. Fees: payment and platform fees on what the
    customer was charged (tax included: gateways charge on the whole amount), commission on net revenue."""
    zero = Money.zero(currency)
    net = [ln.gross - (ln.discount or zero) for ln in lines]
    extra_discount = (order_discount or zero).amount - sum((ln.discount or zero).amount for ln in lines)
    if extra_discount > 0:
        for i, share in enumerate(allocate(extra_discount, [max(n.amount, 0) for n in net])):
            net[i] = net[i] - Money(share, currency)
    line_tax = [(ln.tax or zero).amount for ln in lines]
    ship = shipping or zero
    extra_tax = max((order_tax or zero).amount - sum(line_tax), 0)
    ship_tax = extra_tax
    if taxes_included and extra_tax:
        ship_tax = min(extra_tax, max(ship.amount, 0))
        for i, share in enumerate(allocate(extra_tax - ship_tax, [max(n.amount - t, 0)
                                                                    for n, t in zip(net, line_tax, strict=True)])):
            line_tax[i] += share
    entries: list[SaleEntry] = []

    def add(kind: EntryKind, amount: int, line_no=None, memo=""):
        if amount:
            entries.append(SaleEntry(kind, signed(kind, Money(amount, currency)) if kind in COSTS
                                     else Money(amount, currency), line_no, memo))

    revenue = 0
    for ln, n, tax in zip(lines, net, line_tax, strict=True):
        memo = (memos or {}).get(ln.line_no, "")
        line_revenue = n.amount - tax if taxes_included else n.amount
        add(EntryKind.REVENUE, line_revenue, ln.line_no, memo)
        add(EntryKind.TAX_COLLECTED, tax, ln.line_no, f"tax on {memo}" if memo else "tax")
        revenue += line_revenue
    ship_revenue = ship.amount - ship_tax if taxes_included else ship.amount
    add(EntryKind.SHIPPING_REVENUE, ship_revenue, memo="shipping charged to the customer")
    add(EntryKind.TAX_COLLECTED, ship_tax, memo="tax on shipping and the order")
    revenue += ship_revenue
    charged = Money(revenue + sum(line_tax) + ship_tax, currency)
    for kind, terms, base in ((EntryKind.PAYMENT_FEE, payment, charged),
                              (EntryKind.PLATFORM_FEE, platform, charged),
                              (EntryKind.COMMISSION, commission, Money(revenue, currency))):
        if terms is not None:
            add(kind, terms.of(base).amount, memo=terms.describe())
    return entries
