"""The sale's side of the ledger as pure values: tax apart from revenue, discounts as allocated, fees."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from dropbridge.domain.ledger import EntryKind, FeeTerms, SaleLine, allocate, margin, sale_entries
from dropbridge.domain.money import Money


def _sums(entries):
    out = {}
    for e in entries:
        out[(e.kind.value, e.line_no)] = out.get((e.kind.value, e.line_no), 0) + e.amount.amount
    return out


def test_tax_exclusive_lines_and_shipping_tax_from_the_order():
    usd = lambda a: Money(a, "USD")  # noqa: E731
    entries = sale_entries([SaleLine(1, usd(4800), usd(500), usd(344)), SaleLine(2, usd(1000), None, usd(80))],
                           "USD", shipping=usd(500), order_tax=usd(464), payment=FeeTerms(Decimal("2.9"), usd(30)))
    assert _sums(entries) == {("revenue", 1): 4300, ("tax_collected", 1): 344, ("revenue", 2): 1000,
                              ("tax_collected", 2): 80, ("shipping_revenue", None): 500,
                              ("tax_collected", None): 40,  # 4.64 order tax - 4.24 on the lines: shipping's
                              ("payment_fee", None): -(round(6264 * 0.029) + 30)}


def test_tax_inclusive_yen_takes_tax_out_of_prices_and_shipping():
    jpy = lambda a: Money(a, "JPY")  # noqa: E731
    # 1,100 yen with 10% consumption tax inside, shipping 550 with 50 inside (only the order says so).
    entries = sale_entries([SaleLine(1, jpy(1100), None, jpy(100))], "JPY", shipping=jpy(550),
                           order_tax=jpy(150), taxes_included=True)
    assert _sums(entries) == {("revenue", 1): 1000, ("tax_collected", 1): 100, ("shipping_revenue", None): 500,
                              ("tax_collected", None): 50}
    t = margin([(e.kind, e.amount) for e in entries], "JPY")
    assert (t["revenue_total"], t["tax_total"], t["margin"]) == (jpy(1500), jpy(150), jpy(1500))


def test_an_order_discount_beyond_the_lines_is_spread_by_what_each_line_costs():
    kwd = lambda a: Money(a, "KWD")  # noqa: E731
    entries = sale_entries([SaleLine(1, kwd(3000)), SaleLine(2, kwd(1000), kwd(100))], "KWD",
                           order_discount=kwd(1001), commission=FeeTerms(Decimal(10), kwd(0)))
    # 901 beyond line 2's own 100, over 3000 : 900 -> 693 and 208 (largest remainder first)
    assert _sums(entries) == {("revenue", 1): 2307, ("revenue", 2): 692, ("commission", None): -300}


@given(st.integers(-10**9, 10**9), st.lists(st.integers(0, 10**6), min_size=1, max_size=8))
def test_allocation_is_exact(amount, weights):
    shares = allocate(amount, weights)
    assert sum(shares) == amount and len(shares) == len(weights)


def test_tax_is_neither_revenue_nor_cost():
    t = margin([(EntryKind.REVENUE, Money(1000, "EUR")), (EntryKind.TAX_COLLECTED, Money(200, "EUR")),
                (EntryKind.TAX_COLLECTED, Money(-200, "EUR")), (EntryKind.REFUND, Money(-1000, "EUR"))], "EUR")
    assert (t["revenue_total"].amount, t["cost_total"].amount, t["margin"].amount, t["tax_total"].amount) == (
        1000, 1000, 0, 0)
