from dropbridge.domain.ledger import EntryKind, margin, signed
from dropbridge.domain.money import Money


def test_costs_are_negative_and_margin_adds_up():
    usd = lambda s: Money.parse(s, "USD")  # noqa: E731
    entries = [
        (EntryKind.REVENUE, signed(EntryKind.REVENUE, usd("48.00"))),
        (EntryKind.SHIPPING_REVENUE, signed(EntryKind.SHIPPING_REVENUE, usd("5.00"))),
        (EntryKind.SUPPLIER_COST, signed(EntryKind.SUPPLIER_COST, usd("17.00"))),
        (EntryKind.SUPPLIER_SHIPPING, signed(EntryKind.SUPPLIER_SHIPPING, usd("4.00"))),
        (EntryKind.PAYMENT_FEE, signed(EntryKind.PAYMENT_FEE, usd("1.84"))),
    ]
    t = margin(entries, "USD")
    assert t["revenue_total"] == usd("53.00")
    assert t["cost_total"] == usd("22.84")
    assert t["margin"] == usd("30.16")


def test_a_reversed_cost_cancels_out():
    cost = Money(-1700, "USD")
    t = margin([(EntryKind.REVENUE, Money(4800, "USD")), (EntryKind.SUPPLIER_COST, cost),
                (EntryKind.SUPPLIER_COST, -cost)], "USD")
    assert (t["revenue_total"], t["cost_total"], t["margin"]) == (Money(4800, "USD"), Money(0, "USD"),
                                                                 Money(4800, "USD"))
