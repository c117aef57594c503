"""Properties of the ledger and the margin report over generated orders, on SQLite and PostgreSQL: currencies
with 0, 2 and 3 decimals, prices with and without tax, line and order discounts, supplier costs split over
two suppliers, partial refunds. Orders go in through intake; what happens to them later (routing, shipping,
refunds) is written as the services write it, straight into the ledger.

- the entries sum exactly to what the report shows, per order, per supplier and per day, totals included;
- tax collected never enters revenue, costs or margin;
- an order that has not shipped never appears as realised;
- of a partly shipped order, exactly the entries of shipped lines (and of supplier orders that shipped) are
  realised, the rest expected."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dropbridge.domain.ledger import COSTS, PASS_THROUGH, EntryKind
from dropbridge.domain.model import LedgerEntry, Order, SupplierOrder
from dropbridge.domain.money import Money
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.ingest_order import ingest_order
from dropbridge.services.margin_report import margin_summary
from dropbridge.services.ports import Address, ExternalOrder, ExternalOrderLine

CURRENCIES = ("JPY", "USD", "KWD")  # exponents 0, 2, 3
# basis -> (order status, line status)
FATES = {"realised": ("shipped", "shipped"), "expected": ("submitted", "routed"), "held": ("on_hold", "routed"),
         "unroutable": ("on_hold", "unroutable"), "cancelled": ("cancelled", "cancelled"),
         "pending": ("accepted", "pending"), "partly": ("partially_shipped", None)}
DAY0 = datetime(2025, 1, 1, 12, tzinfo=UTC)


@st.composite
def line(draw):
    qty = draw(st.integers(1, 4))
    unit = draw(st.integers(1, 50_000))
    discount = draw(st.integers(0, unit * qty // 3))
    tax = draw(st.integers(0, (unit * qty - discount) // 4))
    cost = draw(st.integers(0, unit * qty))
    return {"qty": qty, "unit": unit, "discount": discount, "tax": tax, "cost": cost,
            "supplier": draw(st.sampled_from(("acme", "globex"))), "shipped": draw(st.booleans())}


@st.composite
def sale(draw):
    lines = draw(st.lists(line(), min_size=1, max_size=4))
    shipping = draw(st.integers(0, 3000))
    return {"currency": draw(st.sampled_from(CURRENCIES)), "included": draw(st.booleans()), "lines": lines,
            "shipping": shipping, "shipping_tax": draw(st.integers(0, shipping // 5)),
            "order_discount": draw(st.integers(0, 200)), "fate": draw(st.sampled_from(sorted(FATES))),
            "refund_share": draw(st.sampled_from((0, 1, 3))),  # quarters of revenue refunded when realised
            "supplier_shipping": draw(st.integers(0, 900))}  # per supplier order, when partly shipped


@pytest.fixture
def shops(app):
    app.ctx.enqueue = lambda job_id, delay=0: None
    add_store(app.ctx, "shop", "headless", "http://127.0.0.1:9/events", {"webhook_secret": "s"},
              {"payment_fee_percent": "2.9", "payment_fee_fixed": "0.30", "platform_fee_percent": "0.5"})
    ids = {name: add_supplier(app.ctx, name, "rest", "http://127.0.0.1:9", {"api_key": "k"}) for name in
           ("acme", "globex")}
    return app, ids, itertools.count(1)


def _ingest(app, n: int, s: dict) -> int:
    cur = s["currency"]
    ext = ExternalOrder(
        external_id=f"P-{n}", currency=cur, ship_to=Address(name="J", address1="1", city="X", country_code="US"),
        shipping_price=Money(s["shipping"], cur),
        total_tax=Money(sum(ln["tax"] for ln in s["lines"]) + s["shipping_tax"], cur),
        total_discounts=Money(sum(ln["discount"] for ln in s["lines"]) + s["order_discount"], cur),
        taxes_included=s["included"],
        lines=[ExternalOrderLine(str(i), "SKU", ln["qty"], Money(ln["unit"], cur), discount=Money(ln["discount"], cur),
                                 tax=Money(ln["tax"], cur)) for i, ln in enumerate(s["lines"], start=1)])
    return ingest_order(app.ctx, "shop", ext).order_id


def _live_out(app, order_id: int, s: dict, suppliers: dict, now) -> None:
    """What routing, shipping and refunds write, as they write it."""
    status, line_status = FATES[s["fate"]]
    with app.ctx.uow() as uow:
        order = uow.get(Order, order_id)
        order.status = status
        for ln, spec in zip(order.lines, s["lines"], strict=True):
            ln.status = line_status or ("shipped" if spec["shipped"] else "routed")
            if s["fate"] not in ("pending", "unroutable"):
                uow.add(LedgerEntry(order_id=order.id, order_line_id=ln.id, store_id=order.store_id,
                                    supplier_id=suppliers[spec["supplier"]], kind=EntryKind.SUPPLIER_COST,
                                    amount_minor=-spec["cost"], currency=order.currency, memo="k", created_at=now))
        if s["fate"] == "partly":
            # One supplier order per supplier: shipped when all its lines shipped; its shipping charge is an
            # entry of the supplier order, on no line.
            for name in sorted({spec["supplier"] for spec in s["lines"]}):
                done = all(spec["shipped"] for spec in s["lines"] if spec["supplier"] == name)
                uow.add(SupplierOrder(supplier_id=suppliers[name], order_id=order.id, currency=order.currency,
                                      idempotency_key=f"{order.external_id}:{name}",
                                      status="shipped" if done else "submitted", created_at=now, updated_at=now))
                uow.add(LedgerEntry(order_id=order.id, store_id=order.store_id, supplier_id=suppliers[name],
                                    kind=EntryKind.SUPPLIER_SHIPPING, amount_minor=-s["supplier_shipping"],
                                    currency=order.currency, memo="shipping", created_at=now))
        entries = uow.ledger.for_order(order.id)
        if s["fate"] == "realised" and s["refund_share"]:
            revenue = sum(e.amount_minor for e in entries if e.kind == EntryKind.REVENUE)
            tax = sum(e.amount_minor for e in entries if e.kind == EntryKind.TAX_COLLECTED)
            for kind, amount in ((EntryKind.REFUND, revenue), (EntryKind.TAX_COLLECTED, tax)):
                if part := amount * s["refund_share"] // 4:
                    uow.add(LedgerEntry(order_id=order.id, store_id=order.store_id, kind=kind, amount_minor=-part,
                                        currency=order.currency, memo="partial refund", created_at=now))
        uow.commit()


def _basis(entry: LedgerEntry, s: dict, line_ids: list[int], suppliers: dict) -> str:
    """Where the report must put one entry, worked out from the generated sale (not from the database)."""
    if s["fate"] != "partly":
        return s["fate"]
    if entry.order_line_id is not None:
        return "realised" if s["lines"][line_ids.index(entry.order_line_id)]["shipped"] else "expected"
    if entry.supplier_id is not None:
        name = next(n for n, sid in suppliers.items() if sid == entry.supplier_id)
        lines = [spec for spec in s["lines"] if spec["supplier"] == name]
        return "realised" if lines and all(spec["shipped"] for spec in lines) else "expected"
    return "expected"


def _minor(text: str, currency: str) -> int:
    return Money.parse(text, currency).amount


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sales=st.lists(sale(), min_size=1, max_size=3))
def test_entries_sum_to_the_report_and_tax_never_is_margin(shops, sales):
    app, suppliers, counter = shops
    day = DAY0 + timedelta(days=next(counter))  # each example on its own day: the report's range isolates it
    app.ctx.clock = lambda: day
    orders = {}
    for s in sales:
        n = next(counter)
        order_id = _ingest(app, n, s)
        _live_out(app, order_id, s, suppliers, day)
        orders[f"P-{n}"] = (order_id, s)
    with app.ctx.uow(read_only=True) as uow:
        ledger = {key: uow.ledger.for_order(oid) for key, (oid, _) in orders.items()}
        line_ids = {key: sorted(ln.id for ln in uow.get(Order, oid).lines) for key, (oid, _) in orders.items()}
    basis_of = {e.id: _basis(e, orders[key][1], line_ids[key], suppliers) for key, es in ledger.items() for e in es}

    by_order = margin_summary(app.ctx, "order", day.date(), day.date())
    assert sorted({r["order"] for r in by_order["rows"]}) == sorted(orders)
    assert sorted((r["order"], r["basis"]) for r in by_order["rows"]) == sorted(
        {(key, basis_of[e.id]) for key, es in ledger.items() for e in es})
    for row in by_order["rows"]:
        _, s = orders[row["order"]]
        cur = s["currency"]
        assert row["currency"] == cur
        revenue, tax, costs = (_minor(row[c], cur) for c in ("revenue", "tax_collected", "costs"))
        entries = [e for e in ledger[row["order"]] if basis_of[e.id] == row["basis"]]
        # The entries sum exactly to the row (its basis's share of a partly shipped order), margin too.
        assert revenue + tax - costs == sum(e.amount_minor for e in entries)
        assert costs == -sum(e.amount_minor for e in entries if e.kind in COSTS)
        assert _minor(row["margin"], cur) == revenue - costs
        assert not (row["basis"] == "realised" and s["fate"] not in ("realised", "partly"))
        if s["fate"] == "partly":
            continue
        entries = ledger[row["order"]]
        # The entries sum exactly to the row, and its margin is revenue less costs.
        assert revenue + tax - costs == sum(e.amount_minor for e in entries)
        assert _minor(row["margin"], cur) == revenue - costs
        assert costs == -sum(e.amount_minor for e in entries if e.kind in COSTS)
        # Tax is exactly the tax the platform reported (less what was refunded), and none of it is revenue.
        refunded_tax = -sum(e.amount_minor for e in entries if e.kind in PASS_THROUGH and e.amount_minor < 0)
        assert tax == sum(ln["tax"] for ln in s["lines"]) + s["shipping_tax"] - refunded_tax
        charged = sum(ln["unit"] * ln["qty"] - ln["discount"] for ln in s["lines"]) - s["order_discount"] \
            + s["shipping"]
        assert revenue == charged - (sum(ln["tax"] for ln in s["lines"]) + s["shipping_tax"] if s["included"] else 0)
        # Not shipped: never realised.
        assert (row["basis"] == "realised") == (s["fate"] == "realised")

    # Totals: per basis and currency, exactly the sum of the rows.
    for total in by_order["totals"]:
        rows = [r for r in by_order["rows"] if (r["basis"], r["currency"]) == (total["basis"], total["currency"])]
        for col in ("revenue", "tax_collected", "costs", "margin"):
            assert _minor(total[col], total["currency"]) == sum(_minor(r[col], r["currency"]) for r in rows)

    # By day (and so week and month): the same sums, whichever way the rows are cut.
    for by in ("day", "month"):
        cut = margin_summary(app.ctx, by, day.date(), day.date())
        figures = ("basis", "currency", "revenue", "tax_collected", "costs")
        assert sorted(tuple(t[f] for f in figures) for t in cut["totals"]) == sorted(
            tuple(t[f] for f in figures) for t in by_order["totals"])

    # By supplier: each supplier's costs, exactly its entries; no tax and no margin in sight.
    for row in margin_summary(app.ctx, "supplier", day.date(), day.date())["rows"]:
        sid = suppliers[row["supplier"]]
        own = [e for key, entries in ledger.items() for e in entries
               if e.supplier_id == sid and basis_of[e.id] == row["basis"] and e.currency == row["currency"]]
        assert _minor(row["total_cost"], row["currency"]) == -sum(e.amount_minor for e in own)
        assert "margin" not in row and "tax_collected" not in row


def test_partly_shipped_order_realises_its_shipped_lines_only(shops):
    """acme shipped its line (and its supplier order); globex has not: acme's revenue, tax, goods and shipping
    are realised, globex's and the order's own (shipping charged, fees) expected; together, every entry."""
    app, suppliers, counter = shops
    day = DAY0 + timedelta(days=400)
    app.ctx.clock = lambda: day
    base = {"qty": 1, "discount": 0, "tax": 100}
    s = {"currency": "USD", "included": False, "shipping": 500, "shipping_tax": 0, "order_discount": 0,
         "fate": "partly", "refund_share": 0, "supplier_shipping": 300,
         "lines": [{**base, "unit": 2000, "cost": 800, "supplier": "acme", "shipped": True},
                   {**base, "unit": 1000, "cost": 300, "supplier": "globex", "shipped": False}]}
    order_id = _ingest(app, 9999, s)
    _live_out(app, order_id, s, suppliers, day)
    rows = {r["basis"]: r for r in margin_summary(app.ctx, "order", day.date(), day.date())["rows"]}
    assert set(rows) == {"realised", "expected"}
    assert (rows["realised"]["revenue"], rows["realised"]["tax_collected"], rows["realised"]["costs"]) == (
        "20.00", "1.00", "11.00")  # goods 8.00 + acme's shipping 3.00
    # 10.00 + 5.00 shipping charged; costs 3.00 + 3.00 + payment fee 2.9% of 36.00 + 0.30 + platform 0.5%
    assert (rows["expected"]["revenue"], rows["expected"]["tax_collected"]) == ("15.00", "1.00")
    with app.ctx.uow(read_only=True) as uow:
        total = sum(e.amount_minor for e in uow.ledger.for_order(order_id))
    assert sum(_minor(r["revenue"], "USD") + _minor(r["tax_collected"], "USD") - _minor(r["costs"], "USD")
               for r in rows.values()) == total
